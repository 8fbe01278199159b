/**
 * Key material for the `KeyRing`: generation, import as non-extractable
 * `CryptoKey`s, thumbprints, PEM.
 *
 * @module
 */

import { calculateJwkThumbprint, exportJWK, importPKCS8 } from "jose";
import type { PublicJwk, StoredKey } from "./keys.ts";
import { type NativeP256Key, nativeP256Key } from "./_openssl_p256.ts";

/** A key as the ring holds it: no private JWK, only `CryptoKey`s. */
export interface RingKey {
  readonly kid: string;
  readonly publicJwk: PublicJwk;
  readonly signKey: CryptoKey;
  /** The same private key in OpenSSL, where it can sign (crypto/_openssl_p256.ts). */
  readonly native: NativeP256Key | null;
  readonly verifyKey: CryptoKey;
  readonly createdAt: number;
  retiredAt: number | null;
}

const EC_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;

/** Reads a PKCS#8 PEM EC P-256 private key into a JWK; `index` names it in errors. */
export async function privateJwkFromPem(pem: string, index: number): Promise<JsonWebKey> {
  try {
    return await exportJWK(await importPKCS8(pem, "ES256", { extractable: true }));
  } catch (cause) {
    throw new TypeError(
      `Cannot read PEM key #${index + 1}: expected a PKCS#8 EC P-256 key`,
      { cause },
    );
  }
}

/** Generates a new ES256 key, exported once so that the store can encrypt it. */
export async function generateStoredKey(now: number): Promise<StoredKey> {
  const pair = await crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  const jwk = await crypto.subtle.exportKey("jwk", pair.privateKey);
  const privateJwk = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d };
  return { kid: await thumbprint(privateJwk), privateJwk, createdAt: now, retiredAt: null };
}

export async function thumbprint(jwk: JsonWebKey): Promise<string> {
  return await calculateJwkThumbprint(
    { kty: "EC", crv: jwk.crv, x: jwk.x, y: jwk.y },
    "sha256",
  );
}

/** Imports a private JWK as a non-extractable signing key and its public half. */
export async function importRingKey(
  jwk: JsonWebKey,
  createdAt: number,
  retiredAt: number | null,
): Promise<RingKey> {
  if (
    jwk.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.x !== "string" ||
    typeof jwk.y !== "string" || typeof jwk.d !== "string"
  ) {
    throw new TypeError("Cannot use signing key: expected an EC P-256 private JWK");
  }
  const kid = await thumbprint(jwk);
  const publicJwk: PublicJwk = Object.freeze({
    kty: "EC",
    crv: "P-256",
    x: jwk.x,
    y: jwk.y,
    kid,
    alg: "ES256",
    use: "sig",
  });
  const signKey = await crypto.subtle.importKey(
    "jwk",
    { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, d: jwk.d },
    EC_P256,
    false,
    ["sign"],
  );
  const verifyKey = await crypto.subtle.importKey(
    "jwk",
    { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y },
    EC_P256,
    true,
    ["verify"],
  );
  const native = await nativeP256Key(jwk);
  return { kid, publicJwk, signKey, native, verifyKey, createdAt, retiredAt };
}
