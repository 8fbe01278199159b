/**
 * Fixtures shared by the crypto tests and benchmarks: clients with real key pairs,
 * hand-made tokens for the refusal cases, a clock that tests move.
 *
 * @module
 */

import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose";
import type { Client, Role } from "../src/model.ts";
import { KeyRing, type TokenAlgorithm } from "./keys.ts";
import { memoryKeyStore } from "./key_store.ts";

export const SECRET = "test-secret-0123456789-abcdefghijklmnop";
/** 2026-03-01T10:00:00Z */
export const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);

/** A clock tests set and move, in epoch ms. */
export class FakeClock {
  ms: number;
  constructor(ms = T0) {
    this.ms = ms;
  }
  now = (): number => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

export interface TestClient {
  client: Client;
  privateKey: CryptoKey;
  kid: string;
  alg: "ES256" | "EdDSA";
}

/** A registered client with a fresh key pair. */
export async function makeClient(
  id: string,
  options: { alg?: "ES256" | "EdDSA"; roles?: Role[] } = {},
): Promise<TestClient> {
  const alg = options.alg ?? "ES256";
  const { publicKey, privateKey } = await generateKeyPair(alg);
  const kid = `${id}-key-1`;
  const jwk = { ...(await exportJWK(publicKey)), kid, use: "sig", alg };
  const client: Client = {
    id,
    name: `Client ${id}`,
    roles: options.roles ?? ["consumer"],
    jwks: { keys: [jwk] },
  };
  return { client, privateKey, kid, alg };
}

/** A client assertion signed by `tc`; `claims` and `header` override the defaults. */
export async function assertion(
  tc: TestClient,
  options: {
    now: number;
    audience: string;
    claims?: JWTPayload;
    header?: Record<string, unknown>;
    key?: CryptoKey;
  },
): Promise<string> {
  const iat = Math.floor(options.now / 1000);
  return await new SignJWT({
    iss: tc.client.id,
    sub: tc.client.id,
    aud: options.audience,
    jti: crypto.randomUUID(),
    iat,
    exp: iat + 120,
    ...options.claims,
  }).setProtectedHeader({ alg: tc.alg, kid: tc.kid, ...options.header })
    .sign(options.key ?? tc.privateKey);
}

export function b64url(data: string | Uint8Array): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}

/** A token with `alg: none` and an arbitrary (or empty) third part. */
export function unsignedToken(payload: object, signature = ""): string {
  return `${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${
    b64url(JSON.stringify(payload))
  }.${signature}`;
}

/**
 * The classic confusion attack: HS256 with the victim's public key (here its JWK as JSON,
 * and its PEM) as the HMAC secret.
 */
export async function hs256WithPublicKey(
  payload: JWTPayload,
  header: Record<string, unknown>,
  publicKeyBytes: Uint8Array,
): Promise<string> {
  return await new SignJWT(payload).setProtectedHeader({ ...header, alg: "HS256" })
    .sign(publicKeyBytes);
}

/** A key ring on an in-memory store with the test secret; ES256 unless `algorithm` says. */
export async function testRing(
  clock: FakeClock,
  options: { algorithm?: TokenAlgorithm } = {},
): Promise<KeyRing> {
  return await KeyRing.open(memoryKeyStore(SECRET), { now: clock.now, ...options });
}

/** The claims of one evidence token as the Vermittlungsstelle seals them (tests, benches). */
export const SEAL_CLAIMS = {
  consumerId: "stadt-musterstadt-parken",
  providerId: "kba-zfzr",
  evidenceType: "fahrzeugzulassung",
  purpose: "bewohnerparkausweis",
  legalBasis: "StVO § 45 Abs. 1b Nr. 2a",
  idnrUsed: true,
  requestDigest: "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
} as const;
