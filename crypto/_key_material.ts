/**
 * Key material for the `KeyRing`: generation, import as non-extractable
 * `CryptoKey`s, thumbprints, PEM. Two kinds of key: EC P-256 (ES256, the default) and
 * Ed25519 (EdDSA, `LOTSE_TOKEN_ALG=EdDSA`).
 *
 * @module
 */

import { calculateJwkThumbprint, exportJWK, importPKCS8 } from "jose";
import type { PublicJwk, StoredKey, TokenAlgorithm } from "./keys.ts";
import { KeyObject, sign } from "node:crypto";
import { nativeP256Key } from "./_openssl_p256.ts";

/** A private key that signs synchronously, on the calling thread. */
export interface SyncSigner {
  /** The JWS signature of `data` (for ES256: SHA-256, ECDSA, 64 bytes `r || s`). */
  sign(data: Uint8Array): Uint8Array<ArrayBuffer>;
}

/** A key as the ring holds it: no private JWK, only `CryptoKey`s. */
export interface RingKey {
  readonly kid: string;
  readonly alg: TokenAlgorithm;
  readonly publicJwk: PublicJwk;
  readonly signKey: CryptoKey;
  /**
   * The same key signing synchronously: Ed25519 through node:crypto, ES256 in OpenSSL where it
   * loads (crypto/_openssl_p256.ts); null where only Web Crypto can sign it.
   */
  readonly native: SyncSigner | null;
  readonly verifyKey: CryptoKey;
  readonly createdAt: number;
  retiredAt: number | null;
}

const WEB_CRYPTO: Record<TokenAlgorithm, EcKeyImportParams | Algorithm> = {
  ES256: { name: "ECDSA", namedCurve: "P-256" } as EcKeyImportParams,
  EdDSA: { name: "Ed25519" },
};

/** The JWS algorithm a private or public JWK is for; null for any other kind of key. */
export function algorithmOfJwk(jwk: { kty?: unknown; crv?: unknown }): TokenAlgorithm | null {
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  return null;
}

/** The JWS algorithm a ring's `CryptoKey` signs or verifies with. */
export function algorithmOfKey(key: CryptoKey): TokenAlgorithm {
  return key.algorithm.name === "Ed25519" ? "EdDSA" : "ES256";
}

/**
 * Reads a PKCS#8 PEM private key (EC P-256 or Ed25519) into a JWK; `index` names it in
 * errors.
 */
export async function privateJwkFromPem(pem: string, index: number): Promise<JsonWebKey> {
  const errors: unknown[] = [];
  for (const alg of ["ES256", "EdDSA"] as const) {
    try {
      return await exportJWK(await importPKCS8(pem, alg, { extractable: true }));
    } catch (error) {
      errors.push(error);
    }
  }
  throw new TypeError(
    `Cannot read PEM key #${index + 1}: expected a PKCS#8 EC P-256 or Ed25519 key`,
    { cause: errors[0] },
  );
}

/** Generates a new key for `alg`, exported once so that the store can encrypt it. */
export async function generateStoredKey(
  now: number,
  alg: TokenAlgorithm = "ES256",
): Promise<StoredKey> {
  const pair = await crypto.subtle.generateKey(WEB_CRYPTO[alg], true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const privateJwk = alg === "ES256"
    ? { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d }
    : { kty: jwk.kty, crv: jwk.crv, x: jwk.x, d: jwk.d };
  return { kid: await thumbprint(privateJwk), privateJwk, createdAt: now, retiredAt: null };
}

/** RFC 7638 thumbprint (SHA-256) of the public half of `jwk`. */
export async function thumbprint(jwk: JsonWebKey): Promise<string> {
  return await calculateJwkThumbprint(
    jwk.kty === "OKP"
      ? { kty: "OKP", crv: jwk.crv, x: jwk.x }
      : { kty: "EC", crv: jwk.crv, x: jwk.x, y: jwk.y },
    "sha256",
  );
}

/** Imports a private JWK as a non-extractable signing key and its public half. */
export async function importRingKey(
  jwk: JsonWebKey,
  createdAt: number,
  retiredAt: number | null,
): Promise<RingKey> {
  const alg = algorithmOfJwk(jwk);
  if (
    alg === null || typeof jwk.x !== "string" || typeof jwk.d !== "string" ||
    (alg === "ES256" && typeof jwk.y !== "string")
  ) {
    throw new TypeError("Cannot use signing key: expected an EC P-256 or Ed25519 private JWK");
  }
  const kid = await thumbprint(jwk);
  const publicJwk: PublicJwk = Object.freeze(
    alg === "ES256"
      ? { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y!, kid, alg, use: "sig" }
      : { kty: "OKP", crv: "Ed25519", x: jwk.x, kid, alg, use: "sig" },
  );
  const { kid: _kid, alg: _alg, use: _use, ...publicMembers } = publicJwk;
  const signKey = await crypto.subtle.importKey(
    "jwk",
    { ...publicMembers, d: jwk.d },
    WEB_CRYPTO[alg],
    false,
    ["sign"],
  );
  const verifyKey = await crypto.subtle.importKey(
    "jwk",
    publicMembers,
    WEB_CRYPTO[alg],
    true,
    ["verify"],
  );
  // ES256 keys also go to OpenSSL where it loads; Ed25519 signs cheaply through node:crypto
  // (its handle made once from the non-extractable CryptoKey).
  const native = alg === "ES256" ? await nativeP256Key(jwk) : ed25519Signer(signKey);
  return { kid, alg, publicJwk, signKey, native, verifyKey, createdAt, retiredAt };
}

function ed25519Signer(signKey: CryptoKey): SyncSigner {
  const key = KeyObject.from(signKey);
  return { sign: (data) => new Uint8Array(sign(null, data, key)) };
}
