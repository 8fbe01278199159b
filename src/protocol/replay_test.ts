/**
 * Replay of the spool against PostgreSQL, with the log's private parts (a spool written by
 * hand, entries appended behind the log's back); the rest of the log's integration tests are
 * in tests/protocol_test.ts.
 */
import assert from "node:assert/strict";
import { freshPostgres } from "../../tests/pg.ts";
import type { Db } from "../../db/types.ts";
import { appendEntries } from "./_append.ts";
import { decisionEntry } from "./_entry.ts";
import { openProtocolLog, verifyChain } from "./mod.ts";
import { Spool } from "./_spool.ts";
import { sampleDecision, within } from "./testing.ts";

const KEY = "protocol-key-for-tests-only-0123456789";
const opts = { sanitizeResources: false, sanitizeOps: false };

const decision = sampleDecision;

async function withLog(
  db: Db,
  spoolDir: string,
  fn: (log: Awaited<ReturnType<typeof openProtocolLog>>) => Promise<void>,
): Promise<void> {
  const log = await openProtocolLog(db, { hmacKey: KEY, onError: () => {}, spoolDir });
  try {
    await fn(log);
  } finally {
    await log.close();
  }
}

async function countEntries(db: Db): Promise<number> {
  const [row] = await db.sql<{ n: number }>`select count(*)::int as n from protocol_entries`;
  return row!.n;
}

Deno.test({
  name: "a replayed spool skips the entries PostgreSQL already committed",
  ...opts,
  fn: async () => {
    const db = await freshPostgres();
    const spoolDir = await Deno.makeTempDir({ prefix: "lotse-spool-" });
    try {
      // A crash after a drain committed but before the spool was cut: the spool still holds
      // entries that are in PostgreSQL.
      const entries = Array.from(
        { length: 20 },
        (_, i) =>
          decisionEntry(decision({ purpose: `p${i}` }), {
            now: new Date(),
            hmacKey: KEY,
            outcome: "in-flight",
          }),
      );
      const first = await appendEntries(db, entries.slice(0, 12), { checkExisting: false });
      assert.equal(first.written, 12);
      const spool = await Spool.open(spoolDir);
      await spool.append(entries);
      await spool.close();

      await withLog(db, spoolDir, async (log) => {
        assert.equal(log.spoolDepth, 20);
        await within(log.drain(), 20_000);
        assert.equal(log.stats.replayed, 8);
      });
      assert.equal(await countEntries(db), 20);
      const rows = await db.sql<{ purpose: string }>`
        select purpose from protocol_entries order by seq`;
      assert.deepEqual(rows.map((r) => r.purpose), entries.map((e) => e.purpose));
      assert.equal((await verifyChain(db)).ok, true);
    } finally {
      await db.close();
      await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
    }
  },
});
