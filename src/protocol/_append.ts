/**
 * The writer's one statement: a batch of entries appended to the hash chain with a single
 * multi-row insert. The batch is one text parameter, which both postgres.js and PGlite bind
 * as is: a JSON array of the entries' canonical encodings behind their two hashes
 * (`chainRows()` in _chain.ts), expanded by `jsonb_array_elements` and read by position.
 *
 * @module
 */
import type { Db, Queryable } from "../../db/types.ts";
import type { ProtocolEntry } from "./_entry.ts";
import { chainRows } from "./_chain.ts";

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
  // A caller may log one transfer's entry twice: the first stays. One key per entry.
  let fresh = entries.filter((e) => {
    const before = seen.size;
    return seen.add(key(e)).size > before;
  });
  if (fresh.length === 0) return { written: 0, head: options.head ?? null };
  const known = options.head;
  if (known && !options.checkExisting) {
    const head = await appendAfter(db, fresh, known);
    if (head !== null) return { written: fresh.length, head };
  }
  return await db.transaction(async (tx) => {
    const [stored] = await tx.sql<{ head_seq: string | number; head_hash: string }>`
      select head_seq, head_hash from protocol_chain where id = 1 for update`;
    if (!stored) throw new Error("Cannot append to the protocol: protocol_chain has no row");
    const current = { seq: Number(stored.head_seq), hash: stored.head_hash };
    if (options.checkExisting) fresh = await unstored(tx, fresh);
    if (fresh.length === 0) return { written: 0, head: current };
    // Under the row lock the head cannot move, so the statement always appends here.
    const head = await appendAfter(tx, fresh, current);
    if (head === null) throw new Error("Cannot append to the protocol: its head moved under lock");
    return { written: fresh.length, head };
  });
}

/**
 * One statement: moves the chain's head from `known` past `entries` and inserts them, or, when
 * the head is no longer `known` (another instance appended), does neither and returns null.
 */
async function appendAfter(
  q: Queryable,
  entries: readonly ProtocolEntry[],
  known: ChainHead,
): Promise<ChainHead | null> {
  const { rows, head } = chainRows(entries, known);
  const [row] = await q.sql<{ n: number }>`
    with moved as (
      update protocol_chain set head_seq = ${head.seq}, head_hash = ${head.hash}
      where id = 1 and head_seq = ${known.seq} and head_hash = ${known.hash}
      returning 1
    ), inserted as (
      insert into protocol_entries (prev_hash, hash, seq, transfer_id, kind, at, consumer_id,
        provider_id, evidence_type, purpose, legal_basis, idnr_used, idnr_hmac, jti, outcome,
        status, bytes, digest, duration_ms, reason, on_behalf_of)
      select r->>0, r->>1, (r->>3)::bigint, (r->>4)::uuid, r->>5, (r->>6)::timestamptz, r->>7,
        r->>8, r->>9, r->>10, r->>11, (r->>12)::boolean, r->>13, r->>14, r->>15,
        (r->>16)::integer, (r->>17)::bigint, r->>18, (r->>19)::integer, r->>20, r->>21
      from jsonb_array_elements(${sentAtOnce(rows)}::text::jsonb) as r
      where exists (select 1 from moved)
      returning 1
    )
    select count(*)::int as n from inserted`;
  return row?.n === entries.length ? head : null;
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
