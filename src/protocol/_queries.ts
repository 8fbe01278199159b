/**
 * Queries on the protocol log (db/migrations/003_protocol.sql): the Datenschutzcockpit's and
 * the consumer's reads, retention and chain verification. The writer's append is in
 * `_append.ts`.
 *
 * @example
 * ```ts
 * const { records, nextCursor } = await recordsForIdnr(db, idnrHmac(key, idnr), { limit: 50 });
 * const result = await verifyChain(db);
 * if (!result.ok) console.error(result.reason);
 * ```
 *
 * @module
 */
import type { Db, Queryable } from "../../db/types.ts";
import type { ChainedEntry, Outcome } from "./_entry.ts";
import { isUuid } from "./_entry.ts";
import { checkLink } from "./_chain.ts";

interface HeadRow {
  anchor_seq: string | number;
  anchor_hash: string;
  head_seq: string | number;
  head_hash: string;
}

/** One line of a person's protocol in the Datenschutzcockpit. */
export interface ProtocolRecord {
  transferId: string;
  time: string;
  consumer: string;
  provider: string | null;
  evidenceType: string;
  purpose: string;
  legalBasis: string;
  outcome: Outcome;
  /** The authority an EfA service fetched the evidence for, when it acted for one. */
  onBehalfOf?: string;
}

/** Options for {@linkcode recordsForIdnr}. */
export interface RecordsOptions {
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
  /** Page size; default 100, at most 1000. */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string | null;
}

function encodeCursor(at: Date, seq: number): string {
  return btoa(`${at.toISOString()}|${seq}`).replaceAll("=", "");
}

function decodeCursor(cursor: string): { at: string; seq: number } {
  let text: string;
  try {
    text = atob(cursor);
  } catch {
    text = "";
  }
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\|(\d{1,15})$/.exec(text);
  if (!match) throw new RangeError(`Cannot page protocol records: bad cursor "${cursor}"`);
  return { at: match[1]!, seq: Number(match[2]) };
}

/**
 * A person's transfers, found by the HMAC of their IDNr, oldest first, paged. The outcome is
 * the outcome entry's when the transfer has ended, else the decision's.
 *
 * @throws {RangeError} on a malformed cursor
 */
export async function recordsForIdnr(
  db: Queryable,
  hmac: string,
  options: RecordsOptions = {},
): Promise<{ records: ProtocolRecord[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? 100), 1), 1000);
  const after = options.cursor ? decodeCursor(options.cursor) : { at: "-infinity", seq: 0 };
  // As text: postgres.js would turn a timestamptz parameter into a Date, and infinity is none.
  const from = options.from?.toISOString() ?? "-infinity";
  const to = options.to?.toISOString() ?? "infinity";
  const rows = await db.sql<{
    seq: string | number;
    transfer_id: string;
    at: Date;
    consumer_id: string;
    provider_id: string | null;
    evidence_type: string;
    purpose: string;
    legal_basis: string;
    outcome: Outcome;
    on_behalf_of: string | null;
  }>`
    select d.seq, d.transfer_id::text, d.at, d.consumer_id, d.provider_id, d.evidence_type,
      d.purpose, d.legal_basis, coalesce(o.outcome, d.outcome) as outcome, d.on_behalf_of
    from protocol_entries d
    left join protocol_entries o on o.transfer_id = d.transfer_id and o.kind = 'outcome'
    -- The person is named by the decision (the consumer sent the IDNr) or by the outcome (the
    -- provider reported it, Lotse-Subject-IDNr): both entries carry its HMAC, both indexed.
    where d.kind = 'decision'
      and d.transfer_id in (select transfer_id from protocol_entries where idnr_hmac = ${hmac})
      and d.at >= ${from}::text::timestamptz and d.at < ${to}::text::timestamptz
      and (d.at, d.seq) > (${after.at}::text::timestamptz, ${after.seq}::bigint)
    order by d.at, d.seq
    limit ${limit + 1}`;
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    records: page.map((r) => ({
      transferId: r.transfer_id,
      time: new Date(r.at).toISOString(),
      consumer: r.consumer_id,
      provider: r.provider_id,
      evidenceType: r.evidence_type,
      purpose: r.purpose,
      legalBasis: r.legal_basis,
      outcome: r.outcome,
      ...(r.on_behalf_of ? { onBehalfOf: r.on_behalf_of } : {}),
    })),
    nextCursor: rows.length > limit && last
      ? encodeCursor(new Date(last.at), Number(last.seq))
      : null,
  };
}

/** The full protocol record of one transfer. */
export interface TransferRecord {
  transferId: string;
  time: string;
  consumerId: string;
  providerId: string | null;
  evidenceType: string;
  purpose: string;
  legalBasis: string;
  idnrUsed: boolean;
  jti: string | null;
  outcome: Outcome;
  /** When the outcome was recorded; null while in flight or for a refusal. */
  finishedAt: string | null;
  status: number | null;
  bytes: number | null;
  responseDigest: string | null;
  durationMs: number | null;
  reason: string | null;
  /** The authority an EfA service acted for, or null. */
  onBehalfOf: string | null;
}

/** One transfer's record, or null when there is none (or `id` is not a UUID). */
export async function transferById(db: Queryable, id: string): Promise<TransferRecord | null> {
  if (!isUuid(id)) return null;
  const entries = await selectEntries(db)`where transfer_id = ${id.toLowerCase()}::uuid`;
  const decision = entries.find((e) => e.kind === "decision");
  if (!decision) return null;
  const end = entries.find((e) => e.kind === "outcome");
  return {
    transferId: decision.transferId,
    time: decision.at,
    consumerId: decision.consumerId!,
    providerId: decision.providerId,
    evidenceType: decision.evidenceType!,
    purpose: decision.purpose!,
    legalBasis: decision.legalBasis!,
    idnrUsed: decision.idnrUsed ?? false,
    jti: decision.jti,
    outcome: end?.outcome ?? decision.outcome,
    finishedAt: end?.at ?? null,
    status: end?.status ?? decision.status,
    bytes: end?.bytes ?? null,
    responseDigest: end?.digest ?? null,
    durationMs: end?.durationMs ?? null,
    reason: end?.reason ?? decision.reason,
    onBehalfOf: decision.onBehalfOf ?? null,
  };
}

interface EntryRow {
  seq: string | number;
  transfer_id: string;
  kind: "decision" | "outcome";
  at: Date | string;
  consumer_id: string | null;
  provider_id: string | null;
  evidence_type: string | null;
  purpose: string | null;
  legal_basis: string | null;
  idnr_used: boolean | null;
  idnr_hmac: string | null;
  jti: string | null;
  outcome: Outcome;
  status: number | null;
  bytes: string | number | null;
  digest: string | null;
  duration_ms: number | null;
  reason: string | null;
  on_behalf_of: string | null;
  prev_hash: string;
  hash: string;
}

function fromRow(r: EntryRow): ChainedEntry {
  const num = (v: string | number | null) => v === null ? null : Number(v);
  return {
    seq: Number(r.seq),
    transferId: r.transfer_id,
    kind: r.kind,
    at: new Date(r.at).toISOString(),
    consumerId: r.consumer_id,
    providerId: r.provider_id,
    evidenceType: r.evidence_type,
    purpose: r.purpose,
    legalBasis: r.legal_basis,
    idnrUsed: r.idnr_used,
    idnrHmac: r.idnr_hmac,
    jti: r.jti,
    outcome: r.outcome,
    status: num(r.status),
    bytes: num(r.bytes),
    digest: r.digest,
    durationMs: num(r.duration_ms),
    reason: r.reason,
    ...(r.on_behalf_of ? { onBehalfOf: r.on_behalf_of } : {}),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

// Every column, with a caller's `where … order by … limit`; the tail is a second template so
// its values stay bind parameters.
function selectEntries(db: Queryable) {
  return async (strings: TemplateStringsArray, ...values: unknown[]): Promise<ChainedEntry[]> => {
    const head = `select seq, transfer_id::text, kind, at, consumer_id, provider_id,
      evidence_type, purpose, legal_basis, idnr_used, idnr_hmac, jti, outcome, status, bytes,
      digest, duration_ms, reason, on_behalf_of, prev_hash, hash from protocol_entries `;
    const joined = [head + strings[0], ...strings.slice(1)] as unknown as TemplateStringsArray;
    const rows = await db.sql<EntryRow>(joined, ...values);
    return rows.map(fromRow);
  };
}

/** What {@linkcode verifyChain} found. */
export type ChainVerification =
  | { ok: true; count: number; firstSeq: number; lastSeq: number }
  | { ok: false; count: number; seq: number; reason: string };

/**
 * Walks the chain from its anchor to its head and reports the first broken link: an altered
 * field, a deleted, inserted or reordered entry, or a missing tail.
 */
export async function verifyChain(
  db: Queryable,
  options: { pageSize?: number } = {},
): Promise<ChainVerification> {
  const pageSize = options.pageSize ?? 5000;
  const [chain] = await db.sql<HeadRow>`
    select anchor_seq, anchor_hash, head_seq, head_hash from protocol_chain where id = 1`;
  if (!chain) return { ok: false, count: 0, seq: 0, reason: "protocol_chain has no row" };
  const anchorSeq = Number(chain.anchor_seq);
  const headSeq = Number(chain.head_seq);
  let expected = { seq: anchorSeq + 1, prevHash: chain.anchor_hash };
  let count = 0;
  let after = anchorSeq;
  const [before] = await db.sql<{ seq: string | number }>`
    select seq from protocol_entries where seq <= ${anchorSeq} order by seq limit 1`;
  if (before) {
    return { ok: false, count, seq: Number(before.seq), reason: "an entry precedes the anchor" };
  }
  for (;;) {
    const page = await selectEntries(db)`where seq > ${after} order by seq limit ${pageSize}`;
    for (const entry of page) {
      const reason = checkLink(entry, expected);
      if (reason) return { ok: false, count, seq: entry.seq, reason };
      count++;
      expected = { seq: entry.seq + 1, prevHash: entry.hash };
    }
    if (page.length < pageSize) break;
    after = page.at(-1)!.seq;
  }
  const lastSeq = expected.seq - 1;
  if (lastSeq !== headSeq || expected.prevHash !== chain.head_hash) {
    return {
      ok: false,
      count,
      seq: lastSeq + 1,
      reason: lastSeq < headSeq
        ? `entries ${lastSeq + 1} to ${headSeq} are missing: the chain's head is ${headSeq}`
        : `the chain's head (${headSeq}) does not match its last entry (${lastSeq})`,
    };
  }
  return { ok: true, count, firstSeq: anchorSeq + 1, lastSeq };
}

/**
 * Deletes the entries older than `olderThan` from the start of the chain, a chunk per
 * transaction, and moves the anchor to the last deleted entry so the rest still verifies.
 * Only a prefix is purged: an old entry that reached the database late (from a spool) waits
 * until everything before it is old enough too, so the chain never gets a hole.
 *
 * @returns how many entries were deleted
 */
export async function purge(
  db: Db,
  options: { olderThan: Date; chunk?: number },
): Promise<number> {
  const chunk = options.chunk ?? 10_000;
  const cutoff = options.olderThan.toISOString();
  let deleted = 0;
  for (;;) {
    const n = await db.transaction(async (tx) => {
      const [chain] = await tx.sql<HeadRow>`
        select anchor_seq, anchor_hash, head_seq, head_hash from protocol_chain
        where id = 1 for update`;
      if (!chain) return 0;
      const anchor = Number(chain.anchor_seq);
      const head = Number(chain.head_seq);
      // Walk from the anchor along the primary key: cheap however large the table is.
      const [young] = await tx.sql<{ seq: string | number }>`
        select seq from protocol_entries
        where seq > ${anchor} and seq <= ${anchor + chunk} and at >= ${cutoff}::timestamptz
        order by seq limit 1`;
      const upTo = young ? Number(young.seq) - 1 : Math.min(head, anchor + chunk);
      if (upTo <= anchor) return 0;
      const [last] = await tx.sql<{ hash: string }>`
        select hash from protocol_entries where seq = ${upTo}`;
      if (!last) throw new Error(`Cannot purge the protocol: entry ${upTo} is missing`);
      const [gone] = await tx.sql<{ n: number }>`
        with d as (delete from protocol_entries where seq <= ${upTo} returning 1)
        select count(*)::int as n from d`;
      await tx.sql`
        update protocol_chain set anchor_seq = ${upTo}, anchor_hash = ${last.hash} where id = 1`;
      return gone?.n ?? 0;
    });
    deleted += n;
    if (n < chunk) return deleted;
  }
}
