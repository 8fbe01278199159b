import assert from "node:assert/strict";
import { decodeJwt, decodeProtectedHeader, exportSPKI } from "jose";
import type { Client } from "../src/model.ts";
import {
  type AccessTokenResult,
  AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  issueAccessToken,
} from "./access_token.ts";
import { signJws } from "./_jws.ts";
import { sealEvidenceToken } from "./evidence_token.ts";
import {
  DEFAULT_RETENTION_MS,
  type KeyRing,
  type TokenAlgorithm,
  type VerificationKeys,
} from "./keys.ts";
import { b64url, FakeClock, hs256WithPublicKey, testRing, unsignedToken } from "./_testing.ts";

const ISSUER = "https://lotse.example";
const CLIENT: Client = {
  id: "stadt-a",
  name: "Stadt A",
  roles: ["consumer", "dsc"],
  jwks: { keys: [] },
};

async function setup(
  options: Partial<AccessTokenVerifierOptions> = {},
  algorithm: TokenAlgorithm = "ES256",
) {
  const clock = new FakeClock();
  const ring = await testRing(clock, { algorithm });
  const verifier = new AccessTokenVerifier(ring, {
    issuer: ISSUER,
    audience: ISSUER,
    now: clock.now,
    ...options,
  });
  const issue = async (client: Pick<Client, "id" | "roles"> = CLIENT) =>
    (await issueAccessToken(client, {
      keys: ring,
      issuer: ISSUER,
      audience: ISSUER,
      now: clock.ms,
    }))
      .token;
  return { clock, ring, verifier, issue };
}

function assertRefused(result: AccessTokenResult, fault: string): void {
  assert.equal(result.ok, false, "token was accepted");
  if (result.ok) return;
  assert.equal(result.fault, fault, result.description);
  assert.equal(result.error, "invalid_token");
}

/** Claims as issueAccessToken writes them, for hand-made variants. */
function claimsAt(ms: number, extra: Record<string, unknown> = {}) {
  const iat = Math.floor(ms / 1000);
  return {
    iss: ISSUER,
    sub: CLIENT.id,
    aud: ISSUER,
    iat,
    exp: iat + 300,
    jti: crypto.randomUUID(),
    roles: ["consumer"],
    ...extra,
  };
}

Deno.test("issueAccessToken() writes sub, roles, iss, aud, iat, exp and jti, ES256 with kid", async () => {
  const { ring, clock, issue } = await setup();
  const token = await issue();
  const header = decodeProtectedHeader(token);
  assert.deepEqual(header, { alg: "ES256", kid: ring.activeKid, typ: "at+jwt" });
  const claims = decodeJwt(token);
  assert.deepEqual(Object.keys(claims).sort(), [
    "aud",
    "exp",
    "iat",
    "iss",
    "jti",
    "roles",
    "sub",
  ]);
  assert.equal(claims.sub, "stadt-a");
  assert.deepEqual(claims.roles, ["consumer", "dsc"]);
  assert.equal(claims.iat, clock.ms / 1000);
  assert.equal(claims.exp, clock.ms / 1000 + 300);
});

Deno.test("issueAccessToken() refuses a lifetime over 5 minutes", async () => {
  const { ring } = await setup();
  await assert.rejects(
    issueAccessToken(CLIENT, {
      keys: ring,
      issuer: ISSUER,
      audience: ISSUER,
      lifetimeSeconds: 301,
    }),
    RangeError,
  );
});

Deno.test("AccessTokenVerifier accepts a token it issued and reports client, roles, exp", async () => {
  const { verifier, issue, clock } = await setup();
  const result = await verifier.verify(await issue());
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.clientId, "stadt-a");
  assert.deepEqual(result.roles, ["consumer", "dsc"]);
  assert.equal(result.exp, clock.ms / 1000 + 300);
});

Deno.test("AccessTokenVerifier answers a repeated token from its cache without a key lookup", async () => {
  const clock = new FakeClock();
  const ring = await testRing(clock);
  let lookups = 0;
  const counting: VerificationKeys = {
    verificationKey: (kid) => (lookups++, ring.verificationKey(kid)),
  };
  const verifier = new AccessTokenVerifier(counting, {
    issuer: ISSUER,
    audience: ISSUER,
    now: clock.now,
  });
  const { token } = await issueAccessToken(CLIENT, {
    keys: ring,
    issuer: ISSUER,
    audience: ISSUER,
    now: clock.ms,
  });
  assert.equal(verifier.cached(token), undefined);
  const first = await verifier.verify(token);
  const second = await verifier.verify(token);
  assert.equal(lookups, 1);
  assert.equal(second, first);
  assert.equal(verifier.cached(token), first);
});

Deno.test("AccessTokenVerifier refuses an expired token, cached or not", async () => {
  const { verifier, issue, clock } = await setup();
  const token = await issue();
  assert.ok((await verifier.verify(token)).ok);
  clock.advance(300 + 30);
  assert.equal(verifier.cached(token), undefined);
  assertRefused(await verifier.verify(token), "expired");
  verifier.clearCache();
  assertRefused(await verifier.verify(token), "expired");
});

Deno.test("AccessTokenVerifier refuses a token that is not yet valid", async () => {
  const { verifier, ring, clock } = await setup();
  const future = await signJws(claimsAt(clock.ms + 120_000), ring.signingKey(), "at+jwt");
  assertRefused(await verifier.verify(future), "not_yet_valid");
  const nbf = await signJws(
    claimsAt(clock.ms, { nbf: clock.ms / 1000 + 120 }),
    ring.signingKey(),
    "at+jwt",
  );
  assertRefused(await verifier.verify(nbf), "not_yet_valid");
});

Deno.test("AccessTokenVerifier refuses a token with exp too far ahead", async () => {
  const { verifier, ring, clock } = await setup();
  const long = await signJws(
    claimsAt(clock.ms, { exp: clock.ms / 1000 + 3600 }),
    ring.signingKey(),
    "at+jwt",
  );
  assertRefused(await verifier.verify(long), "lifetime");
});

Deno.test("AccessTokenVerifier refuses a wrong aud and a wrong iss", async () => {
  const { verifier, ring, clock } = await setup();
  const signer = ring.signingKey();
  const aud = await signJws(claimsAt(clock.ms, { aud: "https://other.example" }), signer, "at+jwt");
  assertRefused(await verifier.verify(aud), "audience");
  const iss = await signJws(claimsAt(clock.ms, { iss: "https://other.example" }), signer, "at+jwt");
  assertRefused(await verifier.verify(iss), "issuer");
});

Deno.test("AccessTokenVerifier refuses an unknown kid", async () => {
  const { verifier, clock } = await setup();
  const stranger = await testRing(clock);
  const token = await issueAccessToken(CLIENT, {
    keys: stranger,
    issuer: ISSUER,
    audience: ISSUER,
    now: clock.ms,
  });
  assertRefused(await verifier.verify(token.token), "unknown_key");
  const noKid = `${b64url(JSON.stringify({ alg: "ES256", typ: "at+jwt" }))}.${
    token.token.split(".").slice(1).join(".")
  }`;
  assertRefused(await verifier.verify(noKid), "unknown_key");
});

Deno.test("AccessTokenVerifier refuses a wrong signature under a known kid", async () => {
  const { verifier, ring, clock } = await setup();
  const stranger = await testRing(clock);
  const forged = await signJws(
    claimsAt(clock.ms),
    { ...stranger.signingKey(), kid: ring.activeKid },
    "at+jwt",
  );
  assertRefused(await verifier.verify(forged), "signature");
  const good = await issueAccessToken(CLIENT, {
    keys: ring,
    issuer: ISSUER,
    audience: ISSUER,
    now: clock.ms,
  });
  const [h, , s] = good.token.split(".");
  const elevated = `${h}.${
    b64url(JSON.stringify(claimsAt(clock.ms, { roles: ["operator"] })))
  }.${s}`;
  assertRefused(await verifier.verify(elevated), "signature");
});

Deno.test("AccessTokenVerifier refuses alg none", async () => {
  const { verifier, clock } = await setup();
  assertRefused(await verifier.verify(unsignedToken(claimsAt(clock.ms))), "malformed");
  assertRefused(await verifier.verify(unsignedToken(claimsAt(clock.ms), "c2ln")), "algorithm");
});

Deno.test("AccessTokenVerifier refuses HS256 signed with Lotse's public key", async () => {
  const { verifier, ring, clock } = await setup();
  const jwk = ring.jwks().keys[0]!;
  const pem = await exportSPKI(ring.verificationKey(ring.activeKid)!);
  for (const secret of [JSON.stringify(jwk), pem, jwk.x]) {
    const token = await hs256WithPublicKey(
      claimsAt(clock.ms),
      { kid: ring.activeKid, typ: "at+jwt" },
      new TextEncoder().encode(secret),
    );
    assertRefused(await verifier.verify(token), "algorithm");
  }
});

Deno.test("AccessTokenVerifier refuses malformed and oversized tokens without throwing", async () => {
  const { verifier, issue } = await setup();
  const [h, p, s] = (await issue()).split(".");
  assertRefused(await verifier.verify(undefined), "missing");
  assertRefused(await verifier.verify(42), "missing");
  assertRefused(await verifier.verify("Bearer"), "malformed");
  assertRefused(await verifier.verify(`${h}.${p}`), "malformed");
  assertRefused(await verifier.verify(`${h}.${p}.${s}.${s}`), "malformed");
  assertRefused(await verifier.verify(`${h}.${p}.${s}==`), "malformed");
  assertRefused(await verifier.verify(`${b64url("{")}.${p}.${s}`), "malformed");
  assertRefused(await verifier.verify(`${h}.${p}.${"A".repeat(8200)}`), "oversized");
});

Deno.test("AccessTokenVerifier refuses an evidence token presented as an access token", async () => {
  const { verifier, ring, clock } = await setup();
  const { token } = await sealEvidenceToken({
    consumerId: "stadt-a",
    providerId: ISSUER,
    evidenceType: "x",
    purpose: "p",
    legalBasis: "l",
    idnrUsed: false,
  }, { keys: ring, issuer: ISSUER, now: clock.ms });
  assertRefused(await verifier.verify(token), "type");
});

Deno.test("AccessTokenVerifier refuses a deleted client's tokens at once, even cached", async () => {
  const table = new Map([[CLIENT.id, CLIENT]]);
  const { verifier, issue } = await setup({ clients: (id) => table.get(id) });
  const token = await issue();
  assert.ok((await verifier.verify(token)).ok);
  table.delete(CLIENT.id);
  assert.equal(verifier.cached(token), undefined);
  assertRefused(await verifier.verify(token), "unknown_client");
});

Deno.test("AccessTokenVerifier grants only roles the client still has", async () => {
  const table = new Map([[CLIENT.id, CLIENT]]);
  const { verifier, issue } = await setup({ clients: (id) => table.get(id) });
  const token = await issue();
  assert.deepEqual((await verifier.verify(token) as { roles: unknown }).roles, ["consumer", "dsc"]);
  table.set(CLIENT.id, { ...CLIENT, roles: ["consumer"] });
  const result = await verifier.verify(token);
  assert.ok(result.ok);
  assert.deepEqual(result.roles, ["consumer"]);
});

Deno.test("AccessTokenVerifier.revokeClient() stops earlier tokens, not later ones", async () => {
  const { verifier, issue, clock } = await setup();
  const before = await issue();
  assert.ok((await verifier.verify(before)).ok);
  verifier.revokeClient(CLIENT.id);
  assertRefused(await verifier.verify(before), "revoked");
  clock.advance(1);
  assert.ok((await verifier.verify(await issue())).ok);
});

Deno.test("AccessTokenVerifier keeps its cache within maxEntries", async () => {
  const { verifier, issue } = await setup({ maxEntries: 2 });
  for (let i = 0; i < 5; i++) assert.ok((await verifier.verify(await issue())).ok);
  assert.equal(verifier.cacheSize, 2);
});

Deno.test("AccessTokenVerifier accepts tokens signed before a rotation until they expire", async () => {
  const { verifier, ring, issue, clock } = await setup();
  const before = await issue();
  await (ring as KeyRing).rotate();
  verifier.clearCache();
  assert.ok((await verifier.verify(before)).ok);
  assert.ok((await verifier.verify(await issue())).ok);
  clock.advance(DEFAULT_RETENTION_MS / 1000);
  verifier.clearCache();
  assertRefused(await verifier.verify(before), "unknown_key");
});

Deno.test("AccessTokenVerifier accepts EdDSA tokens of an EdDSA ring and only under their own alg", async () => {
  const { verifier, ring, clock, issue } = await setup({}, "EdDSA");
  const token = await issue();
  assert.equal(decodeProtectedHeader(token).alg, "EdDSA");
  const ok = await verifier.verify(token);
  assert.ok(ok.ok, JSON.stringify(ok));
  assert.equal(ok.clientId, CLIENT.id);

  // The same kid with alg ES256, signed by an EC key: the kid names an Ed25519 key.
  const stranger = await testRing(clock);
  const confused = await signJws(
    claimsAt(clock.ms),
    { ...stranger.signingKey(), kid: ring.activeKid },
    "at+jwt",
  );
  assert.equal(decodeProtectedHeader(confused).alg, "ES256");
  assertRefused(await verifier.verify(confused), "algorithm");
  const forged = await signJws(
    claimsAt(clock.ms),
    { ...(await testRing(clock, { algorithm: "EdDSA" })).signingKey(), kid: ring.activeKid },
    "at+jwt",
  );
  assertRefused(await verifier.verify(forged), "signature");
});
