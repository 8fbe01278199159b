/**
 * Sealing signing keys for persistence (the PostgreSQL store is `db/key_store.ts`). The private JWK is encrypted at rest with AES-256-GCM under
 * a key derived (HKDF-SHA-256, fresh salt per row) from a secret (`LOTSE_KEY_SECRET`);
 * the `kid` is bound as additional data, so a row cannot be moved under another kid.
 * Opening a row with the wrong secret throws: Lotse must not start on keys it cannot read.
 *
 * @example
 * ```ts
 * import { memoryKeyStore } from "./key_store.ts";
 * import { KeyRing } from "./keys.ts";
 * const ring = await KeyRing.open(memoryKeyStore(config.keySecret));
 * ```
 *
 * @module
 */

import { algorithmOfJwk, type KeyStore, type StoredKey, type TokenAlgorithm } from "./keys.ts";

/** Shortest secret accepted, in characters. */
export const MIN_SECRET_LENGTH = 32;

/** A stored key as it rests: the private JWK sealed, the rest in the clear. */
export interface SealedKey {
  readonly kid: string;
  readonly alg: TokenAlgorithm;
  /** base64url of version (1 byte) ‖ salt (16) ‖ iv (12) ‖ AES-GCM ciphertext and tag. */
  readonly sealed: string;
  readonly createdAt: number;
  readonly retiredAt: number | null;
}

/** An in-memory {@linkcode KeyStore} whose sealed rows can be inspected and shared. */
export interface MemoryKeyStore extends KeyStore {
  readonly rows: Map<string, SealedKey>;
}

const VERSION = 1;
const INFO: Uint8Array<ArrayBuffer> = new TextEncoder().encode("lotse signing key v1");

/** Encrypts `key.privateJwk` under `secret`. */
export async function sealKey(key: StoredKey, secret: string): Promise<SealedKey> {
  checkKeySecret(secret);
  const alg = algorithmOfJwk(key.privateJwk);
  if (alg === null) {
    throw new TypeError(`Cannot seal signing key "${key.kid}": not an EC P-256 or Ed25519 key`);
  }
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const { kty, crv, x, y, d } = key.privateJwk;
  const plain = new TextEncoder().encode(JSON.stringify({ kty, crv, x, y, d }));
  const aes = await deriveAesKey(secret, salt);
  const cipher = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad(key.kid) }, aes, plain),
  );
  const blob = new Uint8Array(1 + 16 + 12 + cipher.length);
  blob[0] = VERSION;
  blob.set(salt, 1);
  blob.set(iv, 17);
  blob.set(cipher, 29);
  return {
    kid: key.kid,
    alg,
    sealed: blob.toBase64({ alphabet: "base64url", omitPadding: true }),
    createdAt: key.createdAt,
    retiredAt: key.retiredAt,
  };
}

/** Decrypts a sealed row; throws when the secret is wrong or the row was altered. */
export async function openKey(row: SealedKey, secret: string): Promise<StoredKey> {
  checkKeySecret(secret);
  let blob: Uint8Array<ArrayBuffer>;
  try {
    blob = Uint8Array.fromBase64(row.sealed, { alphabet: "base64url" });
  } catch (cause) {
    throw new Error(`Cannot decrypt signing key "${row.kid}": sealed value is not base64url`, {
      cause,
    });
  }
  if (blob.length < 29 + 16 || blob[0] !== VERSION) {
    throw new Error(`Cannot decrypt signing key "${row.kid}": unknown sealed format`);
  }
  let plain: ArrayBuffer;
  try {
    const aes = await deriveAesKey(secret, blob.subarray(1, 17));
    plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: blob.subarray(17, 29), additionalData: aad(row.kid) },
      aes,
      blob.subarray(29),
    );
  } catch (cause) {
    throw new Error(
      `Cannot decrypt signing key "${row.kid}": wrong LOTSE_KEY_SECRET or altered row`,
      { cause },
    );
  }
  return {
    kid: row.kid,
    privateJwk: JSON.parse(new TextDecoder().decode(plain)),
    createdAt: row.createdAt,
    retiredAt: row.retiredAt,
  };
}

/**
 * A {@linkcode KeyStore} in memory that seals like the database store does; pass the
 * `rows` of one store to another to reopen them (with another secret, in tests).
 */
export function memoryKeyStore(
  secret: string,
  rows: Map<string, SealedKey> = new Map(),
): MemoryKeyStore {
  checkKeySecret(secret);
  return {
    rows,
    async load() {
      return await Promise.all([...rows.values()].map((row) => openKey(row, secret)));
    },
    async save(key) {
      rows.set(key.kid, await sealKey(key, secret));
    },
    remove(kid) {
      rows.delete(kid);
      return Promise.resolve();
    },
  };
}

/** Throws unless `secret` is long enough to derive key-encryption keys from. */
export function checkKeySecret(secret: string): void {
  if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) {
    throw new TypeError(
      `Cannot use key secret: expected at least ${MIN_SECRET_LENGTH} characters`,
    );
  }
}

async function deriveAesKey(
  secret: string,
  salt: Uint8Array<ArrayBuffer>,
): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    "HKDF",
    false,
    ["deriveKey"],
  );
  return await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt, info: INFO },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

function aad(kid: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`lotse signing key ${kid}`);
}
