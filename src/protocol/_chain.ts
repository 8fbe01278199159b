/**
 * The protocol's hash chain: each entry's hash covers its predecessor's hash and a canonical
 * encoding of the entry, its position included. Altering a field changes the entry's hash;
 * deleting or reordering entries breaks the link to the predecessor or the position.
 *
 * @module
 */
import { hash } from "node:crypto";
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
    isoAt(entry.at),
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

// Entries of one batch were mostly logged within the same millisecond: the time's parse and
// format is done once for them (the same text always gives the same result).
let lastAt: { text: string; iso: string } = { text: "", iso: "" };

function isoAt(at: string): string {
  if (at === lastAt.text) return lastAt.iso;
  const iso = new Date(at).toISOString();
  if (typeof at === "string") lastAt = { text: at, iso };
  return iso;
}

function numberOrNull(v: number | string | bigint | null | undefined): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** SHA-256 over the predecessor's hash and the entry's canonical encoding, as hex. */
export function entryHash(prevHash: string, entry: ProtocolEntry, seq: number): string {
  return linkHash(prevHash, canonicalEntry(entry, seq));
}

function linkHash(prevHash: string, canonical: string): string {
  return hash("sha256", `${prevHash}\n${canonical}`, "hex");
}

/**
 * Chains `entries` after `head` straight into the text the writer sends: a JSON array with one
 * array per entry, `[prevHash, hash, …the canonical encoding's elements]`. What PostgreSQL
 * stores is thus read from the very text that was hashed, and each entry's canonical encoding
 * is made once and never copied into a row object (the writer's hot path).
 *
 * @returns the JSON text and the chain's new head
 */
export function chainRows(
  entries: readonly ProtocolEntry[],
  head: { seq: number; hash: string },
): { rows: string; head: { seq: number; hash: string } } {
  let rows = "[";
  let prevHash = head.hash;
  let seq = head.seq;
  for (const entry of entries) {
    seq++;
    const canonical = canonicalEntry(entry, seq);
    const link = linkHash(prevHash, canonical);
    // Both hashes are lowercase hex (ours, or the head's, which the table checks), so they
    // need no escaping; `canonical` starts with "[".
    rows += `${seq === head.seq + 1 ? "" : ","}["${prevHash}","${link}",${canonical.slice(1)}`;
    prevHash = link;
  }
  return { rows: `${rows}]`, head: { seq, hash: prevHash } };
}

/**
 * Chains `entries` after `head` as objects: the form tests and checks read; the writer sends
 * {@linkcode chainRows}' text instead.
 */
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
