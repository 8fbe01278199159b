/**
 * `LOTSE_TOKEN_ALG=EdDSA` end to end over real sockets: the JWKS announces an OKP Ed25519 key,
 * access and evidence tokens are sealed with EdDSA, a provider that knows only the JWKS from
 * HTTP verifies them (independently with node:crypto, with the provider kit, the demo
 * register on the JSON face, the XNachweis register), and refuses them tampered. The ES256
 * default is checked beside it.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createPublicKey, verify } from "node:crypto";
import { decodeProtectedHeader } from "jose";
import { type Jwks, verifyEvidenceToken } from "../crypto/mod.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";
import { parseXml, setIssuedToken } from "../src/xnachweis/mod.ts";
import { bearer, startTestLotse } from "./_app.ts";
import { PILOTS, postXml, startXmlLotse } from "./_xnachweis.ts";

const { purpose, legalBasis } = DEMO_PURPOSES.bewohnerparken;
const AUTHORIZATION = JSON.stringify({
  evidenceType: "fahrzeugzulassung",
  providerId: "kba-zfzr",
  purpose,
  legalBasis,
  idnrUsed: false,
});

/** The token with one payload claim changed and the signature kept. */
function tampered(token: string): string {
  const [h, p, s] = token.split(".") as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
  const forged = Buffer.from(JSON.stringify({ ...claims, purpose: "anything" }))
    .toString("base64url");
  return `${h}.${forged}.${s}`;
}

/** Ed25519 verification with node:crypto alone, against the JWKS as JSON. */
function ed25519Verifies(token: string, jwks: Jwks): boolean {
  const [h, p, s] = token.split(".") as [string, string, string];
  const { kid } = decodeProtectedHeader(token);
  const jwk = jwks.keys.find((k) => k.kid === kid);
  assert.ok(jwk !== undefined, `kid "${kid}" is published`);
  const key = createPublicKey({ key: { ...jwk }, format: "jwk" });
  return verify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s, "base64url"));
}

Deno.test({
  name: "LOTSE_TOKEN_ALG=EdDSA seals with Ed25519 and providers verify against the JWKS",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const { lotse, register, close } = await startXmlLotse({
      env: { LOTSE_TOKEN_ALG: "EdDSA" },
    });
    try {
      const jwksRes = await lotse.fetch("/.well-known/jwks.json");
      assert.equal(jwksRes.status, 200);
      const jwks: Jwks = await jwksRes.json();

      await t.step("the JWKS announces one OKP Ed25519 key with alg EdDSA", () => {
        assert.equal(jwks.keys.length, 1);
        const [key] = jwks.keys;
        assert.deepEqual(
          { kty: key!.kty, crv: key!.crv, alg: key!.alg, use: key!.use },
          { kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" },
        );
        assert.ok(!("d" in key!), "no private member");
      });

      const consumer = await lotse.token(PILOTS.bewohnerparkausweis.consumer);
      await t.step("access tokens are EdDSA and Lotse accepts them", () => {
        assert.equal(decodeProtectedHeader(consumer).alg, "EdDSA");
        assert.equal(decodeProtectedHeader(consumer).kid, jwks.keys[0]!.kid);
      });

      const res = await lotse.fetch("/v1/authorizations", {
        method: "POST",
        headers: bearer(consumer, { "content-type": "application/json" }),
        body: AUTHORIZATION,
      });
      const sealed = await res.json();
      await t.step("POST /v1/authorizations seals an EdDSA evidence token", () => {
        assert.equal(res.status, 201, JSON.stringify(sealed));
        const header = decodeProtectedHeader(sealed.token);
        assert.deepEqual(header, {
          alg: "EdDSA",
          kid: jwks.keys[0]!.kid,
          typ: "lotse-evidence+jwt",
        });
      });

      await t.step("a provider verifies it from the JWKS and refuses it tampered", async () => {
        assert.equal(ed25519Verifies(sealed.token, jwks), true);
        assert.equal(ed25519Verifies(tampered(sealed.token), jwks), false);
        const options = { audience: "kba-zfzr", issuer: lotse.publicUrl };
        const checked = await verifyEvidenceToken(sealed.token, jwks, options);
        assert.ok(checked.ok, JSON.stringify(checked));
        assert.equal(checked.claims.jti, sealed.jti);
        const refused = await verifyEvidenceToken(tampered(sealed.token), jwks, options);
        assert.ok(!refused.ok);
        assert.equal(refused.fault, "signature");
      });

      await t.step("the demo register takes the token and refuses it tampered", async () => {
        const port = lotse.lotse.demoProvider!.port;
        const call = (token: string) =>
          fetch(`http://127.0.0.1:${port}/providers/kba-zfzr`, {
            method: "POST",
            headers: bearer(token, {
              "lotse-evidence-type": "fahrzeugzulassung",
              "content-type": "application/json",
            }),
            body: '{"kennzeichen":"S-LO 1234"}',
          });
        const good = await call(sealed.token);
        assert.equal(good.status, 200, await good.clone().text());
        await good.body?.cancel();
        const bad = await call(tampered(sealed.token));
        const problem = await bad.json();
        assert.equal(bad.status, 401);
        assert.match(problem.detail, /signature does not verify/);
      });

      await t.step("a JSON transfer through Lotse reaches the demo register", async () => {
        const transfer = await lotse.fetch("/v1/evidence/fahrzeugzulassung?plz=70173", {
          method: "POST",
          headers: bearer(consumer, {
            "lotse-purpose": purpose,
            "lotse-legal-basis": legalBasis,
            "content-type": "application/json",
          }),
          body: '{"kennzeichen":"S-LO 1234"}',
        });
        const evidence = await transfer.json();
        assert.equal(transfer.status, 200, JSON.stringify(evidence));
        assert.equal(evidence.fahrzeug.kennzeichen, "S-LO 1234");
      });

      await t.step("the XNachweis face: an EdDSA IssuedToken reaches the register", async () => {
        const kba = PILOTS.bewohnerparkausweis;
        const xml = await Deno.readTextFile(kba.file);
        const answer = await postXml(lotse, consumer, xml, {
          "lotse-purpose": kba.purpose,
          "lotse-legal-basis": kba.legalBasis,
        });
        assert.equal(answer.status, 200, (await answer.clone().text()).slice(0, 600));
        await answer.body?.cancel();
        const forwarded = register.last!.headers.get("authorization")!.slice("Bearer ".length);
        assert.equal(decodeProtectedHeader(forwarded).alg, "EdDSA");

        // The consumer's own IssuedToken, tampered: Lotse's XML face refuses it in a 0103.
        const doc = parseXml(new TextEncoder().encode(xml), { maxBytes: 1 << 20 });
        setIssuedToken(doc, tampered(sealed.token));
        const message = doc.toString({ format: false });
        doc.dispose();
        const refused = await postXml(lotse, consumer, message);
        const text = await refused.text();
        assert.equal(refused.status, 401, text.slice(0, 600));
        assert.match(text, /IssuedToken refused: Cannot accept token: signature does not verify/);
      });
    } finally {
      await close();
    }
  },
});

Deno.test({
  name: "without LOTSE_TOKEN_ALG the JWKS and tokens stay ES256 on EC P-256",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lotse = await startTestLotse();
    try {
      const jwks: Jwks = await (await lotse.fetch("/.well-known/jwks.json")).json();
      assert.deepEqual(jwks.keys.map((k) => [k.kty, k.crv, k.alg]), [["EC", "P-256", "ES256"]]);
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      assert.equal(decodeProtectedHeader(consumer).alg, "ES256");
      const res = await lotse.fetch("/v1/authorizations", {
        method: "POST",
        headers: bearer(consumer, { "content-type": "application/json" }),
        body: AUTHORIZATION,
      });
      const sealed = await res.json();
      assert.equal(res.status, 201, JSON.stringify(sealed));
      assert.equal(decodeProtectedHeader(sealed.token).alg, "ES256");
      const checked = await verifyEvidenceToken(sealed.token, jwks, { audience: "kba-zfzr" });
      assert.ok(checked.ok, JSON.stringify(checked));
    } finally {
      await lotse.close();
    }
  },
});
