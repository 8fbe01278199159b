/**
 * What the token modules share: limits, the refusal shape, a cheap pre-check before jose
 * parses a compact JWS, the mapping of jose's errors to refusals, and signing.
 *
 * @module
 */

import { CompactSign, decodeProtectedHeader, type ProtectedHeaderParameters } from "jose";
import { MAX_TOKEN_LIFETIME_SECONDS, type SigningKey } from "./keys.ts";
import type { SyncSigner } from "./_key_material.ts";

/** Largest token accepted, in bytes; larger ones are refused before any parsing. */
export const MAX_TOKEN_BYTES = 8192;
/** Longest `jti` accepted, in characters (the replay cache holds them). */
export const MAX_JTI_LENGTH = 256;

/** Why a token was refused, for callers and tests; the description is for people. */
export type TokenFault =
  | "missing"
  | "oversized"
  | "malformed"
  | "algorithm"
  | "type"
  | "unknown_key"
  | "signature"
  | "expired"
  | "not_yet_valid"
  | "lifetime"
  | "issuer"
  | "subject"
  | "audience"
  | "claims"
  | "client_mismatch"
  | "unknown_client"
  | "revoked"
  | "replayed"
  | "unavailable";

/** A refused token. */
export interface TokenRefusal {
  readonly ok: false;
  readonly fault: TokenFault;
  readonly description: string;
}

/** A refusal with a description in std style. */
export function refusal(fault: TokenFault, detail: string): TokenRefusal {
  return { ok: false, fault, description: `Cannot accept token: ${detail}` };
}

// Three base64url parts, none empty: an unsigned token (`alg: none`) has no third part.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Refuses what is not worth handing to jose (not a string, too large, not three
 * base64url parts, an undecodable header, an algorithm outside `algorithms`), and returns
 * the protected header otherwise.
 */
export function inspectCompact(
  token: unknown,
  options: { algorithms: readonly string[]; maxBytes?: number },
): { ok: true; header: ProtectedHeaderParameters } | TokenRefusal {
  const maxBytes = options.maxBytes ?? MAX_TOKEN_BYTES;
  if (typeof token !== "string" || token.length === 0) return refusal("missing", "no token");
  if (token.length > maxBytes) {
    return refusal("oversized", `larger than ${maxBytes} bytes`);
  }
  if (!COMPACT_JWS.test(token)) {
    return refusal("malformed", "expected a compact JWS of three base64url parts");
  }
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return refusal("malformed", "cannot decode the protected header");
  }
  if (typeof header.alg !== "string" || !options.algorithms.includes(header.alg)) {
    return refusal(
      "algorithm",
      `algorithm "${String(header.alg)}" is not allowed: expected ${
        options.algorithms.join(" or ")
      }`,
    );
  }
  if (header.kid !== undefined && (typeof header.kid !== "string" || header.kid === "")) {
    return refusal("malformed", "kid must be a non-empty string");
  }
  return { ok: true, header };
}

const CLAIM_FAULTS: Record<string, TokenFault> = {
  aud: "audience",
  iss: "issuer",
  sub: "subject",
  nbf: "not_yet_valid",
  iat: "not_yet_valid",
  typ: "type",
};

/** Turns an error thrown by jose's verification into a refusal; never throws. */
export function refusalFromJose(error: unknown): TokenRefusal {
  const { code, claim, reason } = (error ?? {}) as {
    code?: string;
    claim?: string;
    reason?: string;
  };
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return refusal("expired", "it has expired");
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return refusal("signature", "signature does not verify");
    case "ERR_JOSE_ALG_NOT_ALLOWED":
      return refusal("algorithm", "algorithm is not allowed");
    case "ERR_JWKS_NO_MATCHING_KEY":
      return refusal("unknown_key", "no published key matches its kid");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      if (reason === "missing") return refusal("claims", `missing "${claim}" claim`);
      if (claim === "nbf") return refusal("not_yet_valid", "it is not yet valid");
      return refusal(CLAIM_FAULTS[claim ?? ""] ?? "claims", `unexpected "${claim}" value`);
    default:
      return refusal("malformed", "it cannot be parsed as a signed JWT");
  }
}

/** Checks the timing claims jose leaves to us: `iat` not ahead, `exp` not too far ahead. */
export function checkWindow(
  payload: { iat?: unknown; exp?: unknown },
  options: { nowSeconds: number; maxLifetimeSeconds: number; skewSeconds: number },
): TokenRefusal | null {
  const { nowSeconds, maxLifetimeSeconds, skewSeconds } = options;
  if (typeof payload.iat === "number" && payload.iat > nowSeconds + skewSeconds) {
    return refusal("not_yet_valid", "issued in the future");
  }
  if (typeof payload.exp !== "number") return refusal("claims", `missing "exp" claim`);
  if (payload.exp > nowSeconds + maxLifetimeSeconds + skewSeconds) {
    return refusal("lifetime", `expires more than ${maxLifetimeSeconds} s ahead`);
  }
  return null;
}

/**
 * Signs `payload` as a compact JWS (the signer's `alg`) with `kid` and `typ` in the header.
 *
 * Synchronously where a signature is cheap: EdDSA with node:crypto (~21 µs of CPU; Web
 * Crypto's hand-over to its thread and back costs more than that, ~50 µs per token in all,
 * BENCHMARKS.md, P10), ES256 with OpenSSL where it loads (crypto/_openssl_p256.ts, ~29 µs per
 * signature in a scratch fixture).
 * Otherwise ES256 goes through jose and Web Crypto, which signs on a runtime thread (~480 µs,
 * none of it on the event loop).
 */
export async function signJws(
  payload: object,
  signer: SigningKey,
  typ: string,
): Promise<string> {
  const json = JSON.stringify(payload);
  if (signer.native) return compactJws(json, signer.native, signer, typ);
  return await new CompactSign(ENCODER.encode(json))
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ })
    .sign(signer.key);
}

const ENCODER = new TextEncoder();
const BASE64URL = { alphabet: "base64url", omitPadding: true } as const;
// The encoded protected header per alg, kid and typ (a handful per key): nested maps, so no
// joined key string per token.
const headers = { EdDSA: new Map<string, Map<string, string>>(), ES256: new Map() } as const;
/**
 * The compact serialization (RFC 7515 §7.1), signed synchronously: the same header and payload
 * jose would write; verified by jose and node:crypto in crypto/evidence_token_test.ts.
 */
function compactJws(json: string, native: SyncSigner, signer: SigningKey, typ: string): string {
  const ofAlg: Map<string, Map<string, string>> = headers[signer.alg];
  let ofKey = ofAlg.get(signer.kid);
  if (ofKey === undefined) {
    if (ofAlg.size > 16) ofAlg.clear();
    ofAlg.set(signer.kid, ofKey = new Map());
  }
  let header = ofKey.get(typ);
  if (header === undefined) {
    const protectedHeader = JSON.stringify({ alg: signer.alg, kid: signer.kid, typ });
    header = ENCODER.encode(protectedHeader).toBase64(BASE64URL);
    ofKey.set(typ, header);
  }
  const input = `${header}.${utf8(json).toBase64(BASE64URL)}`;
  return `${input}.${native.sign(utf8(input)).toBase64(BASE64URL)}`;
}

// The UTF-8 of a payload and of a signing input, a few hundred bytes each, encoded into one
// reused buffer instead of a new array per token: both are read at once (encoded to base64, or
// hashed by the synchronous signer) before the next call overwrites them.
let scratch = new Uint8Array(4096);

/** The UTF-8 of `text` in the shared scratch buffer: valid until the next call. */
function utf8(text: string): Uint8Array {
  if (text.length * 3 > scratch.length) scratch = new Uint8Array(text.length * 3);
  return scratch.subarray(0, ENCODER.encodeInto(text, scratch).written);
}

/**
 * The times and id of a token Lotse signs: `iat` now, `exp` after `lifetimeSeconds` (default
 * and at most {@linkcode MAX_TOKEN_LIFETIME_SECONDS}), a fresh `jti`. `what` names the token
 * in the error for a lifetime out of range.
 */
export function tokenTimes(
  lifetimeSeconds: number | undefined,
  nowMs: number | undefined,
  what: string,
): { iat: number; exp: number; lifetime: number; jti: string } {
  const lifetime = lifetimeSeconds ?? MAX_TOKEN_LIFETIME_SECONDS;
  if (!(lifetime > 0 && lifetime <= MAX_TOKEN_LIFETIME_SECONDS)) {
    throw new RangeError(
      `Cannot ${what}: lifetime ${lifetime} s is outside 1 to ${MAX_TOKEN_LIFETIME_SECONDS} s`,
    );
  }
  const iat = Math.floor((nowMs ?? Date.now()) / 1000);
  return { iat, exp: iat + lifetime, lifetime, jti: crypto.randomUUID() };
}
