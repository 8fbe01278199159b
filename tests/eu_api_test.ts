/**
 * The Intermediäre Plattform end to end through real sockets and the real PostgreSQL: the
 * Gewerbeanmeldung pilot from an EDM request to an EDM response with the evidence, the 0301
 * the register receives (schema-valid, its token verified offline with the JWKS), the
 * protocol record, every EDM error Lotse produces (schema-valid, 4xx for bad input, never a
 * 5xx for it), the preview round, and the DSD lookup federal and regional.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type Jwks, verifyEvidenceToken } from "../crypto/mod.ts";
import { DEMO_CLASSIFICATIONS } from "../demo/tables.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";
import { DSD_QUERY_ID, edmSchemaErrors, SDG_LEGAL_BASIS } from "../src/eu/mod.ts";
import {
  buildErrorResponse,
  buildEvidenceResponse,
  parseXml,
  requestDigest,
  schemaErrors,
} from "../src/xnachweis/mod.ts";
import { DEMO_EU_RESIDENTS } from "../demo/registers.ts";
import { waitFor } from "./_wait.ts";
import { bearer, type TestLotse } from "./_app.ts";
import {
  BODY_TIMEOUT_MS,
  DEFAULT_BODY_TIMEOUT_MS,
  PILOTS,
  postStalledXml,
  startXmlLotse,
  type TestRegister,
} from "./_xnachweis.ts";

const enc = new TextEncoder();
const GATEWAY = "eu-access-point";
const PILOT_FILE = new URL("../demo/eu/gewerbeanmeldung.edm.xml", import.meta.url);
const PILOT = await Deno.readTextFile(PILOT_FILE);
const GEWERBE = PILOTS.gewerbeanmeldung;

/** The IDNr the demo register reports for the pilot's Anna Jansen (demo/registers.ts). */
const JANSEN_IDNR = DEMO_EU_RESIDENTS[0]!.idnr;

/** The Gewerberegister's 0302 to the pilot's request, about Anna Jansen. */
function gewerbe0302(evidence: { bytes: Uint8Array } | { availableAt: string }): string {
  return buildEvidenceResponse({
    type: "DE.EvidenceResponse.0302",
    requestId: "urn:uuid:8a6f3c52-1b7e-4e0f-9a55-2f1d6f0c7a11",
    provider: { id: GEWERBE.provider, name: "Gewerberegister", classification: "EP" },
    requesters: [{ id: GATEWAY, name: "Intermediäre Plattform", classification: "IP" }],
    classification: DEMO_CLASSIFICATIONS.gewerberegisterauszug,
    evidenceTitle: "Gewerberegisterauszug",
    subject: {
      kind: "natural",
      familyName: "Jansen",
      givenName: "Anna",
      dateOfBirth: "1985-04-12",
    },
    evidence,
  });
}

/** Both protocol entries of a transfer, once its outcome is written. */
async function protocolRows(lotse: TestLotse, transferId: string) {
  const rows = await waitFor(async () => {
    await lotse.lotse.protocol.flush();
    const found = await lotse.lotse.db.sql<
      { kind: string; outcome: string; idnr_hmac: string | null }
    >`
      select kind, outcome, idnr_hmac from protocol_entries
      where transfer_id = ${transferId} order by seq`;
    return found.length === 2 ? found : null;
  }, "the transfer's outcome entry");
  return rows;
}

/** The transfer ids the Datenschutzcockpit API lists for an IDNr. */
async function cockpitTransfers(lotse: TestLotse, idnr: string): Promise<string[]> {
  const res = await lotse.fetch(`/v1/protocol?idnr=${idnr}`, {
    headers: bearer(await lotse.token("dsc-cockpit")),
  });
  assert.equal(res.status, 200);
  const body: { records: { transferId: string }[] } = await res.json();
  return body.records.map((r) => r.transferId);
}

function parsed(xml: string) {
  return parseXml(enc.encode(xml), { maxBytes: 1 << 26 });
}

/** Asserts a schema-valid EDM document and returns what `read` takes from it. */
function edm<T>(xml: string, read: (doc: ReturnType<typeof parsed>) => T): T {
  const doc = parsed(xml);
  try {
    assert.deepEqual(edmSchemaErrors(doc), [], xml.slice(0, 400));
    return read(doc);
  } finally {
    doc.dispose();
  }
}

/** Asserts a schema-valid EDM exception with `code` and `status`; returns its text. */
async function edmError(res: Response, status: number, code: string): Promise<string> {
  const text = await res.text();
  assert.equal(res.status, status, text.slice(0, 600));
  assert.match(res.headers.get("content-type") ?? "", /^application\/xml/);
  const found = edm(text, (doc) => {
    assert.equal(doc.root.name, "QueryResponse");
    assert.equal(
      doc.root.attr("status")?.value,
      "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure",
    );
    return doc.get("//*[local-name()='Exception']/@code")?.content;
  });
  assert.equal(found, code, text.slice(0, 600));
  return text;
}

function post(lotse: TestLotse, token: string | null, body: BodyInit, type = "application/xml") {
  return lotse.fetch("/eu/v1/evidence-requests", {
    method: "POST",
    headers: token === null ? { "content-type": type } : bearer(token, { "content-type": type }),
    body,
  });
}

/** The pilot request with a change. */
function variant(change: (xml: string) => string): string {
  const changed = change(PILOT);
  assert.notEqual(changed, PILOT, "the variant changes the request");
  return changed;
}

const previewSlots = (possible: boolean, location?: string) =>
  variant((xml) =>
    xml.replace(
      /<rim:Slot name="PossibilityForPreview">[\s\S]*?<\/rim:Slot>/,
      `<rim:Slot name="PossibilityForPreview"><rim:SlotValue xsi:type="rim:BooleanValueType">` +
        `<rim:Value>${possible}</rim:Value></rim:SlotValue></rim:Slot>` +
        (location
          ? `<rim:Slot name="PreviewLocation"><rim:SlotValue xsi:type="rim:StringValueType">` +
            `<rim:Value>${location}</rim:Value></rim:SlotValue></rim:Slot>`
          : ""),
    )
  );

async function withLotse(
  fn: (lotse: TestLotse, register: TestRegister) => Promise<void>,
  env: Record<string, string> = {},
) {
  const { lotse, register, close } = await startXmlLotse({ env });
  try {
    await fn(lotse, register);
  } finally {
    await close();
  }
}

Deno.test({
  name: "the Gewerbeanmeldung pilot: EDM request → 0301 → 0302 → EDM response with the evidence",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withLotse(async (lotse, register) => {
      const token = await lotse.token(GATEWAY);
      const res = await post(lotse, token, PILOT);
      const text = await res.text();
      assert.equal(res.status, 200, text.slice(0, 600));
      const transferId = res.headers.get("lotse-transfer-id");
      assert.ok(transferId);
      assert.equal(res.headers.get("lotse-provider"), GEWERBE.provider);

      // The EDM response: schema-valid, Success, the requester and the evidence in it.
      const item = edm(text, (doc) => {
        assert.equal(doc.root.name, "QueryResponse");
        assert.equal(
          doc.root.attr("requestId")?.value,
          "urn:uuid:8a6f3c52-1b7e-4e0f-9a55-2f1d6f0c7a11",
        );
        assert.equal(
          doc.root.attr("status")?.value,
          "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success",
        );
        assert.equal(
          doc.get(
            "//*[local-name()='Slot'][@name='EvidenceRequester']//*[local-name()='Identifier']",
          )?.content,
          "NL22233223",
        );
        assert.equal(
          doc.get("//*[local-name()='IsConformantTo']/*[local-name()='EvidenceTypeClassification']")
            ?.content,
          DEMO_CLASSIFICATIONS.gewerberegisterauszug,
        );
        assert.equal(
          doc.get("//*[local-name()='Distribution']/*[local-name()='Format']")?.content,
          "application/json",
          "the format the register declared for its document",
        );
        return doc.get("//*[local-name()='RegistryObject']/*[local-name()='RepositoryItem']")!
          .content;
      });
      // The evidence is the register's document itself (not the 0302 around it).
      const evidence = JSON.parse(Buffer.from(item, "base64").toString("utf8"));
      assert.equal(evidence.evidenceType, "gewerberegisterauszug");
      assert.equal(evidence.transferId, transferId);
      assert.equal(evidence.familienname, "Jansen");

      // What the register received: a schema-valid 0301 whose token verifies offline.
      const received = register.last!.body;
      const sent = parsed(received);
      try {
        assert.equal(sent.root.name, "DE.EvidenceRequest.0301");
        assert.deepEqual(schemaErrors(sent), []);
        assert.equal(
          sent.get("//*[local-name()='IDNr']"),
          null,
          "no IDNr leaves for an EU request",
        );
        const issued = sent.get("//*[local-name()='IssuedToken']")!.content;
        const jwks: Jwks = await (await fetch(`${lotse.base}/.well-known/jwks.json`)).json();
        const checked = await verifyEvidenceToken(issued, jwks, {
          audience: GEWERBE.provider,
          issuer: lotse.publicUrl,
        });
        assert.ok(checked.ok, JSON.stringify(checked));
        const claims = checked.claims as unknown as Record<string, unknown>;
        assert.equal(claims.sub, GATEWAY);
        assert.equal(claims.evidence_type, "gewerberegisterauszug");
        assert.equal(claims.purpose, DEMO_PURPOSES.euGewerbe.purpose);
        assert.equal(claims.legal_basis, SDG_LEGAL_BASIS);
        assert.equal(claims.idnr_used, false);
        assert.equal(claims.req_digest, requestDigest(sent));
        assert.equal(claims.edm_requester, "NL22233223");
        assert.equal(claims.edm_preview, "none");
      } finally {
        sent.dispose();
      }

      // The protocol: the gateway as consumer, the foreign authority it acted for, the EDM
      // procedure as purpose, Art. 14 SDG as legal basis, delivered.
      await lotse.lotse.protocol.flush();
      const deadline = Date.now() + 5000;
      let rows: { kind: string; consumer_id: string | null; on_behalf_of: string | null }[] = [];
      for (;;) {
        rows = await lotse.lotse.db.sql<
          {
            kind: string;
            consumer_id: string | null;
            on_behalf_of: string | null;
            purpose: string | null;
            legal_basis: string | null;
            outcome: string;
          }
        >`select kind, consumer_id, on_behalf_of, purpose, legal_basis, outcome
            from protocol_entries where transfer_id = ${transferId} order by seq`;
        if (rows.length === 2 || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
        await lotse.lotse.protocol.flush();
      }
      assert.equal(rows.length, 2, JSON.stringify(rows));
      const [decision, outcome] = rows as unknown as Record<string, unknown>[];
      assert.equal(decision!.consumer_id, GATEWAY);
      assert.equal(decision!.on_behalf_of, "NL22233223");
      assert.equal(decision!.purpose, DEMO_PURPOSES.euGewerbe.purpose);
      assert.equal(decision!.legal_basis, SDG_LEGAL_BASIS);
      assert.equal(outcome!.outcome, "delivered");

      // The register knew the person (Lotse-Subject-IDNr): the transfer is in her cockpit,
      // the IDNr reached neither the foreign authority nor the protocol in clear.
      assert.equal(res.headers.get("lotse-subject-idnr"), null);
      assert.ok(!text.includes(JANSEN_IDNR));
      assert.deepEqual(await cockpitTransfers(lotse, JANSEN_IDNR), [transferId]);
    }),
});

Deno.test({
  name: "a deferred 0302 is EDM:ERR:0005 with Retry-After and recorded as deferred; a wrong " +
    "reported IDNr is not recorded",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withLotse(async (lotse, register) => {
      const token = await lotse.token(GATEWAY);
      const later = gewerbe0302({ availableAt: "2030-01-01T08:00:00Z" });
      // The check digit of this number is wrong (…53 is right).
      const wrong = "51729403654";
      register.handler = () =>
        new Response(later, {
          headers: { "content-type": "application/xml", "lotse-subject-idnr": wrong },
        });
      try {
        const res = await post(lotse, token, PILOT);
        const text = await edmError(res, 503, "EDM:ERR:0005");
        assert.match(text, /announces the evidence for 2030-01-01T08:00:00Z/);
        const retry = Number(res.headers.get("retry-after"));
        assert.ok(retry > 365 * 24 * 3600, `Retry-After ${retry} reaches 2030`);
        const transferId = res.headers.get("lotse-transfer-id")!;
        const rows = await protocolRows(lotse, transferId);
        assert.equal(rows.at(-1)!.outcome, "deferred");
        assert.deepEqual(
          rows.map((r) => r.idnr_hmac),
          [null, null],
        );
        assert.deepEqual(await cockpitTransfers(lotse, wrong.slice(0, 10) + "3"), []);
      } finally {
        register.handler = null;
      }
    }),
});

Deno.test({
  name:
    "preview required and not given is EDM:ERR:0002 with the PreviewLocation; after it, evidence",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withLotse(async (lotse, register) => {
      const token = await lotse.token(GATEWAY);
      register.preview = `${register.url}/preview`;
      const text = await edmError(
        await post(lotse, token, previewSlots(true)),
        403,
        "EDM:ERR:0002",
      );
      edm(text, (doc) => {
        assert.equal(
          doc.get("//*[local-name()='Exception']/@severity")?.content,
          "urn:sr.oots.tech.ec.europa.eu:codes:ErrorSeverity:EDMErrorResponse:PreviewRequired",
        );
        assert.match(
          doc.get("//*[local-name()='Slot'][@name='PreviewLocation']//*[local-name()='Value']")
            ?.content ?? "",
          new RegExp(`^${register.url}/preview\\?request=urn:uuid:`),
        );
      });
      const after = await post(lotse, token, previewSlots(true, `${register.url}/preview`));
      assert.equal(after.status, 200, (await after.clone().text()).slice(0, 400));
      assert.match(await after.text(), /ResponseStatusType:Success/);
      // An EDM 2.0 request (elements the 1.0-era schemas do not know) is served too.
      register.preview = null;
      const later = await post(
        lotse,
        token,
        variant((x) =>
          x.replace("oots-edm:v1.0", "oots-edm:v2.0").replace(
            "<sdg:DateOfBirth>1985-04-12</sdg:DateOfBirth>",
            "<sdg:DateOfBirth>1985-04-12</sdg:DateOfBirth><sdg:Nationality>NL</sdg:Nationality>",
          )
        ),
      );
      assert.equal(later.status, 200, (await later.clone().text()).slice(0, 400));
      await later.body?.cancel();
    }),
});

Deno.test({
  name: "every EDM error Lotse produces is schema-valid, bad input is a 4xx, never a 5xx",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withLotse(async (lotse, register) => {
      const token = await lotse.token(GATEWAY);
      const consumer = await lotse.token(GEWERBE.consumer);
      // Authentication and role: EDM:ERR:0001.
      await edmError(await post(lotse, null, PILOT), 401, "EDM:ERR:0001");
      await edmError(await post(lotse, consumer, PILOT), 403, "EDM:ERR:0001");
      // Not XML, malformed, a DTD, schema-invalid, incomplete: EDM:ERR:0003.
      await edmError(await post(lotse, token, "{}", "application/json"), 415, "EDM:ERR:0003");
      await edmError(await post(lotse, token, "<query:QueryRequest"), 400, "EDM:ERR:0003");
      await edmError(
        await post(lotse, token, `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>`),
        400,
        "EDM:ERR:0003",
      );
      // The pilot changed one way at a time, with the status and code each must get.
      const changed: [(xml: string) => string, number, string][] = [
        [
          (x) => x.replace("<query:ResponseOption", "<rim:Bogus/><query:ResponseOption"),
          400,
          "EDM:ERR:0003",
        ],
        [
          (x) =>
            x.replace(
              /<rim:Slot name="EvidenceRequester">[\s\S]*?<\/rim:Slot>\s*<rim:Slot name="EvidenceProvider">/,
              '<rim:Slot name="EvidenceProvider">',
            ),
          400,
          "EDM:ERR:0003",
        ],
        // An unsupported response option: EDM:ERR:0007.
        [
          (x) => x.replace("LeafClassWithRepositoryItem", "ObjectRef"),
          400,
          "EDM:ERR:0007",
        ],
        // An evidence type Germany does not have: EDM:ERR:0004; an unknown data service: 0006.
        [
          (x) => x.replace("lotse-demo-gewerberegisterauszug", "lotse-demo-unknown"),
          404,
          "EDM:ERR:0004",
        ],
        [
          (x) => x.replace(">gewerberegister-08111000<", ">DE0000000<"),
          404,
          "EDM:ERR:0006",
        ],
      ];
      for (const [change, status, code] of changed) {
        await edmError(await post(lotse, token, variant(change)), status, code);
      }
      await edmError(await post(lotse, token, enc.encode("\xff\xfe<x/>")), 400, "EDM:ERR:0003");
      // A gateway without permission (another procedure, another evidence type): refused
      // by the Vermittlungsstelle, EDM:ERR:0002 with severity Error, and recorded.
      const refused = await edmError(
        await post(
          lotse,
          token,
          variant((x) => x.replace("Notification of business activity", "Something else")),
        ),
        403,
        "EDM:ERR:0002",
      );
      assert.match(refused, /ErrorSeverityType:Error/);
      await edmError(
        await post(
          lotse,
          token,
          variant((x) =>
            x.replace(">gewerberegister-08111000<", `>${PILOTS.bewohnerparkausweis.provider}<`)
              .replace("lotse-demo-gewerberegisterauszug", "lotse-demo-fahrzeugzulassung")
          ),
        ),
        403,
        "EDM:ERR:0002",
      );
      // The provider fails: EDM:ERR:0006 (502); it answers a 0303: passed on as its EDM code.
      register.handler = () => new Response("boom", { status: 500 });
      await edmError(await post(lotse, token, PILOT), 502, "EDM:ERR:0006");
      register.handler = () =>
        new Response(
          buildErrorResponse({
            type: "DE.EvidenceErrorResponse.0303",
            code: "not-found",
            detail: "No such business",
            requesters: [],
            errorProvider: { id: GEWERBE.provider, name: "Gewerberegister", classification: "EP" },
          }),
          { status: 404, headers: { "content-type": "application/xml" } },
        );
      const missing = await edmError(await post(lotse, token, PILOT), 404, "EDM:ERR:0004");
      assert.match(missing, /No such business/);
      register.handler = null;
    }),
});

Deno.test({
  name:
    "a request body that stops arriving is refused in EDM as EDM:ERR:0003 with 408 once LOTSE_BODY_TIMEOUT_MS passed, not a 500",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withLotse(async (lotse) => {
      const { response, afterMs } = await postStalledXml(lotse, {
        path: "/eu/v1/evidence-requests",
        token: await lotse.token(GATEWAY),
        xml: PILOT,
      });
      await edmError(response, 408, "EDM:ERR:0003");
      assert.ok(afterMs >= BODY_TIMEOUT_MS, `answered after ${afterMs} ms`);
      // The face's deadline is the configured one: a fixed one (it was 10 s) would answer only
      // after the default.
      assert.ok(afterMs < DEFAULT_BODY_TIMEOUT_MS, `answered after ${afterMs} ms`);
    }, { LOTSE_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS) }),
});

Deno.test({
  name: "a provider that does not answer in time is the EDM timeout error EDM:ERR:0005",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withLotse(async (lotse, register) => {
      const token = await lotse.token(GATEWAY);
      let release!: () => void;
      const held = new Promise<void>((resolve) => release = resolve);
      register.handler = async () => {
        await held;
        return new Response("late");
      };
      try {
        await edmError(await post(lotse, token, PILOT), 504, "EDM:ERR:0005");
      } finally {
        release();
      }
    }, { LOTSE_PROVIDER_TIMEOUT_MS: "300" }),
});

Deno.test({
  name: "a register answering 200 with something other than a 0302 is EDM:ERR:0006, recorded " +
    "failed; one breaking mid-stream cuts the gateway's connection",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withLotse(async (lotse, register) => {
      const token = await lotse.token(GATEWAY);
      register.handler = () =>
        new Response("<html><body>Wartungsarbeiten</body></html>", {
          headers: { "content-type": "text/html" },
        });
      try {
        const res = await post(lotse, token, PILOT);
        const text = await edmError(res, 502, "EDM:ERR:0006");
        assert.match(text, /Expected a DE.EvidenceResponse.0302/);
        const rows = await protocolRows(lotse, res.headers.get("lotse-transfer-id")!);
        assert.equal(rows.at(-1)!.outcome, "failed");

        // A 0302 whose evidence is followed by markup: the head went out, then the stream
        // breaks; the gateway never gets a well-formed (and so never a truncated but "valid")
        // answer.
        const good = gewerbe0302({ bytes: new Uint8Array(300_000) });
        const cut = good.indexOf("AAAA") + 200_000;
        register.handler = () =>
          new Response(ReadableStream.from([enc.encode(good.slice(0, cut) + "<b>x</b>")]), {
            headers: { "content-type": "application/xml" },
          });
        const broken = await post(lotse, token, PILOT);
        assert.equal(broken.status, 200);
        await assert.rejects(() => broken.text());
        const after = await protocolRows(lotse, broken.headers.get("lotse-transfer-id")!);
        assert.equal(after.at(-1)!.outcome, "failed");
      } finally {
        register.handler = null;
      }
    }),
});

/** A DSD query; returns status and body. */
async function dsd(lotse: TestLotse, token: string, params: Record<string, string>) {
  const query = new URLSearchParams({ queryId: DSD_QUERY_ID, "country-code": "DE", ...params });
  const res = await lotse.fetch(`/eu/v1/dsd/rest/search?${query}`, { headers: bearer(token) });
  return { status: res.status, text: await res.text() };
}

const publishers = (text: string) =>
  edm(
    text,
    (doc) =>
      doc.find("//*[local-name()='Publisher']/*[local-name()='Identifier']").map((n) => n.content),
  );
const dsdCode = (text: string) =>
  edm(text, (doc) => doc.get("//*[local-name()='Exception']/@code")?.content);

Deno.test({
  name: "the DSD lists German data services; a regional type without jurisdiction is DSD:ERR:0005",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withLotse(async (lotse) => {
      const token = await lotse.token(GATEWAY);
      // Federal: one provider for all of Germany.
      const federal = await dsd(lotse, token, {
        "evidence-type-classification": DEMO_CLASSIFICATIONS.fahrzeugzulassung,
      });
      assert.equal(federal.status, 200, federal.text);
      assert.deepEqual(publishers(federal.text), [PILOTS.bewohnerparkausweis.provider]);
      // Regional without jurisdiction: the EU twin of 409 ambiguous-region.
      const open = await dsd(lotse, token, {
        "evidence-type-classification": DEMO_CLASSIFICATIONS.gewerberegisterauszug,
      });
      assert.equal(open.status, 409, open.text);
      assert.equal(dsdCode(open.text), "DSD:ERR:0005");
      assert.match(open.text, /JurisdictionDetermination/);
      assert.match(open.text, /jurisdiction-admin-l3/);
      // Narrowed to the Gemeinde (LAU = AGS), the Kreis, the Land (NUTS-1 DE1 = Baden-Württemberg).
      const narrowings: Record<string, string>[] = [
        { "jurisdiction-admin-l3": "08111000" },
        { "jurisdiction-admin-l3": "08111" },
      ];
      for (const narrowing of narrowings) {
        const found = await dsd(lotse, token, {
          "evidence-type-classification": DEMO_CLASSIFICATIONS.gewerberegisterauszug,
          ...narrowing,
        });
        assert.equal(found.status, 200, found.text);
        assert.deepEqual(publishers(found.text), [GEWERBE.provider], JSON.stringify(narrowing));
      }
      // The Land lists every register in Baden-Württemberg that speaks XNachweis.
      const land = await dsd(lotse, token, {
        "evidence-type-classification": DEMO_CLASSIFICATIONS.gewerberegisterauszug,
        "jurisdiction-admin-l2": "DE1",
      });
      assert.equal(land.status, 200, land.text);
      const inLand = publishers(land.text);
      assert.ok(inLand.includes(GEWERBE.provider), inLand.join());
      assert.ok(inLand.every((id) => id.startsWith("gewerberegister-08")), inLand.join());
      // Bayern by its Land key; none in Schleswig-Holstein; an unknown Gemeinde; bad queries.
      const bayern = await dsd(lotse, token, {
        "evidence-type-classification": DEMO_CLASSIFICATIONS.gewerberegisterauszug,
        "jurisdiction-admin-l2": "09",
      });
      assert.equal(bayern.status, 200, bayern.text);
      assert.ok(publishers(bayern.text).every((id) => id.startsWith("gewerberegister-09")));
      const none = await dsd(lotse, token, {
        "evidence-type-classification": DEMO_CLASSIFICATIONS.gewerberegisterauszug,
        "jurisdiction-admin-l2": "DEF",
      });
      assert.equal(none.status, 404, none.text);
      assert.equal(dsdCode(none.text), "DSD:ERR:0001");
      const unknown = await dsd(lotse, token, {
        "evidence-type-classification": "https://example.org/none",
      });
      assert.equal(unknown.status, 404);
      assert.equal(dsdCode(unknown.text), "DSD:ERR:0002");
      const badLau = await dsd(lotse, token, {
        "evidence-type-classification": DEMO_CLASSIFICATIONS.gewerberegisterauszug,
        "jurisdiction-admin-l3": "99999999",
      });
      assert.equal(badLau.status, 400);
      assert.equal(dsdCode(badLau.text), "DSD:ERR:0003");
      const badQuery = await dsd(lotse, token, { queryId: "urn:x" });
      assert.equal(badQuery.status, 400);
      assert.equal(dsdCode(badQuery.text), "DSD:ERR:0004");
      // Only gateways and operators ask the DSD.
      const consumer = await lotse.token(GEWERBE.consumer);
      const denied = await dsd(lotse, consumer, {
        "evidence-type-classification": DEMO_CLASSIFICATIONS.fahrzeugzulassung,
      });
      assert.equal(denied.status, 403);
    }),
});
