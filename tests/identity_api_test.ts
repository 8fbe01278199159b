/**
 * The Identitätsdatenabruf (`POST /v1/identity-queries`, docs/api.md §3.4) end to end over real
 * sockets: Lotse routes the query to the demo Registermodernisierungsbehörde like any evidence,
 * the Vermittlungsstelle decides, the protocol records it under the IDNr found, so the person's
 * Datenschutzcockpit lists it.
 */
import assert from "node:assert/strict";
import { bearer, startTestLotse, type TestLotse } from "./_app.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";
import { DEMO_PEOPLE } from "../demo/population.ts";
import { waitFor } from "./_wait.ts";

const { purpose, legalBasis } = DEMO_PURPOSES.identitaet;
const CONSUMER = "stuttgart-bewohnerparken";

async function ask(
  lotse: TestLotse,
  query: unknown,
  options: { client?: string; headers?: Record<string, string>; raw?: string } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const token = await lotse.token(options.client ?? CONSUMER);
  const res = await lotse.fetch("/v1/identity-queries", {
    method: "POST",
    headers: bearer(token, {
      "content-type": "application/json",
      "lotse-purpose": purpose,
      "lotse-legal-basis": legalBasis,
      ...options.headers,
    }),
    body: options.raw ?? JSON.stringify(query),
  });
  const type = res.headers.get("content-type") ?? "";
  const body = await res.json();
  if (res.status !== 200) assert.match(type, /application\/problem\+json/);
  return { status: res.status, body, headers: res.headers };
}

async function record(lotse: TestLotse, transferId: string, client = CONSUMER) {
  const token = await lotse.token(client);
  return await waitFor(async () => {
    const res = await lotse.fetch(`/v1/transfers/${transferId}`, { headers: bearer(token) });
    const body = await res.json();
    return res.status === 200 && body.outcome !== "in-flight" ? body : null;
  }, "the transfer's outcome");
}

async function protocolOf(lotse: TestLotse, idnr: string) {
  const dsc = await lotse.token("dsc-cockpit");
  const res = await lotse.fetch(`/v1/protocol?idnr=${idnr}`, { headers: bearer(dsc) });
  assert.equal(res.status, 200);
  return (await res.json()).records as Record<string, unknown>[];
}

const jurgen = DEMO_PEOPLE.juergen;

Deno.test({
  name: "identity queries find one person, refuse none, several, bad input and no permission",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lotse = await startTestLotse();
    try {
      await t.step("found: the IDNr and Basisdaten, recorded under the IDNr found", async () => {
        const { status, body, headers } = await ask(lotse, {
          familyName: "Weiß",
          givenNames: "Jürgen",
          dateOfBirth: "1984-07-12",
        });
        assert.equal(status, 200);
        assert.equal(body.idnr, jurgen.idnr);
        assert.deepEqual(body.basisdaten, jurgen.basisdaten);
        const transferId = headers.get("lotse-transfer-id")!;
        const rec = await record(lotse, transferId);
        assert.equal(rec.evidenceType, "identitaetsdaten");
        assert.equal(rec.providerId, "bzst-registermodernisierung");
        assert.equal(rec.outcome, "delivered");
        assert.equal(rec.idnrUsed, false, "the consumer sent no IDNr");
        // The person's cockpit finds the query, though the consumer did not know the IDNr.
        const records = await waitFor(async () => {
          const all = await protocolOf(lotse, jurgen.idnr);
          return all.some((r) => r.transferId === transferId) ? all : null;
        }, "the query in the person's protocol");
        const mine = records.find((r) => r.transferId === transferId)!;
        assert.equal(mine.consumer, CONSUMER);
        assert.equal(mine.purpose, purpose);
        assert.equal(mine.legalBasis, legalBasis);
        assert.equal(mine.outcome, "delivered");
      });

      await t.step("found with diacritics in another normalisation form (NFD)", async () => {
        const zoe = DEMO_PEOPLE.zoe.basisdaten;
        const { status, body } = await ask(lotse, {
          familyName: zoe.familyName.normalize("NFD"),
          givenNames: zoe.givenNames.normalize("NFD"),
          dateOfBirth: zoe.dateOfBirth,
        });
        assert.equal(status, 200);
        assert.equal(body.idnr, DEMO_PEOPLE.zoe.idnr);
      });

      await t.step("found with the IDNr given: the decision records it as used", async () => {
        const { status, body, headers } = await ask(lotse, {
          familyName: "Weiß",
          givenNames: "Jürgen",
          dateOfBirth: "1984-07-12",
          idnr: jurgen.idnr,
        });
        assert.equal(status, 200);
        assert.equal(body.idnr, jurgen.idnr);
        const rec = await record(lotse, headers.get("lotse-transfer-id")!);
        assert.equal(rec.idnrUsed, true);
      });

      await t.step("404 when no person matches", async () => {
        const { status, body } = await ask(lotse, {
          familyName: "Niemand",
          givenNames: "Keiner",
          dateOfBirth: "1950-05-05",
        });
        assert.equal(status, 404);
        assert.match(String(body.type), /\/not-found$/);
      });

      await t.step("409 for name twins, 200 once the place of birth decides", async () => {
        const twins = { familyName: "Schmidt", givenNames: "Anna", dateOfBirth: "1990-01-01" };
        const { status, body } = await ask(lotse, twins);
        assert.equal(status, 409);
        assert.match(String(body.type), /\/conflict$/);
        const decided = await ask(lotse, { ...twins, placeOfBirth: "Köln" });
        assert.equal(decided.status, 200);
        assert.equal(decided.body.idnr, DEMO_PEOPLE.annaKoeln.idnr);
        const byAddress = await ask(lotse, { ...twins, address: { postalCode: "10115" } });
        assert.equal(byAddress.body.idnr, DEMO_PEOPLE.annaBerlin.idnr);
      });

      await t.step("400 problems for invalid input, before anything is asked", async () => {
        const good = { familyName: "Weiß", givenNames: "Jürgen", dateOfBirth: "1984-07-12" };
        const cases: [string, unknown][] = [
          ["digit in a name", { ...good, givenNames: "Jürgen 2" }],
          ["a name outside DIN 91379", { ...good, familyName: "李" }],
          ["markup in a name", { ...good, familyName: "<b>Weiß</b>" }],
          ["no date", { familyName: "Weiß", givenNames: "Jürgen" }],
          ["an impossible date", { ...good, dateOfBirth: "1984-02-30" }],
          ["a future date", { ...good, dateOfBirth: "2999-01-01" }],
          ["a wrong check digit", { ...good, idnr: "86095742718" }],
          ["an unknown field", { ...good, religion: "none" }],
          ["a bad postal code", { ...good, address: { postalCode: "7017" } }],
          ["an empty name", { ...good, familyName: "  " }],
          ["not an object", ["Weiß"]],
        ];
        for (const [what, query] of cases) {
          const { status, body } = await ask(lotse, query);
          assert.equal(status, 400, what);
          assert.match(String(body.type), /\/invalid-request$/, what);
        }
        assert.equal((await ask(lotse, null, { raw: "{not json" })).status, 400);
        const noPurpose = await ask(lotse, good, { headers: { "lotse-purpose": "" } });
        assert.equal(noPurpose.status, 400);
        const notJson = await ask(lotse, good, { headers: { "content-type": "text/plain" } });
        assert.equal(notJson.status, 415);
      });

      await t.step("403 without a permission, and the refusal is recorded", async () => {
        const query = { familyName: "Weiß", givenNames: "Jürgen", dateOfBirth: "1984-07-12" };
        const { status, body, headers } = await ask(lotse, query, {
          client: "service-bw-gewerbe",
        });
        assert.equal(status, 403);
        assert.match(String(body.type), /\/not-permitted$/);
        const rec = await record(lotse, headers.get("lotse-transfer-id")!, "service-bw-gewerbe");
        assert.equal(rec.outcome, "refused");
        assert.equal(rec.evidenceType, "identitaetsdaten");
        // Another purpose than the permission's is refused too.
        const other = await ask(lotse, query, { headers: { "lotse-purpose": "neugier" } });
        assert.equal(other.status, 403);
        // A token without the consumer role never reaches the Vermittlungsstelle.
        const dsc = await ask(lotse, query, { client: "dsc-cockpit" });
        assert.equal(dsc.status, 403);
        assert.match(String(dsc.body.type), /\/forbidden$/);
      });

      await t.step("a register answer with a wrong check digit is refused (502)", async () => {
        const max = DEMO_PEOPLE.maxBroken.basisdaten;
        const { status, body, headers } = await ask(lotse, {
          familyName: max.familyName,
          givenNames: max.givenNames,
          dateOfBirth: max.dateOfBirth,
        });
        assert.equal(status, 502);
        assert.match(String(body.type), /\/provider-failed$/);
        assert.ok(!JSON.stringify(body).includes(DEMO_PEOPLE.maxBroken.idnr));
        const rec = await record(lotse, headers.get("lotse-transfer-id")!);
        assert.equal(rec.outcome, "failed");
      });
    } finally {
      await lotse.close();
    }
  },
});
