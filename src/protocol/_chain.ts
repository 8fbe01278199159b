/**
 * The protocol's hash chain: each entry's hash covers its predecessor's hash and a canonical
 * encoding of the entry, its position included. Altering a field changes the entry's hash;
 * deleting or reordering entries breaks the link to the predecessor or the position.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { ChainedEntry, ProtocolEntry } from "./_entry.ts";

/** The predecessor of the first entry of a chain that was never purged. */
export const GENESIS_HASH = "0".repeat(64);

// Bumped if the encoding ever changes, so old and new entries cannot be confused.
const VERSION = "lotse-protocol-1";

/**
 * The canonical encoding of an entry at position `seq`: a JSON array in a fixed field order,
 * with every value normalised to one type (ISO time, numbers, null for absent). Whatever the
 * database adapter hands back, the same entry encodes to the same text.
 */
export function canonicalEntry(entry: ProtocolEntry, seq: number): string {
  return JSON.stringify([
    VERSION,
    seq,
    entry.transferId.toLowerCase(),
    entry.kind,
    new Date(entry.at).toISOString(),
    entry.consumerId ?? null,
    entry.providerId ?? null,
    entry.evidenceType ?? null,
    entry.purpose ?? null,
    entry.legalBasis ?? null,
    entry.idnrUsed ?? null,
    entry.idnrHmac ?? null,
    entry.jti ?? null,
    entry.outcome,
    numberOrNull(entry.status),
    numberOrNull(entry.bytes),
    entry.digest ?? null,
    numberOrNull(entry.durationMs),
    entry.reason ?? null,
    // Added later: encoded only when set, so entries written before it keep their hashes.
    ...(entry.onBehalfOf ? [entry.onBehalfOf] : []),
  ]);
}

function numberOrNull(v: number | string | bigint | null | undefined): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** SHA-256 over the predecessor's hash and the entry's canonical encoding, as hex. */
export function entryHash(prevHash: string, entry: ProtocolEntry, seq: number): string {
  return createHash("sha256")
    .update(prevHash, "utf8")
    .update("\n", "utf8")
    .update(canonicalEntry(entry, seq), "utf8")
    .digest("hex");
}

/** Chains `entries` after the entry at `headSeq` with hash `headHash`. */
export function chainEntries(
  entries: readonly ProtocolEntry[],
  head: { seq: number; hash: string },
): ChainedEntry[] {
  const chained: ChainedEntry[] = [];
  let prevHash = head.hash;
  let seq = head.seq;
  for (const entry of entries) {
    seq++;
    const hash = entryHash(prevHash, entry, seq);
    chained.push({ ...entry, seq, prevHash, hash });
    prevHash = hash;
  }
  return chained;
}

/** Why the link at an entry is broken, or null when it holds. */
export function checkLink(
  entry: ChainedEntry,
  expected: { seq: number; prevHash: string },
): string | null {
  if (entry.seq !== expected.seq) {
    return entry.seq > expected.seq
      ? `entries ${expected.seq} to ${entry.seq - 1} are missing`
      : `entry ${entry.seq} is out of order`;
  }
  if (entry.prevHash !== expected.prevHash) {
    return `entry ${entry.seq} does not follow its predecessor's hash`;
  }
  if (entryHash(entry.prevHash, entry, entry.seq) !== entry.hash) {
    return `entry ${entry.seq} was altered: its hash does not match its content`;
  }
  return null;
}
