import assert from "node:assert/strict";
import { createPublicKey, type JsonWebKey as NodeJwk, verify } from "node:crypto";
import { Buffer } from "node:buffer";
import { type EvidenceGrant, sealEvidenceToken, verifyEvidenceToken } from "./evidence_token.ts";
import { DEFAULT_RETENTION_MS, type TokenAlgorithm } from "./keys.ts";
import { b64url, FakeClock, SEAL_CLAIMS, testRing, unsignedToken } from "./_testing.ts";

const ISSUER = "https://lotse.example";
const { requestDigest: _, ...GRANT }: EvidenceGrant & { requestDigest: string } = SEAL_CLAIMS;

/**
 * A provider's check written without jose and without Lotse's code: node:crypto only,
 * against the JWKS as it would arrive over HTTP (JSON).
 */
function independentlyVerify(token: string, jwksJson: string): Record<string, unknown> {
  const [h, p, s] = token.split(".") as [string, string, string];
  const header = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
  const jwks = JSON.parse(jwksJson) as { keys: (NodeJwk & { kid: string; alg: string })[] };
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (jwk === undefined) throw new Error(`kid "${header.kid}" is not published`);
  assert.equal(header.alg, jwk.alg, "the header's alg is the one the JWKS announces");
  const key = createPublicKey({ key: jwk, format: "jwk" });
  const data = Buffer.from(`${h}.${p}`, "ascii");
  const signature = Buffer.from(s, "base64url");
  const ok = header.alg === "EdDSA"
    ? jwk.kty === "OKP" && jwk.crv === "Ed25519" && verify(null, data, key, signature)
    : header.alg === "ES256" && jwk.kty === "EC" && jwk.crv === "P-256" &&
      verify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, signature);
  if (!ok) throw new Error("signature does not verify");
  return JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
}

async function setup(algorithm: TokenAlgorithm = "ES256") {
  const clock = new FakeClock();
  const ring = await testRing(clock, { algorithm });
  const seal = (grant: EvidenceGrant = GRANT) =>
    sealEvidenceToken(grant, { keys: ring, issuer: ISSUER, now: clock.ms });
  return { clock, ring, seal };
}

Deno.test("sealEvidenceToken() writes exactly the contract's claims, verifiable by node:crypto", async () => {
  const { clock, ring, seal } = await setup();
  const sealed = await seal();
  const claims = independentlyVerify(sealed.token, JSON.stringify(ring.jwks()));
  const iat = clock.ms / 1000;
  assert.deepEqual(claims, {
    iss: ISSUER,
    sub: "stadt-musterstadt-parken",
    aud: "kba-zfzr",
    evidence_type: "fahrzeugzulassung",
    purpose: "bewohnerparkausweis",
    legal_basis: "StVO § 45 Abs. 1b Nr. 2a",
    idnr_used: true,
    iat,
    exp: iat + 300,
    jti: sealed.jti,
  });
  assert.equal(sealed.expiresAt, new Date((iat + 300) * 1000).toISOString());
});

Deno.test("sealEvidenceToken() adds req_digest only when given", async () => {
  const { ring, seal } = await setup();
  const digest = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
  const claims = independentlyVerify(
    (await seal({ ...GRANT, requestDigest: digest })).token,
    JSON.stringify(ring.jwks()),
  );
  assert.equal(claims.req_digest, digest);
  const without = independentlyVerify((await seal()).token, JSON.stringify(ring.jwks()));
  assert.ok(!("req_digest" in without));
});

Deno.test("sealEvidenceToken() puts alg ES256 and the active kid in the header", async () => {
  const { ring, seal } = await setup();
  const [h] = (await seal()).token.split(".");
  const header = JSON.parse(Buffer.from(h!, "base64url").toString("utf8"));
  assert.deepEqual(header, { alg: "ES256", kid: ring.activeKid, typ: "lotse-evidence+jwt" });
});

Deno.test("sealEvidenceToken() gives every token its own jti", async () => {
  const { seal } = await setup();
  const a = await seal();
  const b = await seal();
  assert.notEqual(a.jti, b.jti);
});

Deno.test("sealEvidenceToken() refuses a lifetime over 5 minutes", async () => {
  const { ring } = await setup();
  await assert.rejects(
    sealEvidenceToken(GRANT, { keys: ring, issuer: ISSUER, lifetimeSeconds: 600 }),
    RangeError,
  );
});

Deno.test("an evidence token sealed before a rotation verifies with the JWKS published after it", async () => {
  const { clock, ring, seal } = await setup();
  const before = await seal();
  const oldKid = ring.activeKid;
  await ring.rotate();
  assert.notEqual(ring.activeKid, oldKid);
  const after = await seal();

  const published = JSON.stringify(ring.jwks());
  assert.equal(independentlyVerify(before.token, published).jti, before.jti);
  assert.equal(independentlyVerify(after.token, published).jti, after.jti);

  clock.advance(DEFAULT_RETENTION_MS / 1000);
  const later = JSON.stringify(ring.jwks());
  assert.ok(!later.includes(oldKid));
  assert.throws(() => independentlyVerify(before.token, later), /is not published/);
  assert.equal(independentlyVerify(after.token, later).jti, after.jti);
});

Deno.test("the independent verifier notices a tampered evidence token", async () => {
  const { ring, seal } = await setup();
  const [h, , s] = (await seal()).token.split(".");
  const forged = `${h}.${b64url(JSON.stringify({ aud: "kba-zfzr", purpose: "anything" }))}.${s}`;
  assert.throws(() => independentlyVerify(forged, JSON.stringify(ring.jwks())), /does not verify/);
});

Deno.test("verifyEvidenceToken() accepts a fresh token for its own audience", async () => {
  const { clock, ring, seal } = await setup();
  const sealed = await seal({ ...GRANT, requestDigest: "sha-256=:AA==:" });
  const result = await verifyEvidenceToken(sealed.token, ring.jwks(), {
    audience: "kba-zfzr",
    issuer: ISSUER,
    now: clock.ms + 10_000,
  });
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.claims.jti, sealed.jti);
  assert.equal(result.claims.req_digest, "sha-256=:AA==:");
});

Deno.test("verifyEvidenceToken() refuses another provider's token", async () => {
  const { clock, ring, seal } = await setup();
  const result = await verifyEvidenceToken((await seal()).token, ring.jwks(), {
    audience: "gewerberegister-stuttgart",
    now: clock.ms,
  });
  assert.ok(!result.ok);
  assert.equal(result.fault, "audience");
});

Deno.test("verifyEvidenceToken() refuses an expired token and a wrong issuer", async () => {
  const { clock, ring, seal } = await setup();
  const { token } = await seal();
  const expired = await verifyEvidenceToken(token, ring.jwks(), {
    audience: "kba-zfzr",
    now: clock.ms + 331_000,
  });
  assert.ok(!expired.ok);
  assert.equal(expired.fault, "expired");
  const issuer = await verifyEvidenceToken(token, ring.jwks(), {
    audience: "kba-zfzr",
    issuer: "https://other.example",
    now: clock.ms,
  });
  assert.ok(!issuer.ok);
  assert.equal(issuer.fault, "issuer");
});

Deno.test("verifyEvidenceToken() refuses a kid missing from the JWKS, alg none and garbage", async () => {
  const { clock, ring, seal } = await setup();
  const stranger = await testRing(clock);
  const options = { audience: "kba-zfzr", now: clock.ms };
  const unknown = await verifyEvidenceToken((await seal()).token, stranger.jwks(), options);
  assert.ok(!unknown.ok);
  assert.equal(unknown.fault, "unknown_key");

  const none = await verifyEvidenceToken(
    unsignedToken({ aud: "kba-zfzr", exp: clock.ms / 1000 + 60 }, "AA"),
    ring.jwks(),
    options,
  );
  assert.ok(!none.ok);
  assert.equal(none.fault, "algorithm");

  for (const junk of [undefined, "", "a.b", "a.b.c", "x".repeat(9000)]) {
    const result = await verifyEvidenceToken(junk, ring.jwks(), options);
    assert.ok(!result.ok, String(junk));
  }
});

Deno.test("sealEvidenceToken() with an EdDSA ring signs Ed25519, verifiable by node:crypto", async () => {
  const { ring, seal } = await setup("EdDSA");
  const sealed = await seal();
  const [h] = sealed.token.split(".");
  assert.deepEqual(JSON.parse(Buffer.from(h!, "base64url").toString("utf8")), {
    alg: "EdDSA",
    kid: ring.activeKid,
    typ: "lotse-evidence+jwt",
  });
  const published = JSON.stringify(ring.jwks());
  assert.equal(independentlyVerify(sealed.token, published).jti, sealed.jti);
  const [, , sig] = sealed.token.split(".");
  const forged = `${h}.${b64url(JSON.stringify({ aud: "kba-zfzr", purpose: "anything" }))}.${sig}`;
  assert.throws(() => independentlyVerify(forged, published), /does not verify/);
});

Deno.test("verifyEvidenceToken() accepts an EdDSA token the JWKS announces and refuses it tampered", async () => {
  const { clock, ring, seal } = await setup("EdDSA");
  const sealed = await seal();
  const options = { audience: "kba-zfzr", issuer: ISSUER, now: clock.ms };
  const result = await verifyEvidenceToken(sealed.token, ring.jwks(), options);
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.claims.jti, sealed.jti);

  const [h, p, s] = sealed.token.split(".") as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
  const payload = b64url(JSON.stringify({ ...claims, purpose: "anything" }));
  const tampered = await verifyEvidenceToken(`${h}.${payload}.${s}`, ring.jwks(), options);
  assert.ok(!tampered.ok);
  assert.equal(tampered.fault, "signature");
  const flipped = `${h}.${p}.${s.startsWith("A") ? "B" : "A"}${s.slice(1)}`;
  const bad = await verifyEvidenceToken(flipped, ring.jwks(), options);
  assert.ok(!bad.ok);
  assert.equal(bad.fault, "signature");
});

Deno.test("verifyEvidenceToken() refuses an algorithm the JWKS does not announce for the kid", async () => {
  const { clock, ring, seal } = await setup("EdDSA");
  const options = { audience: "kba-zfzr", now: clock.ms };
  // An ES256 token under the EdDSA key's kid, signed by a stranger's EC key.
  const stranger = await testRing(clock);
  const [, p] = (await seal()).token.split(".") as [string, string];
  const header = b64url(
    JSON.stringify({ alg: "ES256", kid: ring.activeKid, typ: "lotse-evidence+jwt" }),
  );
  const input = new TextEncoder().encode(`${header}.${p}`);
  const signature = new Uint8Array(
    await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      stranger.signingKey().key,
      input,
    ),
  );
  const confused = `${header}.${p}.${b64url(signature)}`;
  const onlyEd = await verifyEvidenceToken(confused, ring.jwks(), options);
  assert.ok(!onlyEd.ok);
  assert.equal(onlyEd.fault, "algorithm");
  // After a switch both algorithms are announced, each for its own key: still refused.
  const both = { keys: [...ring.jwks().keys, ...stranger.jwks().keys] };
  const mixed = await verifyEvidenceToken(confused, both, options);
  assert.ok(!mixed.ok);
  assert.equal(mixed.fault, "unknown_key");
  const ok = await verifyEvidenceToken((await seal()).token, both, options);
  assert.ok(ok.ok);
});
