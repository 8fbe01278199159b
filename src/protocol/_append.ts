/**
 * The writer's one statement: a batch of entries appended to the hash chain with a single
 * multi-row insert (a JSON array expanded by `json_to_recordset`, which both postgres.js and
 * PGlite bind as one text parameter).
 *
 * @module
 */
import type { Db, Queryable } from "../../db/types.ts";
import type { ChainedEntry, ProtocolEntry } from "./_entry.ts";
import { chainEntries } from "./_chain.ts";

/** The last entry of the chain. */
export interface ChainHead {
  seq: number;
  hash: string;
}

/** Options for {@linkcode appendEntries}. */
export interface AppendOptions {
  /** Skip entries already stored (a replayed spool); costs one more query. */
  checkExisting: boolean;
  /** The head this writer saw last; lets a batch go in one round trip if nobody else wrote. */
  head?: ChainHead | null;
}

function key(entry: { transferId: string; kind: string }): string {
  return `${entry.transferId.toLowerCase()}/${entry.kind}`;
}

/**
 * Appends entries to the chain. Fast path, when `head` is given: one statement that moves the
 * chain's head only if it is still `head` and inserts only then. Otherwise, or when another
 * instance appended in between, one transaction under the row lock of `protocol_chain`, which
 * serialises appends from every instance, so the chain stays one line and `seq` gapless.
 *
 * @returns how many entries were new, and the chain's head after them
 */
export async function appendEntries(
  db: Db,
  entries: readonly ProtocolEntry[],
  options: AppendOptions,
): Promise<{ written: number; head: ChainHead | null }> {
  const seen = new Set<string>();
  let fresh = entries.filter((e) => !seen.has(key(e)) && seen.add(key(e)));
  if (fresh.length === 0) return { written: 0, head: options.head ?? null };
  const known = options.head;
  if (known && !options.checkExisting) {
    const chained = chainEntries(fresh, known);
    const last = chained.at(-1)!;
    const [row] = await db.sql<{ n: number }>`
      with moved as (
        update protocol_chain set head_seq = ${last.seq}, head_hash = ${last.hash}
        where id = 1 and head_seq = ${known.seq} and head_hash = ${known.hash}
        returning 1
      ), inserted as (
        insert into protocol_entries (seq, transfer_id, kind, at, consumer_id, provider_id,
          evidence_type, purpose, legal_basis, idnr_used, idnr_hmac, jti, outcome, status, bytes,
          digest, duration_ms, reason, on_behalf_of, prev_hash, hash)
        select r.* from json_to_recordset(${sentAtOnce(rowsJson(chained))}::text::json) as r(
          seq bigint, transfer_id uuid, kind text, at timestamptz, consumer_id text,
          provider_id text, evidence_type text, purpose text, legal_basis text, idnr_used boolean,
          idnr_hmac text, jti text, outcome text, status integer, bytes bigint, digest text,
          duration_ms integer, reason text, on_behalf_of text, prev_hash text, hash text)
        where exists (select 1 from moved)
        returning 1
      )
      select count(*)::int as n from inserted`;
    if (row?.n === chained.length) return { written: chained.length, head: last };
  }
  return await db.transaction(async (tx) => {
    const [head] = await tx.sql<{ head_seq: string | number; head_hash: string }>`
      select head_seq, head_hash from protocol_chain where id = 1 for update`;
    if (!head) throw new Error("Cannot append to the protocol: protocol_chain has no row");
    const current = { seq: Number(head.head_seq), hash: head.head_hash };
    if (options.checkExisting) fresh = await unstored(tx, fresh);
    if (fresh.length === 0) return { written: 0, head: current };
    const chained = chainEntries(fresh, current);
    const last = chained.at(-1)!;
    await tx.sql`
      with inserted as (
        insert into protocol_entries (seq, transfer_id, kind, at, consumer_id, provider_id,
          evidence_type, purpose, legal_basis, idnr_used, idnr_hmac, jti, outcome, status, bytes,
          digest, duration_ms, reason, on_behalf_of, prev_hash, hash)
        select r.* from json_to_recordset(${rowsJson(chained)}::text::json) as r(seq bigint,
          transfer_id uuid, kind text, at timestamptz, consumer_id text, provider_id text,
          evidence_type text, purpose text, legal_basis text, idnr_used boolean, idnr_hmac text,
          jti text, outcome text, status integer, bytes bigint, digest text, duration_ms integer,
          reason text, on_behalf_of text, prev_hash text, hash text)
        returning 1
      )
      update protocol_chain set head_seq = ${last.seq}, head_hash = ${last.hash} where id = 1`;
    return { written: chained.length, head: { seq: last.seq, hash: last.hash } };
  });
}

async function unstored(tx: Queryable, entries: ProtocolEntry[]): Promise<ProtocolEntry[]> {
  const ids = JSON.stringify([...new Set(entries.map((e) => e.transferId.toLowerCase()))]);
  const stored = await tx.sql<{ transfer_id: string; kind: string }>`
    select transfer_id::text, kind from protocol_entries
    where transfer_id in (select value::uuid from json_array_elements_text(${ids}::text::json))`;
  const have = new Set(stored.map((r) => `${r.transfer_id}/${r.kind}`));
  return entries.filter((e) => !have.has(key(e)));
}

/**
 * postgres.js holds a message shorter than 1 KiB back until the next `setImmediate`, to join
 * it with others (`write()` in its src/connection.js): after every microtask queued then, which
 * in the writer are the resumed callers of the batch before (_log.ts sends the next batch
 * before resuming them). A batch of one entry is ~850 bytes; trailing whitespace, which JSON
 * ignores, takes it past 1 KiB, so it leaves at once.
 */
const SENT_AT_ONCE = 1024;

function sentAtOnce(json: string): string {
  return json.length >= SENT_AT_ONCE ? json : json.padEnd(SENT_AT_ONCE);
}

function rowsJson(chained: readonly ChainedEntry[]): string {
  return JSON.stringify(chained.map((e) => ({
    seq: e.seq,
    transfer_id: e.transferId,
    kind: e.kind,
    at: e.at,
    consumer_id: e.consumerId,
    provider_id: e.providerId,
    evidence_type: e.evidenceType,
    purpose: e.purpose,
    legal_basis: e.legalBasis,
    idnr_used: e.idnrUsed,
    idnr_hmac: e.idnrHmac,
    jti: e.jti,
    outcome: e.outcome,
    status: e.status,
    bytes: e.bytes,
    digest: e.digest,
    duration_ms: e.durationMs,
    reason: e.reason,
    on_behalf_of: e.onBehalfOf ?? null,
    prev_hash: e.prevHash,
    hash: e.hash,
  })));
}
