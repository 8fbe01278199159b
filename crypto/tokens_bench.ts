/**
 * The token path's costs: a repeated access token (cache hit) against a full signature
 * check, and sealing an evidence token against a bare ES256 signature.
 *
 * Run: `deno bench --allow-all crypto/tokens_bench.ts`
 *
 * @module
 */

import { AccessTokenVerifier, issueAccessToken } from "./access_token.ts";
import { ReplayCache } from "./caches.ts";
import { verifyClientAssertion } from "./client_assertion.ts";
import { sealEvidenceToken } from "./evidence_token.ts";
import { KeyRing } from "./keys.ts";
import { memoryKeyStore } from "./key_store.ts";
import { assertion, makeClient, SEAL_CLAIMS, SECRET } from "./_testing.ts";
import { generateKeyPairSync, sign as nodeSign } from "node:crypto";
import { CompactSign } from "jose";

const ISSUER = "https://lotse.example";
const TOKEN_URL = `${ISSUER}/v1/token`;
const ring = await KeyRing.open(memoryKeyStore(SECRET));
const tc = await makeClient("stadt-a");
const { token } = await issueAccessToken(tc.client, {
  keys: ring,
  issuer: ISSUER,
  audience: ISSUER,
});
const clients = (id: string) => id === tc.client.id ? tc.client : undefined;
const cachedVerifier = new AccessTokenVerifier(ring, { issuer: ISSUER, audience: ISSUER, clients });
await cachedVerifier.verify(token);
const uncachedVerifier = new AccessTokenVerifier(ring, {
  issuer: ISSUER,
  audience: ISSUER,
  clients,
});
const plainMap = new Map([[token, { clientId: "stadt-a" }]]);

Deno.bench("Map.get of the token string (floor)", { group: "verify", baseline: true }, () => {
  if (plainMap.get(token) === undefined) throw new Error("miss");
});

Deno.bench("AccessTokenVerifier.cached(), repeated token", { group: "verify" }, () => {
  if (cachedVerifier.cached(token) === undefined) throw new Error("miss");
});

Deno.bench("AccessTokenVerifier.verify(), repeated token", { group: "verify" }, async () => {
  if (!(await cachedVerifier.verify(token)).ok) throw new Error("refused");
});

Deno.bench("AccessTokenVerifier.verify(), signature checked", { group: "verify" }, async () => {
  uncachedVerifier.clearCache();
  if (!(await uncachedVerifier.verify(token)).ok) throw new Error("refused");
});

const replay = new ReplayCache({ maxEntries: 10_000_000 });
const assertions: string[] = [];
for (let i = 0; i < 2_000; i++) {
  assertions.push(await assertion(tc, { now: Date.now(), audience: TOKEN_URL }));
}
let next = 0;
Deno.bench("verifyClientAssertion(), fresh assertion", { group: "verify" }, async () => {
  // Each assertion is usable once; after the pool is spent they count as refused replays.
  const result = await verifyClientAssertion(assertions[next++ % assertions.length], {
    clients,
    audience: TOKEN_URL,
    replay,
  });
  if (!result.ok && result.fault !== "replayed") throw new Error(result.description);
});

const signingInput = new TextEncoder().encode("x".repeat(400));
Deno.bench("crypto.subtle.sign ES256 alone", { group: "sign", baseline: true }, async () => {
  await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    ring.signingKey().key,
    signingInput,
  );
});

// The other signers Deno offers here, for docs/targets.md P10: node:crypto and jose with a
// KeyObject made once (same P-256 curve), and Ed25519 (EdDSA) through Web Crypto and
// node:crypto.
const es256KeyObject = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
Deno.bench("node:crypto sign ES256, KeyObject reused", { group: "sign" }, () => {
  nodeSign("sha256", signingInput, { key: es256KeyObject, dsaEncoding: "ieee-p1363" });
});
Deno.bench("jose CompactSign ES256, KeyObject reused", { group: "sign" }, async () => {
  await new CompactSign(signingInput).setProtectedHeader({ alg: "ES256" }).sign(es256KeyObject);
});
Deno.bench("jose CompactSign ES256, CryptoKey (as sealing does)", { group: "sign" }, async () => {
  await new CompactSign(signingInput).setProtectedHeader({ alg: "ES256" })
    .sign(ring.signingKey().key);
});
const ed25519 = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
Deno.bench("crypto.subtle.sign Ed25519", { group: "sign" }, async () => {
  await crypto.subtle.sign("Ed25519", (ed25519 as CryptoKeyPair).privateKey, signingInput);
});
const ed25519KeyObject = generateKeyPairSync("ed25519").privateKey;
Deno.bench("node:crypto sign Ed25519, KeyObject reused", { group: "sign" }, () => {
  nodeSign(null, signingInput, ed25519KeyObject);
});

Deno.bench("sealEvidenceToken()", { group: "sign" }, async () => {
  await sealEvidenceToken(SEAL_CLAIMS, { keys: ring, issuer: ISSUER });
});

Deno.bench("issueAccessToken()", { group: "sign" }, async () => {
  await issueAccessToken(tc.client, { keys: ring, issuer: ISSUER, audience: ISSUER });
});

// The same seal, signed by Web Crypto (the fallback without OpenSSL): a signer without `native`.
const webCryptoOnly = {
  signingKey: () => ({ ...ring.signingKey(), native: null }),
} as unknown as KeyRing;
Deno.bench("sealEvidenceToken(), Web Crypto signer", { group: "sign" }, async () => {
  await sealEvidenceToken(SEAL_CLAIMS, { keys: webCryptoOnly, issuer: ISSUER });
});
