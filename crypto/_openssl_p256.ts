/**
 * ES256 signatures through the system's OpenSSL (libcrypto 3, over FFI): about a tenth of
 * the CPU of Web Crypto's ECDSA P-256 in Deno (BENCHMARKS.md, P10), which caps
 * `POST /v1/authorizations` and every transfer's seal. The private key is handed to OpenSSL
 * once, as PKCS#8 made by Web Crypto from the stored JWK, and lives in OpenSSL's memory, not
 * the JavaScript heap (the buffer that carried it is zeroed); it is freed with its wrapper.
 *
 * Used only where it works: Linux, FFI allowed for one of {@linkcode LIBCRYPTO_PATHS}, the
 * library loads, and a self-test signature made with the key verifies through Web Crypto.
 * Anywhere else {@linkcode nativeP256Key} answers null and Lotse signs through Web Crypto.
 *
 * @example
 * ```ts
 * const native = await nativeP256Key(privateJwk);
 * const signature = native?.sign(signingInput); // 64 bytes r || s (RFC 7518 §3.4)
 * ```
 *
 * @module
 */

/** Where OpenSSL 3's libcrypto lives on Debian, Ubuntu and Red Hat for x86-64 and arm64. */
export const LIBCRYPTO_PATHS: readonly string[] = [
  "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
  "/lib/x86_64-linux-gnu/libcrypto.so.3",
  "/usr/lib/aarch64-linux-gnu/libcrypto.so.3",
  "/lib/aarch64-linux-gnu/libcrypto.so.3",
  "/usr/lib64/libcrypto.so.3",
  "/lib64/libcrypto.so.3",
];

const symbols = {
  BIO_new_mem_buf: { parameters: ["buffer", "i32"], result: "pointer" },
  BIO_free: { parameters: ["pointer"], result: "i32" },
  d2i_PrivateKey_bio: { parameters: ["pointer", "pointer"], result: "pointer" },
  EVP_PKEY_free: { parameters: ["pointer"], result: "void" },
  EVP_PKEY_CTX_new: { parameters: ["pointer", "pointer"], result: "pointer" },
  EVP_PKEY_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_PKEY_sign_init: { parameters: ["pointer"], result: "i32" },
  EVP_PKEY_sign: { parameters: ["pointer", "buffer", "buffer", "buffer", "usize"], result: "i32" },
  SHA256: { parameters: ["buffer", "usize", "buffer"], result: "pointer" },
} as const;

type Libcrypto = Deno.DynamicLibrary<typeof symbols>["symbols"];

/** A P-256 private key held by OpenSSL. */
export interface NativeP256Key {
  /** The ES256 signature of `data`: SHA-256, ECDSA, 64 bytes `r || s`. */
  sign(data: Uint8Array): Uint8Array<ArrayBuffer>;
}

let library: Libcrypto | null | undefined;

function libcrypto(): Libcrypto | null {
  if (library !== undefined) return library;
  library = null;
  if (Deno.build.os !== "linux") return null;
  for (const path of LIBCRYPTO_PATHS) {
    if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") continue;
    try {
      library = Deno.dlopen(path, symbols).symbols;
      break;
    } catch { /* not here */ }
  }
  return library;
}

const EC_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const SELF_TEST = new TextEncoder().encode("Lotse ES256 self-test");
// The largest DER ECDSA-Sig-Value for P-256: two 33-byte INTEGERs and their headers.
const MAX_DER_BYTES = 72;

// Frees a key's OpenSSL memory once its wrapper is gone.
const keys = new FinalizationRegistry<
  { lib: Libcrypto; pkey: Deno.PointerObject; context: Deno.PointerObject }
>(({ lib, pkey, context }) => {
  lib.EVP_PKEY_CTX_free(context);
  lib.EVP_PKEY_free(pkey);
});

/**
 * Hands the EC P-256 private JWK to OpenSSL; null where OpenSSL cannot be used (see the
 * module doc), so the caller signs through Web Crypto.
 */
export async function nativeP256Key(
  jwk: { x?: string; y?: string; d?: string },
): Promise<NativeP256Key | null> {
  const lib = libcrypto();
  if (lib === null) return null;
  const imported = await crypto.subtle.importKey(
    "jwk",
    { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, d: jwk.d },
    EC_P256,
    true,
    ["sign"],
  );
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", imported));
  let pkey: Deno.PointerValue = null;
  try {
    const bio = lib.BIO_new_mem_buf(pkcs8, pkcs8.length);
    if (bio === null) return null;
    try {
      pkey = lib.d2i_PrivateKey_bio(bio, null);
    } finally {
      lib.BIO_free(bio);
    }
  } finally {
    pkcs8.fill(0);
  }
  if (pkey === null) return null;
  // One signing context per key, initialised once: `EVP_DigestSignInit` per signature looks
  // the algorithms up again each time (~35 µs per signature against ~29, scratch fixture).
  // ECDSA draws a fresh nonce on every `EVP_PKEY_sign`, so the context carries nothing from one
  // signature to the next; JavaScript runs one call at a time, so nothing shares it.
  const context = lib.EVP_PKEY_CTX_new(pkey, null);
  if (context === null || lib.EVP_PKEY_sign_init(context) !== 1) {
    if (context !== null) lib.EVP_PKEY_CTX_free(context);
    lib.EVP_PKEY_free(pkey);
    return null;
  }
  const digest = new Uint8Array(32);
  const der = new Uint8Array(MAX_DER_BYTES);
  const length = new BigUint64Array(1);
  const lengthBytes = new Uint8Array(length.buffer);
  const owner = {
    sign(data: Uint8Array): Uint8Array<ArrayBuffer> {
      length[0] = BigInt(MAX_DER_BYTES);
      if (
        lib.SHA256(data, BigInt(data.length), digest) === null ||
        lib.EVP_PKEY_sign(context, der, lengthBytes, digest, 32n) !== 1
      ) {
        throw new Error("OpenSSL: ECDSA signing failed");
      }
      return rawSignature(der.subarray(0, Number(length[0])));
    },
  };
  keys.register(owner, { lib, pkey, context });
  // The signature must verify with the public key before it is trusted with tokens.
  const publicKey = await crypto.subtle.importKey(
    "jwk",
    { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y },
    EC_P256,
    false,
    ["verify"],
  );
  const verified = await crypto.subtle.verify(
    { name: "ECDSA", hash: "SHA-256" },
    publicKey,
    owner.sign(SELF_TEST),
    SELF_TEST,
  );
  return verified ? owner : null;
}

/**
 * The JWS form of a DER `ECDSA-Sig-Value` (RFC 3279 §2.2.3): `r` and `s` as 32 bytes each
 * (RFC 7518 §3.4).
 */
export function rawSignature(der: Uint8Array): Uint8Array<ArrayBuffer> {
  const fail = () => {
    throw new Error("OpenSSL: unexpected ECDSA signature encoding");
  };
  if (der[0] !== 0x30 || der[1] !== der.length - 2) fail();
  const out = new Uint8Array(64);
  let at = 2;
  for (const offset of [0, 32]) {
    if (der[at] !== 0x02) fail();
    const length = der[at + 1]!;
    let start = at + 2;
    let size = length;
    // A leading zero keeps a high bit from reading as a sign.
    while (size > 32 && der[start] === 0) {
      start++;
      size--;
    }
    if (size > 32 || start + size > der.length) fail();
    out.set(der.subarray(start, start + size), offset + 32 - size);
    at += 2 + length;
  }
  if (at !== der.length) fail();
  return out;
}
