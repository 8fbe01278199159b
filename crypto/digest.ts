/**
 * RFC 9530 integrity fields (`Repr-Digest`, `Content-Digest`) and a SHA-256 that is fed
 * chunk by chunk while a body streams past.
 *
 * ```ts
 * import { createSha256, formatDigest, parseDigest } from "./digest.ts";
 *
 * const expected = parseDigest("sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
 * const hash = createSha256();
 * hash.update(new Uint8Array(0));
 * const ok = expected?.["sha-256"] === hash.digest("base64");
 * const header = formatDigest("sha-256", hash.digest("base64")); // "sha-256=:…:"
 * ```
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";

/** The algorithms Lotse understands; others in a field are ignored (RFC 9530 § 5). */
export type DigestAlgorithm = "sha-256" | "sha-512";

/** Known algorithms of one integrity field, each as standard base64 of the digest. */
export type DigestValues = { [A in DigestAlgorithm]?: string };

const DIGEST_BYTES: Readonly<Record<DigestAlgorithm, number>> = {
  "sha-256": 32,
  "sha-512": 64,
};

// sf-dictionary member: key, optional "=" byte sequence, optional parameters.
const KEY = /^[a-z*][a-z0-9_\-.*]*$/;
const BYTE_SEQUENCE = /^:([A-Za-z0-9+/]*={0,2}):$/;

/**
 * Parses an RFC 9530 `Repr-Digest` / `Content-Digest` field value, a structured-field
 * dictionary such as `sha-256=:BASE64:, sha-512=:BASE64:`.
 *
 * Whitespace around members is tolerated, parameters are ignored, unknown algorithms are
 * skipped. Returns `null` when the value is not a well-formed dictionary or when a known
 * algorithm's value is not a byte sequence of the right length; a field with only unknown
 * algorithms gives `{}`.
 */
export function parseDigest(value: string): DigestValues | null {
  const result: DigestValues = {};
  const trimmed = value.trim();
  if (trimmed === "") return null;
  for (const rawMember of trimmed.split(",")) {
    const member = rawMember.trim();
    if (member === "") return null;
    // Parameters (";k=v") are legal in SF but carry nothing for digests.
    const [item = "", ...params] = member.split(";");
    if (params.some((p) => !/^\s*[a-z*][a-z0-9_\-.*]*(=[^;]*)?\s*$/.test(p))) return null;
    const eq = item.indexOf("=");
    const key = (eq < 0 ? item : item.slice(0, eq)).trim();
    if (!KEY.test(key)) return null;
    if (eq < 0) {
      // A bare key is boolean true: fine for an unknown key, not a digest for a known one.
      if (key in DIGEST_BYTES) return null;
      continue;
    }
    const raw = item.slice(eq + 1).trim();
    const match = BYTE_SEQUENCE.exec(raw);
    if (!(key in DIGEST_BYTES)) {
      if (match === null && !isOtherBareItem(raw)) return null;
      continue;
    }
    if (match === null) return null;
    const b64 = match[1] ?? "";
    const algorithm = key as DigestAlgorithm;
    if (base64Length(b64) !== DIGEST_BYTES[algorithm]) return null;
    // Later duplicates win, as in SF dictionaries.
    result[algorithm] = b64;
  }
  return result;
}

/** The base64 sha-256 of a `Repr-Digest` value, or `null` when absent or malformed. */
export function sha256FromDigest(value: string | null | undefined): string | null {
  if (value == null) return null;
  return parseDigest(value)?.["sha-256"] ?? null;
}

/** Formats one digest as an RFC 9530 field value: `sha-256=:BASE64:`. */
export function formatDigest(algorithm: DigestAlgorithm, base64: string): string {
  return `${algorithm}=:${base64}:`;
}

/**
 * An incremental SHA-256 (node:crypto): `update()` each chunk as it passes, `digest("base64")`
 * once at the end. node:crypto beats Web Crypto here and Web Crypto cannot hash
 * incrementally.
 */
export function createSha256(): Hash {
  return createHash("sha256");
}

/** SHA-256 of a whole buffer, base64. */
export function sha256Base64(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("base64");
}

function base64Length(b64: string): number {
  if (b64.length % 4 !== 0) return -1;
  const padding = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;
  return (b64.length / 4) * 3 - padding;
}

// Bare items other than byte sequences: integers, decimals, strings, tokens, booleans.
function isOtherBareItem(raw: string): boolean {
  return /^(-?\d{1,15}(\.\d{1,3})?|"(?:[^"\\]|\\["\\])*"|[A-Za-z*][!#$%&'*+\-.^_`|~:/\w]*|\?[01])$/
    .test(raw);
}
