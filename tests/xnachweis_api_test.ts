/**
 * The XNachweis face end to end through real sockets: both pilots in XML, the consumer's
 * own IssuedToken accepted and refused, Lotse's refusals as schema-valid 0103s (never a
 * 5xx), the provider's answers passed through unchanged.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  buildErrorResponse,
  buildEvidenceRequest,
  buildEvidenceResponse,
  parseXml,
  requestDigest,
  schemaErrors,
  setIssuedToken,
} from "../src/xnachweis/mod.ts";
import { KeyRing, memoryKeyStore, sealEvidenceToken } from "../crypto/mod.ts";
import { bearer, type TestLotse } from "./_app.ts";
import {
  ADMIN,
  BODY_TIMEOUT_MS,
  DEFAULT_BODY_TIMEOUT_MS,
  PILOTS,
  postStalledXml,
  postXml,
  startXmlLotse,
} from "./_xnachweis.ts";
import { DEMO_CLASSIFICATIONS } from "../demo/tables.ts";

const enc = new TextEncoder();

function parsed(xml: string) {
  return parseXml(enc.encode(xml), { maxBytes: 1 << 26 });
}

/** Asserts a schema-valid 0103 with `code` and `status`; returns its text. */
async function error0103(res: Response, status: number, code: string): Promise<string> {
  const text = await res.text();
  assert.equal(res.status, status, text.slice(0, 600));
  assert.match(res.headers.get("content-type") ?? "", /^application\/xml/);
  const doc = parsed(text);
  try {
    assert.equal(doc.root.name, "DE.EvidenceErrorResponse.0103");
    assert.deepEqual(schemaErrors(doc), []);
  } finally {
    doc.dispose();
  }
  assert.ok(text.includes(`<code>${code}</code>`), `code ${code} in ${text.slice(0, 300)}`);
  return text;
}

/** The evidence JSON inside a 0102. */
function evidenceOf(text: string): Record<string, unknown> {
  const doc = parsed(text);
  try {
    assert.equal(doc.root.name, "DE.EvidenceResponse.0102");
    assert.deepEqual(schemaErrors(doc), []);
    const item = doc.get("//*[local-name()='RepositoryItem']/*[local-name()='RepositoryItem']");
    return JSON.parse(Buffer.from(item!.content, "base64").toString("utf8"));
  } finally {
    doc.dispose();
  }
}

/** A transfer's record once its outcome is written (it is written after the last byte). */
async function settled(lotse: TestLotse, id: string, token: string) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const record = await (await lotse.fetch(`/v1/transfers/${id}`, {
      headers: bearer(token),
    })).json();
    if (record.outcome !== "in-flight" || Date.now() > deadline) return record;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test({
  name: "the XNachweis face carries both pilots and refuses in 0103",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const { lotse, register, close } = await startXmlLotse();
    try {
      const kba = PILOTS.bewohnerparkausweis;
      const gewerbe = PILOTS.gewerbeanmeldung;
      const parkXml = await Deno.readTextFile(kba.file);
      const parkToken = await lotse.token(kba.consumer);
      const headers = (pilot: typeof kba | typeof gewerbe) => ({
        "lotse-purpose": pilot.purpose,
        "lotse-legal-basis": pilot.legalBasis,
      });

      await t.step("both pilots: 0101 in, the register's 0102 out, recorded", async () => {
        for (const pilot of [kba, gewerbe]) {
          const token = await lotse.token(pilot.consumer);
          const res = await postXml(
            lotse,
            token,
            await Deno.readTextFile(pilot.file),
            headers(pilot),
          );
          const text = await res.text();
          assert.equal(res.status, 200, text.slice(0, 600));
          assert.equal(res.headers.get("lotse-provider"), pilot.provider);
          const evidence = evidenceOf(text);
          assert.equal(evidence.evidenceType, pilot.evidenceType);
          const transferId = res.headers.get("lotse-transfer-id")!;
          assert.equal(evidence.transferId, transferId);
          // What the register got: the message with the token filled in, the same token as
          // bearer, and a request hash that matches the token.
          const forwarded = register.last!;
          const bearerToken = forwarded.headers.get("authorization")!.slice("Bearer ".length);
          assert.ok(forwarded.body.includes(`>${bearerToken}</xn-de:IssuedToken>`));
          const body = await settled(lotse, transferId, token);
          assert.equal(body.outcome, "delivered");
          assert.equal(body.evidenceType, pilot.evidenceType);
          assert.equal(body.purpose, pilot.purpose);
        }
      });

      await t.step("a consumer's own IssuedToken is accepted when right", async () => {
        const doc = parsed(parkXml);
        const digest = requestDigest(doc);
        doc.dispose();
        const res = await lotse.fetch("/v1/authorizations", {
          method: "POST",
          headers: bearer(parkToken, { "content-type": "application/json" }),
          body: JSON.stringify({
            evidenceType: kba.evidenceType,
            providerId: kba.provider,
            purpose: kba.purpose,
            legalBasis: kba.legalBasis,
            idnrUsed: true,
            requestDigest: digest,
          }),
        });
        assert.equal(res.status, 201);
        const { token } = await res.json();
        const withToken = parsed(parkXml);
        setIssuedToken(withToken, token);
        const message = withToken.toString({ format: false });
        withToken.dispose();
        const answer = await postXml(lotse, parkToken, message);
        assert.equal(answer.status, 200, (await answer.clone().text()).slice(0, 500));
        evidenceOf(await answer.text());
        assert.equal(
          register.last!.headers.get("authorization"),
          `Bearer ${token}`,
          "the consumer's token goes on as it is",
        );
      });

      await t.step("a consumer's IssuedToken is refused for each way it can be wrong", async () => {
        const doc = parsed(parkXml);
        const digest = requestDigest(doc);
        doc.dispose();
        const ring = lotse.lotse.iam.keys;
        const issuer = lotse.publicUrl;
        const grant = {
          consumerId: kba.consumer,
          providerId: kba.provider,
          evidenceType: kba.evidenceType,
          purpose: kba.purpose,
          legalBasis: kba.legalBasis,
          idnrUsed: true,
          requestDigest: digest,
        };
        const foreign = await KeyRing.open(
          memoryKeyStore("a-foreign-key-secret-0123456789abcdefgh"),
        );
        const cases: [string, string, number, string][] = [
          [
            "foreign key",
            (await sealEvidenceToken(grant, { keys: foreign, issuer })).token,
            401,
            "unauthorized",
          ],
          [
            "expired",
            (await sealEvidenceToken(grant, { keys: ring, issuer, now: Date.now() - 600_000 }))
              .token,
            401,
            "unauthorized",
          ],
          [
            "other sub",
            (await sealEvidenceToken({ ...grant, consumerId: "service-bw-gewerbe" }, {
              keys: ring,
              issuer,
            })).token,
            403,
            "forbidden",
          ],
          [
            "other aud",
            (await sealEvidenceToken({ ...grant, providerId: "gewerberegister-08111000" }, {
              keys: ring,
              issuer,
            })).token,
            403,
            "forbidden",
          ],
          [
            "other evidence type",
            (await sealEvidenceToken({ ...grant, evidenceType: "meldebescheinigung" }, {
              keys: ring,
              issuer,
            })).token,
            403,
            "forbidden",
          ],
          [
            "request hash mismatch",
            (await sealEvidenceToken({ ...grant, requestDigest: `sha-256=:${"A".repeat(43)}=:` }, {
              keys: ring,
              issuer,
            })).token,
            403,
            "forbidden",
          ],
          [
            "no request hash",
            (await sealEvidenceToken({ ...grant, requestDigest: undefined }, {
              keys: ring,
              issuer,
            })).token,
            403,
            "forbidden",
          ],
          ["not a token", "not-a-token", 401, "unauthorized"],
        ];
        for (const [name, token, status, code] of cases) {
          const message = parsed(parkXml);
          setIssuedToken(message, token);
          const res = await postXml(lotse, parkToken, message.toString({ format: false }));
          message.dispose();
          const text = await error0103(res, status, code);
          assert.ok(text.includes("IssuedToken refused"), name);
        }
      });

      await t.step(
        "malformed, invalid, oversize, XXE, billion laughs, non-UTF-8: 4xx 0103",
        async () => {
          const laughs = Array.from(
            { length: 9 },
            (_, i) => `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`,
          ).join("");
          const bodies: [string, BodyInit, number, string][] = [
            ["malformed", "<xn-de:DE.EvidenceRequest.0101", 400, "invalid-request"],
            ["empty", "", 400, "invalid-request"],
            [
              "schema-invalid",
              parkXml.replace("<xn-bk:IDNr>86095742719", "<xn-bk:IDNr>123"),
              400,
              "invalid-request",
            ],
            [
              "wrong check digit",
              parkXml.replace("86095742719", "86095742718"),
              400,
              "invalid-request",
            ],
            ["oversize", parkXml + " ".repeat(1 << 20), 413, "payload-too-large"],
            [
              "xxe",
              `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>`,
              400,
              "invalid-request",
            ],
            [
              "billion laughs",
              `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY l0 "lol">${laughs}]><l>&l9;</l>`,
              400,
              "invalid-request",
            ],
            [
              "latin-1",
              new Uint8Array([...enc.encode("<a>"), 0xe4, ...enc.encode("</a>")]),
              400,
              "invalid-request",
            ],
            [
              "declared latin-1",
              parkXml.replace('encoding="utf-8"', 'encoding="ISO-8859-1"'),
              400,
              "invalid-request",
            ],
            [
              "another message",
              buildEvidenceResponse({
                requestId: `urn:uuid:${crypto.randomUUID()}`,
                provider: { id: "x", name: "x", classification: "EP" },
                requesters: [{ id: "y", name: "y", classification: "ER" }],
                classification:
                  "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/x",
                evidenceTitle: "x",
                subject: { kind: "legal", legalName: "x" },
                evidence: { availableAt: "2030-01-01T00:00:00Z" },
              }),
              400,
              "invalid-request",
            ],
          ];
          for (const [name, body, status, code] of bodies) {
            const res = await postXml(lotse, parkToken, body, headers(kba));
            assert.ok(res.status < 500, name);
            await error0103(res, status, code);
          }
          const json = await lotse.fetch("/xnachweis/v1/evidence-requests", {
            method: "POST",
            headers: bearer(parkToken, { "content-type": "application/json" }),
            body: "{}",
          });
          await error0103(json, 415, "unsupported-media-type");
        },
      );

      await t.step("who, what and for whom: 401, 403, 404, missing purpose", async () => {
        const anonymous = await lotse.fetch("/xnachweis/v1/evidence-requests", {
          method: "POST",
          headers: { "content-type": "application/xml" },
          body: parkXml,
        });
        await error0103(anonymous, 401, "unauthorized");
        const dsc = await lotse.token("dsc-cockpit");
        await error0103(await postXml(lotse, dsc, parkXml, headers(kba)), 403, "forbidden");
        // The caller is not the EvidenceRequester.
        const gewerbeToken = await lotse.token(gewerbe.consumer);
        await error0103(
          await postXml(lotse, gewerbeToken, parkXml, headers(kba)),
          403,
          "forbidden",
        );
        // No permission for this purpose.
        await error0103(
          await postXml(lotse, parkToken, parkXml, { ...headers(kba), "lotse-purpose": "other" }),
          403,
          "not-permitted",
        );
        await error0103(await postXml(lotse, parkToken, parkXml), 400, "invalid-request");
        const unknownType = parkXml.replace("lotse-demo-fahrzeugzulassung", "unknown");
        await error0103(
          await postXml(lotse, parkToken, unknownType, headers(kba)),
          404,
          "not-found",
        );
        const unknownProvider = parkXml.replaceAll(">kba-zfzr<", ">nobody<");
        await error0103(
          await postXml(lotse, parkToken, unknownProvider, headers(kba)),
          404,
          "not-found",
        );
      });

      await t.step("the provider's 0103 and status pass through unchanged", async () => {
        const own = buildErrorResponse({
          code: "no-such-vehicle",
          detail: "The register holds no vehicle for this person",
          requesters: [{ id: kba.consumer, name: "Stuttgart", classification: "ER" }],
          errorProvider: { id: kba.provider, name: "KBA", classification: "EP" },
        });
        register.handler = () =>
          new Response(own, { status: 404, headers: { "content-type": "application/xml" } });
        try {
          const res = await postXml(lotse, parkToken, parkXml, headers(kba));
          assert.equal(res.status, 404);
          assert.equal(await res.text(), own);
        } finally {
          register.handler = null;
        }
      });

      await t.step("a deferred 0102 passes through and is recorded as deferred", async () => {
        const later = buildEvidenceResponse({
          requestId: "urn:uuid:6f1c2a4e-8b1d-4c7e-9a55-0b7d2f3e4a01",
          provider: { id: kba.provider, name: "KBA", classification: "EP" },
          requesters: [{ id: kba.consumer, name: "Stuttgart", classification: "ER" }],
          classification: "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/x",
          evidenceTitle: "Fahrzeugzulassung",
          subject: { kind: "legal", legalName: "Muster GmbH" },
          evidence: { availableAt: "2030-01-01T08:00:00Z" },
        });
        register.handler = () =>
          new Response(later, { headers: { "content-type": "application/xml" } });
        try {
          const res = await postXml(lotse, parkToken, parkXml, headers(kba));
          assert.equal(res.status, 200);
          assert.equal(await res.text(), later);
          const id = res.headers.get("lotse-transfer-id")!;
          assert.equal((await settled(lotse, id, parkToken)).outcome, "deferred");
        } finally {
          register.handler = null;
        }
      });

      await t.step("an EfA service acts for an authority its permission names", async () => {
        const service = await lotse.token(gewerbe.consumer);
        const authority = "stadt-stuttgart-gewerbeamt";
        const efa = buildEvidenceRequest({
          requesters: [
            { id: gewerbe.consumer, name: "service-bw", classification: "IP" },
            { id: authority, name: "Stadt Stuttgart, Gewerbeamt", classification: "ER" },
          ],
          provider: { id: gewerbe.provider, name: "Gewerberegister", classification: "EP" },
          classification: DEMO_CLASSIFICATIONS.gewerberegisterauszug,
          evidenceTitle: "Gewerberegisterauszug",
          subject: {
            kind: "natural",
            familyName: "Schmidt",
            givenName: "Jonas",
            dateOfBirth: "1979-07-02",
            idnr: "86095742719",
          },
        });
        // The demo permission names no authority: refused, and the refusal is recorded.
        await error0103(await postXml(lotse, service, efa, headers(gewerbe)), 403, "not-permitted");
        const admin = bearer(ADMIN, { "content-type": "application/json" });
        const permission =
          await (await lotse.fetch("/admin/v1/permissions/gewerbe-gewerberegister", {
            headers: admin,
          })).json();
        const { id: _, ...body } = permission;
        const put = await lotse.fetch("/admin/v1/permissions/gewerbe-gewerberegister", {
          method: "PUT",
          headers: admin,
          body: JSON.stringify({ ...body, onBehalfOf: [authority] }),
        });
        assert.equal(put.status, 200, await put.text());
        const deadline = Date.now() + 5000;
        let res: Response;
        for (;;) {
          res = await postXml(lotse, service, efa, headers(gewerbe));
          if (res.status !== 403 || Date.now() > deadline) break;
          await res.body?.cancel();
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.equal(res.status, 200, await res.clone().text());
        await res.body?.cancel();
        // Sealed into the token the register got …
        const token = register.last!.headers.get("authorization")!.slice("Bearer ".length);
        const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString());
        assert.equal(claims.on_behalf_of, authority);
        assert.equal(claims.sub, gewerbe.consumer);
        // … and recorded for the Datenschutzcockpit.
        const dsc = await lotse.token("dsc-cockpit");
        const protocol = await (await lotse.fetch("/v1/protocol?idnr=86095742719", {
          headers: bearer(dsc),
        })).json();
        const mine = protocol.records.filter((r: { consumer: string }) =>
          r.consumer === gewerbe.consumer
        );
        assert.ok(mine.some((r: { onBehalfOf?: string }) => r.onBehalfOf === authority));
        // A second authority the permission does not name is refused.
        const other = efa.replaceAll(authority, "stadt-anderswo");
        await error0103(
          await postXml(lotse, service, other, headers(gewerbe)),
          403,
          "not-permitted",
        );
      });

      await t.step("provider failures are 502/504 0103s", async () => {
        register.handler = () => new Response("boom", { status: 500 });
        try {
          await error0103(
            await postXml(lotse, parkToken, parkXml, headers(kba)),
            502,
            "provider-failed",
          );
        } finally {
          register.handler = null;
        }
      });
    } finally {
      await close();
    }
  },
});

Deno.test({
  name: "a 0101 that stops arriving is refused with a 408 0103 once LOTSE_BODY_TIMEOUT_MS passed",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { lotse, close } = await startXmlLotse({
      env: { LOTSE_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS) },
    });
    try {
      const kba = PILOTS.bewohnerparkausweis;
      const { response, afterMs } = await postStalledXml(lotse, {
        path: "/xnachweis/v1/evidence-requests",
        token: await lotse.token(kba.consumer),
        xml: await Deno.readTextFile(kba.file),
        headers: { "lotse-purpose": kba.purpose, "lotse-legal-basis": kba.legalBasis },
      });
      const text = await error0103(response, 408, "request-timeout");
      assert.match(text, /did not arrive in time/);
      assert.ok(afterMs >= BODY_TIMEOUT_MS, `answered after ${afterMs} ms`);
      // The face's deadline is the configured one: a fixed one (it was 10 s) would answer only
      // after the default.
      assert.ok(afterMs < DEFAULT_BODY_TIMEOUT_MS, `answered after ${afterMs} ms`);
    } finally {
      await close();
    }
  },
});
