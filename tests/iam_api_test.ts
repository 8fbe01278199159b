/**
 * IAM and Vermittlungsstelle over HTTP: `POST /v1/token`, bearer checks, deleted clients,
 * `POST /v1/authorizations` and the JWKS, with tokens checked by an independent verifier
 * (node:crypto, not the code that signed them).
 */
import assert from "node:assert/strict";
import { createPublicKey, verify } from "node:crypto";
import { bearer, clientAssertion, startTestLotse, type TestLotse, tokenForm } from "./_app.ts";
import { DEMO_PARKING_AUTHORIZATION, DEMO_PURPOSES } from "../demo/clients.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";

function b64urlJson(part: string): Record<string, unknown> {
  return JSON.parse(
    new TextDecoder().decode(
      Uint8Array.from(atob(part.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)),
    ),
  );
}

/** Verifies an ES256 compact JWS against a JWKS with node:crypto only. */
function independentVerify(token: string, jwks: { keys: Record<string, unknown>[] }) {
  const [h, p, s] = token.split(".");
  const header = b64urlJson(h!);
  assert.equal(header.alg, "ES256");
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  assert.ok(jwk, `kid ${header.kid} is published`);
  const key = createPublicKey({ key: jwk as never, format: "jwk" });
  const signature = Buffer.from(s!.replace(/-/g, "+").replace(/_/g, "/"), "base64");
  const ok = verify(
    "sha256",
    Buffer.from(`${h}.${p}`),
    { key, dsaEncoding: "ieee-p1363" },
    signature,
  );
  return { ok, header, claims: b64urlJson(p!) };
}

async function postToken(
  lotse: TestLotse,
  body: URLSearchParams | string,
  type = "application/x-www-form-urlencoded",
) {
  return await lotse.fetch("/v1/token", {
    method: "POST",
    headers: { "content-type": type },
    body,
  });
}

Deno.test({
  name: "POST /v1/token issues access tokens and refuses bad assertions per RFC 6749 § 5.2",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lotse = await startTestLotse();
    const aud = `${lotse.publicUrl}/v1/token`;
    try {
      await t.step("a good assertion gets a Bearer token", async () => {
        const res = await postToken(
          lotse,
          tokenForm(
            "stuttgart-bewohnerparken",
            await clientAssertion("stuttgart-bewohnerparken", aud),
          ),
        );
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("cache-control"), "no-store");
        const body = await res.json();
        assert.equal(body.token_type, "Bearer");
        assert.ok(body.expires_in > 0 && body.expires_in <= 300);
        const jwks = await (await lotse.fetch("/.well-known/jwks.json")).json();
        const checked = independentVerify(body.access_token, jwks);
        assert.ok(checked.ok);
        assert.equal(checked.claims.sub, "stuttgart-bewohnerparken");
      });

      await t.step("a replayed jti is refused", async () => {
        const assertion = await clientAssertion("stuttgart-bewohnerparken", aud);
        assert.equal(
          (await postToken(lotse, tokenForm("stuttgart-bewohnerparken", assertion))).status,
          200,
        );
        const again = await postToken(lotse, tokenForm("stuttgart-bewohnerparken", assertion));
        assert.equal(again.status, 401);
        assert.equal((await again.json()).error, "invalid_client");
      });

      const now = Math.floor(Date.now() / 1000);
      const cases: [string, () => Promise<URLSearchParams | string>, number, string, string?][] = [
        [
          "an expired assertion",
          async () =>
            tokenForm(
              "stuttgart-bewohnerparken",
              await clientAssertion("stuttgart-bewohnerparken", aud, {
                exp: now - 120,
                iat: now - 180,
              }),
            ),
          401,
          "invalid_client",
        ],
        [
          "exp more than 5 minutes ahead",
          async () =>
            tokenForm(
              "stuttgart-bewohnerparken",
              await clientAssertion("stuttgart-bewohnerparken", aud, { exp: now + 3600 }),
            ),
          401,
          "invalid_client",
        ],
        [
          "a wrong audience",
          async () =>
            tokenForm(
              "stuttgart-bewohnerparken",
              await clientAssertion("stuttgart-bewohnerparken", "https://elsewhere/v1/token"),
            ),
          401,
          "invalid_client",
        ],
        [
          "a client id that is not the issuer",
          async () =>
            tokenForm("service-bw-gewerbe", await clientAssertion("stuttgart-bewohnerparken", aud)),
          401,
          "invalid_client",
        ],
        [
          "an unknown client",
          async () => {
            const a = await clientAssertion("stuttgart-bewohnerparken", aud);
            return tokenForm("nobody", a);
          },
          401,
          "invalid_client",
        ],
        [
          "a malformed assertion",
          () => Promise.resolve(tokenForm("stuttgart-bewohnerparken", "not.a.jwt")),
          401,
          "invalid_client",
        ],
        [
          "an oversized assertion",
          () => Promise.resolve(tokenForm("stuttgart-bewohnerparken", "a".repeat(9000))),
          401,
          "invalid_client",
        ],
        [
          "a missing grant_type",
          () => Promise.resolve(new URLSearchParams({ client_assertion: "x" })),
          400,
          "invalid_request",
        ],
        [
          "another grant type",
          () => Promise.resolve(new URLSearchParams({ grant_type: "password" })),
          400,
          "unsupported_grant_type",
        ],
        [
          "a wrong assertion type",
          () =>
            Promise.resolve(
              new URLSearchParams({ grant_type: "client_credentials", client_assertion_type: "x" }),
            ),
          401,
          "invalid_client",
        ],
        ["a JSON body", () => Promise.resolve("{}"), 400, "invalid_request", "application/json"],
        [
          "a body of 20 KB",
          () => Promise.resolve("grant_type=" + "x".repeat(20_000)),
          400,
          "invalid_request",
        ],
      ];
      for (const [what, body, status, error, type] of cases) {
        await t.step(`refuses ${what} with ${status} ${error}`, async () => {
          const res = await postToken(lotse, await body(), type);
          assert.equal(res.status, status);
          const json = await res.json();
          assert.equal(json.error, error);
          assert.equal(typeof json.error_description, "string");
        });
      }

      await t.step("a deleted client's token stops working at once", async () => {
        const token = await lotse.token("service-bw-gewerbe");
        const nav = () =>
          lotse.fetch("/v1/navigation?evidenceType=fahrzeugzulassung&ags=08111000", {
            headers: bearer(token),
          });
        assert.equal((await nav()).status, 200);
        const del = await lotse.fetch("/admin/v1/clients/service-bw-gewerbe", {
          method: "DELETE",
          headers: bearer(ADMIN),
        });
        assert.equal(del.status, 204);
        assert.equal((await nav()).status, 401);
      });

      await t.step("a token signed by someone else is refused", async () => {
        const forged = await clientAssertion("stuttgart-bewohnerparken", lotse.publicUrl);
        const res = await lotse.fetch("/v1/evidence-types", { headers: bearer(forged) });
        assert.equal(res.status, 401);
      });
    } finally {
      await lotse.close();
    }
  },
});

Deno.test({
  name: "POST /v1/authorizations seals what a permission covers and refuses the rest",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lotse = await startTestLotse();
    try {
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      const authorize = (body: unknown, token = consumer) =>
        lotse.fetch("/v1/authorizations", {
          method: "POST",
          headers: bearer(token, { "content-type": "application/json" }),
          body: JSON.stringify(body),
        });
      const grant = DEMO_PARKING_AUTHORIZATION;

      await t.step("201 with a token whose claims are exactly the contract's", async () => {
        const digest = "sha-256=:" + btoa(String.fromCharCode(...new Uint8Array(32).fill(7))) + ":";
        const res = await authorize({ ...grant, requestDigest: digest });
        assert.equal(res.status, 201);
        const body = await res.json();
        assert.deepEqual(Object.keys(body).sort(), ["expiresAt", "jti", "token"]);
        const jwks = await (await lotse.fetch("/.well-known/jwks.json")).json();
        const { ok, header, claims } = independentVerify(body.token, jwks);
        assert.ok(ok);
        assert.ok(typeof header.kid === "string");
        assert.deepEqual(Object.keys(claims).sort(), [
          "aud",
          "evidence_type",
          "exp",
          "iat",
          "idnr_used",
          "iss",
          "jti",
          "legal_basis",
          "purpose",
          "req_digest",
          "sub",
        ]);
        assert.equal(claims.sub, "stuttgart-bewohnerparken");
        assert.equal(claims.aud, "kba-zfzr");
        assert.equal(claims.req_digest, digest);
        assert.equal(claims.jti, body.jti);
        assert.ok((claims.exp as number) - (claims.iat as number) <= 300);
        assert.equal(new Date((claims.exp as number) * 1000).toISOString(), body.expiresAt);
      });

      for (
        const [what, change] of [
          ["another purpose", { purpose: "werbung" }],
          ["another legal basis", { legalBasis: "§ 1 Nichts" }],
          ["another provider", { providerId: "gewerberegister-08111000" }],
          ["another evidence type", { evidenceType: "meldebescheinigung" }],
        ] as const
      ) {
        await t.step(`403 not-permitted for ${what}`, async () => {
          const res = await authorize({ ...grant, ...change });
          assert.equal(res.status, 403);
          const body = await res.json();
          assert.equal(body.type, "https://lotse.dev/problems/not-permitted");
        });
      }

      await t.step("IDNr use outside the permission is refused", async () => {
        const gewerbe = await lotse.token("service-bw-gewerbe");
        const res = await authorize({
          evidenceType: "handelsregisterauszug",
          providerId: "handelsregister-ag-stuttgart",
          purpose: DEMO_PURPOSES.gewerbe.purpose,
          legalBasis: DEMO_PURPOSES.gewerbe.legalBasis,
          idnrUsed: true,
        }, gewerbe);
        assert.equal(res.status, 403);
      });

      await t.step("bad bodies are 400, unknown ids 404, other roles 403", async () => {
        assert.equal((await authorize({ ...grant, idnrUsed: "yes" })).status, 400);
        assert.equal((await authorize({ ...grant, requestDigest: "md5=:x:" })).status, 400);
        assert.equal((await authorize({ ...grant, extra: 1 })).status, 400);
        assert.equal((await authorize({ ...grant, providerId: "nobody" })).status, 404);
        const dsc = await lotse.token("dsc-cockpit");
        assert.equal((await authorize(grant, dsc)).status, 403);
      });

      await t.step("every decision is in the protocol", async () => {
        // drain(): a slow write may have gone to the spool; drain() waits until it is in
        // PostgreSQL, which is what the query below reads.
        await lotse.lotse.protocol.drain();
        const rows = await lotse.lotse.db.sql<{ outcome: string; n: number }>`
          select outcome, count(*)::int as n from protocol_entries
          where consumer_id = 'stuttgart-bewohnerparken' group by outcome order by outcome`;
        assert.deepEqual(rows, [{ outcome: "granted", n: 1 }, { outcome: "refused", n: 4 }]);
      });
    } finally {
      await lotse.close();
    }
  },
});
