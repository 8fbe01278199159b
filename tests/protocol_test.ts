/**
 * The protocol log against a real PostgreSQL: round trips, group commit, an outage, a crash,
 * tampering, retention and the cockpit's queries.
 */
import { runVerifyTool } from "./_lotse_process.ts";
import assert from "node:assert/strict";
import { freshDatabaseUrl, freshPostgres, startCluster } from "./_pg.ts";
import { connectPostgres } from "../db/postgres.ts";
import { openPglite } from "../db/pglite.ts";
import { migrate } from "../db/migrate.ts";
import type { Db } from "../db/types.ts";
import {
  type BatchTiming,
  idnrHmac,
  openProtocolLog,
  type ProtocolLogOptions,
  recordsForIdnr,
  startRetention,
  transferById,
  verifyChain,
} from "../src/protocol/mod.ts";
import { purge } from "../src/protocol/mod.ts";
import { sampleDecision, within } from "../src/protocol/testing.ts";

const KEY = "protocol-key-for-tests-only-0123456789";
const IDNR = "86095742719";
const ROOT = new URL("../", import.meta.url);
const quiet = { onError: () => {} };

const decision = sampleDecision;

async function withLog(
  db: Db,
  options: Partial<ProtocolLogOptions>,
  fn: (log: Awaited<ReturnType<typeof openProtocolLog>>, spoolDir: string) => Promise<void>,
): Promise<void> {
  const spoolDir = options.spoolDir ?? await Deno.makeTempDir({ prefix: "lotse-spool-" });
  const log = await openProtocolLog(db, { hmacKey: KEY, ...quiet, ...options, spoolDir });
  try {
    await fn(log, spoolDir);
  } finally {
    await log.close();
    await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
  }
}

async function countEntries(db: Db, where = "true"): Promise<number> {
  const q = [`select count(*)::int as n from protocol_entries where ${where}`];
  const [row] = await db.sql<{ n: number }>(q as unknown as TemplateStringsArray);
  return row!.n;
}

const opts = { sanitizeResources: false, sanitizeOps: false };

/** A log on a fresh database whose batches are reported to `timings` (no write timeout). */
async function withTimedLog(
  fn: (
    log: Awaited<ReturnType<typeof openProtocolLog>>,
    timings: BatchTiming[],
    db: Db,
  ) => Promise<void>,
  options: Partial<ProtocolLogOptions> = {},
): Promise<void> {
  const db = await freshPostgres();
  try {
    const timings: BatchTiming[] = [];
    await withLog(
      db,
      { writeTimeoutMs: 600_000, onBatch: (t) => timings.push(t), ...options },
      (log) => fn(log, timings, db),
    );
  } finally {
    await db.close();
  }
}

/** Waits until `n` batches were reported to onBatch (it runs behind the callers), up to 5 s. */
async function reported(timings: BatchTiming[], n: number): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (timings.length < n && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.equal(timings.length, n);
}

Deno.test({
  name: "begin(), finish() and refused() round-trip and the IDNr is stored only as HMAC",
  ...opts,
  fn: async () => {
    const db = await freshPostgres();
    try {
      await withLog(db, {}, async (log) => {
        const d = decision();
        await log.begin(d);
        assert.equal((await transferById(db, d.transferId))?.outcome, "in-flight");
        await log.finish(d.transferId, {
          outcome: "delivered",
          status: 200,
          bytes: 5_000_000_000,
          digest: "sha-256=:abc=:",
          durationMs: 42,
        });
        const r = decision({ providerId: null, idnr: null, idnrUsed: false, jti: null });
        await log.refused({ ...r, status: 403, reason: "no permission covers the purpose" });
        const g = decision();
        await log.granted(g);
        const efa = decision({ onBehalfOf: "NL22233223" });
        await log.begin(efa);
        await log.flush();
        const [stored] = await db.sql<{ on_behalf_of: string; kind: string; idnr_used: boolean }>`
          select on_behalf_of, kind, idnr_used from protocol_entries
          where transfer_id = ${efa.transferId}`;
        assert.deepEqual(stored, { on_behalf_of: "NL22233223", kind: "decision", idnr_used: true });
        assert.equal((await transferById(db, g.transferId))?.outcome, "granted");

        const record = await transferById(db, d.transferId);
        assert.equal(record?.outcome, "delivered");
        assert.equal(record?.consumerId, "stuttgart-parken");
        assert.equal(record?.bytes, 5_000_000_000);
        assert.equal(record?.responseDigest, "sha-256=:abc=:");
        assert.equal(record?.durationMs, 42);
        assert.equal(record?.jti, d.jti);
        const refusal = await transferById(db, r.transferId);
        assert.equal(refusal?.outcome, "refused");
        assert.equal(refusal?.status, 403);
        assert.equal(refusal?.providerId, null);
        assert.equal(await transferById(db, crypto.randomUUID()), null);
        assert.equal(await transferById(db, "not-a-uuid"), null);

        const dump = await db.sql<{ t: string }>`
          select string_agg(e::text, ' ') as t from protocol_entries e`;
        assert.ok(!dump[0]!.t.includes(IDNR), "the IDNr appears in clear");
        assert.ok(dump[0]!.t.includes(idnrHmac(KEY, IDNR)));
        assert.deepEqual(await verifyChain(db), { ok: true, count: 5, firstSeq: 1, lastSeq: 5 });
        assert.equal(log.stats.spooled, 0);
      });
    } finally {
      await db.close();
    }
  },
});

Deno.test({
  name: "concurrent begin() calls share group commits and each is stored once",
  ...opts,
  fn: async () => {
    const db = await freshPostgres();
    try {
      // No write may count as failed under a loaded machine's slow commit: then entries would
      // take the spool's path and the counts below would say nothing about group commit.
      await withLog(db, { writeTimeoutMs: 600_000 }, async (log) => {
        const ds = Array.from({ length: 600 }, () => decision());
        // 600 begin() calls in one tick: the write loop wakes to find them all queued, and
        // one transaction takes them; likewise the 600 outcomes.
        await Promise.all(ds.map((d) => log.begin(d)));
        assert.equal(log.stats.batches, 1);
        await Promise.all(ds.map((d) => log.finish(d.transferId, { outcome: "failed" })));
        assert.equal(log.stats.batches, 2);
        assert.equal(log.stats.recordsWritten, 1200);
        assert.equal(await countEntries(db), 1200);
        assert.equal(log.queueDepth, 0);
        const check = await verifyChain(db);
        assert.equal(check.ok, true);
        assert.equal(check.count, 1200);
      });
    } finally {
      await db.close();
    }
  },
});

Deno.test({
  name: "onBatch tells each batch's stages: logged, sent, answered, callers run on",
  ...opts,
  fn: () =>
    withTimedLog(async (log, timings) => {
      const before = performance.now();
      const ran: number[] = [];
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          await log.begin(decision());
          ran.push(performance.now());
        }),
      );
      await reported(timings, 1);
      const [t] = timings;
      assert.equal(t!.enqueuedAt.length, 50);
      for (const at of t!.enqueuedAt) assert.ok(before <= at && at <= t!.sentAt);
      assert.ok(t!.sentAt <= t!.answeredAt);
      assert.ok(t!.answeredAt <= t!.resumedAt);
      assert.equal(ran.length, 50);
      for (const at of ran) assert.ok(t!.answeredAt <= at && at <= t!.resumedAt);
    }),
});

Deno.test({
  name: "the next batch is sent before the callers of the one before it are resumed",
  ...opts,
  fn: () =>
    withTimedLog(async (log, timings, db) => {
      const first = log.begin(decision()).then(() => performance.now());
      // Until the write loop has taken the first entry: its answer needs I/O, so the second
      // entry queues while the first is in flight.
      while (log.queueDepth > 0) await Promise.resolve();
      const second = log.begin(decision());
      const resumed = await first;
      await second;
      await reported(timings, 2);
      assert.deepEqual(timings.map((t) => t.enqueuedAt.length), [1, 1]);
      assert.ok(
        timings[1]!.sentAt <= resumed,
        `sent ${timings[1]!.sentAt}, first caller resumed ${resumed}`,
      );
      assert.equal(log.stats.batches, 2);
      assert.deepEqual(await verifyChain(db), { ok: true, count: 2, firstSeq: 1, lastSeq: 2 });
    }),
});

/** Lets the write loop run on everything it was woken for (its steps are microtasks). */
const loopRan = () => new Promise((resolve) => setTimeout(resolve, 0));

/** `promise`, or a failure naming `what` after 30 s (instead of a hang). */
async function settledWithin<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within 30 s`)), 30_000);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name: "an outcome waits for the next decision and shares its commit; stages count the decision",
  ...opts,
  fn: () =>
    withTimedLog(async (log, timings, db) => {
      const first = decision();
      await log.begin(first);
      const outcome = log.finish(first.transferId, { outcome: "delivered", status: 200 });
      let outcomeDone = false;
      outcome.then(() => outcomeDone = true);
      await loopRan();
      // Held: not taken into a batch of its own.
      assert.equal(log.queueDepth, 1);
      assert.equal(outcomeDone, false);
      assert.equal(log.stats.batches, 1);
      await log.begin(decision());
      await settledWithin(outcome, "the outcome");
      assert.equal(log.stats.batches, 2);
      assert.equal(log.stats.recordsWritten, 3);
      await reported(timings, 2);
      // The second batch held the outcome and the decision; its stages count the decision.
      assert.deepEqual(timings.map((t) => t.enqueuedAt.length), [1, 1]);
      // …and counts every entry it wrote, the outcome included.
      assert.deepEqual(timings.map((t) => t.entries), [1, 2]);
      assert.deepEqual(await verifyChain(db), { ok: true, count: 3, firstSeq: 1, lastSeq: 3 });
    }, { outcomeMaxDelayMs: 600_000 }),
});

Deno.test({
  name:
    "held outcomes go at once on flush(), drain() and close(), and alone after outcomeMaxDelayMs",
  ...opts,
  fn: async () => {
    const db = await freshPostgres();
    try {
      const ds = [decision(), decision(), decision(), decision()];
      await withLog(db, { writeTimeoutMs: 600_000, outcomeMaxDelayMs: 600_000 }, async (log) => {
        // One held outcome written by each of flush() and drain().
        for (const [i, write] of [[0, "flush"], [1, "drain"]] as const) {
          const held = log.finish(ds[i]!.transferId, { outcome: "delivered" });
          await loopRan();
          assert.equal(log.queueDepth, 1);
          await settledWithin(log[write](), `${write}()`);
          await held;
          assert.equal(await countEntries(db), i + 1);
        }
        log.finish(ds[2]!.transferId, { outcome: "failed" });
        await loopRan();
        assert.equal(log.queueDepth, 1);
      });
      // close() wrote the third one.
      assert.equal(await countEntries(db), 3);
      await withLog(db, { writeTimeoutMs: 600_000, outcomeMaxDelayMs: 20 }, async (log) => {
        await settledWithin(log.finish(ds[3]!.transferId, { outcome: "delivered" }), "alone");
        assert.equal(log.stats.batches, 1);
      });
      assert.equal(await countEntries(db), 4);
      assert.equal((await verifyChain(db)).ok, true);
    } finally {
      await db.close();
    }
  },
});

Deno.test({
  name: "recordsForIdnr() pages a person's transfers by time within from and to",
  ...opts,
  fn: async () => {
    const db = await freshPostgres();
    try {
      await withLog(db, {}, async (log) => {
        const start = Date.UTC(2026, 0, 1);
        const mine = Array.from(
          { length: 25 },
          (_, i) => decision({ time: new Date(start + (24 - i) * 60_000), purpose: `p${24 - i}` }),
        );
        await Promise.all([
          ...mine.map((d) => log.begin(d)),
          ...Array.from({ length: 5 }, () => log.begin(decision({ idnr: "12345678903" }))),
        ]);
        await log.finish(mine[0]!.transferId, { outcome: "delivered" });
        await log.flush();
        const hmac = idnrHmac(KEY, IDNR);
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const page: Awaited<ReturnType<typeof recordsForIdnr>> = await recordsForIdnr(db, hmac, {
            limit: 10,
            cursor,
          });
          seen.push(...page.records.map((r) => r.purpose));
          cursor = page.nextCursor;
          pages++;
        } while (cursor);
        assert.equal(pages, 3);
        assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => `p${i}`));

        const window = await recordsForIdnr(db, hmac, {
          from: new Date(start + 5 * 60_000),
          to: new Date(start + 8 * 60_000),
        });
        assert.deepEqual(window.records.map((r) => r.purpose), ["p5", "p6", "p7"]);
        assert.equal(window.nextCursor, null);
        const last = await recordsForIdnr(db, hmac, { from: new Date(start + 24 * 60_000) });
        assert.deepEqual(last.records, [{
          transferId: mine[0]!.transferId,
          time: new Date(start + 24 * 60_000).toISOString(),
          consumer: "stuttgart-parken",
          provider: "kba-zfzr",
          evidenceType: "fahrzeugzulassung",
          purpose: "p24",
          legalBasis: "StVO §45 Abs. 1b",
          outcome: "delivered",
        }]);
        await assert.rejects(() => recordsForIdnr(db, hmac, { cursor: "bogus" }), /bad cursor/);
      });
    } finally {
      await db.close();
    }
  },
});

Deno.test({
  name: "an altered or deleted entry is found by verifyChain() and the verify tool",
  ...opts,
  fn: async () => {
    const url = await freshDatabaseUrl();
    const db = await connectPostgres(url, { max: 2 });
    try {
      await migrate(db);
      await withLog(db, {}, async (log) => {
        await Promise.all(Array.from({ length: 10 }, () => log.begin(decision())));
      });
      const ok = await runVerifyTool(url);
      assert.equal(ok.code, 0, ok.output);
      assert.match(ok.output, /OK: 10 protocol entries verified/);

      await db.sql`update protocol_entries set purpose = 'tampered' where seq = 4`;
      const altered = await verifyChain(db);
      assert.equal(altered.ok, false);
      assert.deepEqual(altered.ok ? null : [altered.seq, altered.count], [4, 3]);
      const tool = await runVerifyTool(url);
      assert.equal(tool.code, 1);
      assert.match(tool.output, /BROKEN at seq 4: entry 4 was altered/);

      await db.sql`update protocol_entries set purpose = 'bewohnerparkausweis' where seq = 4`;
      assert.equal((await verifyChain(db)).ok, true);
      await db.sql`delete from protocol_entries where seq = 7`;
      const deleted = await verifyChain(db);
      assert.equal(deleted.ok ? null : deleted.reason, "entries 7 to 7 are missing");
      assert.match((await runVerifyTool(url)).output, /BROKEN at seq 8/);

      await db.sql`delete from protocol_entries where seq >= 7`;
      const tail = await verifyChain(db);
      assert.match(tail.ok ? "" : tail.reason, /entries 7 to 10 are missing/);
    } finally {
      await db.close();
    }
  },
});

Deno.test({
  name: "purge() deletes entries past retention and the rest still verifies",
  ...opts,
  fn: async () => {
    const db = await freshPostgres();
    try {
      const now = Date.UTC(2026, 5, 1);
      const day = 86_400_000;
      await withLog(db, {}, async (log) => {
        for (const age of [1000, 900, 800, 731, 729, 400, 10, 1]) {
          const d = decision({ time: new Date(now - age * day) });
          await log.begin(d);
          await log.finish(d.transferId, { outcome: "delivered", time: new Date(now - age * day) });
        }
      });
      const purged: number[] = [];
      const stop = startRetention(db, {
        retentionDays: 730,
        clock: () => new Date(now),
        onPurged: (n) => purged.push(n),
      });
      await stop();
      assert.deepEqual(purged, [8]);
      assert.equal(await countEntries(db), 8);
      assert.deepEqual(await verifyChain(db), { ok: true, count: 8, firstSeq: 9, lastSeq: 16 });
      assert.equal(await purge(db, { olderThan: new Date(now - 730 * day) }), 0);

      await db.sql`delete from protocol_entries where seq = 12`;
      const broken = await verifyChain(db);
      assert.equal(broken.ok ? null : broken.seq, 13);
    } finally {
      await db.close();
    }
  },
});

Deno.test({
  name: "PGlite takes the same log, chain and queries",
  ...opts,
  fn: async () => {
    const db = await openPglite(null);
    try {
      await migrate(db);
      await withLog(db, {}, async (log) => {
        const ds = Array.from({ length: 50 }, () => decision());
        await Promise.all(ds.map((d) => log.begin(d)));
        await log.finish(ds[3]!.transferId, { outcome: "delivered", bytes: 10 });
        await log.flush();
        assert.equal((await transferById(db, ds[3]!.transferId))?.bytes, 10);
        const page = await recordsForIdnr(db, idnrHmac(KEY, IDNR), { limit: 100 });
        assert.equal(page.records.length, 50);
      });
      assert.deepEqual(await verifyChain(db), { ok: true, count: 51, firstSeq: 1, lastSeq: 51 });
    } finally {
      await db.close();
    }
  },
});

Deno.test({
  name: "while PostgreSQL is stopped begin() resolves from the spool, and it drains once back",
  ...opts,
  fn: async () => {
    const cluster = await startCluster({ durable: true });
    const db = await connectPostgres(cluster.url, { max: 4, connectTimeout: 2 });
    try {
      await migrate(db);
      await withLog(db, { retryMinMs: 50, retryMaxMs: 200 }, async (log) => {
        const before = Array.from({ length: 100 }, () => decision());
        await Promise.all(before.map((d) => log.begin(d)));
        await cluster.stop();
        const during = Array.from({ length: 300 }, () => decision());
        // About 1.5 s of outage, so the log tries PostgreSQL again several times and fails.
        for (let i = 0; i < during.length; i += 30) {
          await Promise.all(during.slice(i, i + 30).map((d) => log.begin(d)));
          log.finish(during[i]!.transferId, { outcome: "delivered" });
          await new Promise((resolve) => setTimeout(resolve, 150));
        }
        await log.flush();
        assert.ok(log.stats.spooled >= 300, `${log.stats.spooled} spooled`);
        assert.ok(log.spoolDepth >= 300);
        assert.ok(log.stats.dbErrors > 0);
        await cluster.start();
        const after = Array.from({ length: 100 }, () => decision());
        await Promise.all(after.map((d) => log.begin(d)));
        await within(log.drain(), 20_000);
        assert.equal(log.queueDepth, 0);
        assert.equal(await countEntries(db), 510);
        const [dupes] = await db.sql<{ n: number }>`
          select count(*)::int as n from (select transfer_id from protocol_entries
          where kind = 'decision' group by transfer_id having count(*) > 1) d`;
        assert.equal(dupes!.n, 0);
        for (const d of [...before, ...during, ...after]) {
          assert.notEqual(await transferById(db, d.transferId), null);
        }
        assert.deepEqual(await verifyChain(db), {
          ok: true,
          count: 510,
          firstSeq: 1,
          lastSeq: 510,
        });
        assert.equal((await transferById(db, during[30]!.transferId))?.outcome, "delivered");
        // The order is kept: every entry spooled during the outage precedes the later ones.
        const [order] = await db.sql<{ ok: boolean }>`
          select max(seq) filter (where transfer_id = ${during.at(-1)!.transferId}::uuid)
            < min(seq) filter (where transfer_id = ${after[0]!.transferId}::uuid) as ok
          from protocol_entries`;
        assert.equal(order!.ok, true);
      });
    } finally {
      await db.close();
      await cluster.destroy();
    }
  },
});

// The child logs decisions with 40 concurrent loops and prints each transfer id once its
// begin() resolved; after 150 of them its database "goes away" (every query fails as a
// refused connection would), so the rest is acknowledged from the spool. It is killed with
// SIGKILL mid-write.
const CHILD = `
import { openProtocolLog } from "${new URL("src/protocol/mod.ts", ROOT)}";
import { connectPostgres } from "${new URL("db/postgres.ts", ROOT)}";
const db = await connectPostgres(Deno.env.get("URL"), { max: 2 });
let acked = 0;
const refused = () => Promise.reject(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));
const flaky = { ...db,
  sql: (...args) => acked >= 150 ? refused() : db.sql(...args),
  transaction: (fn) => acked >= 150 ? refused() : db.transaction(fn) };
const log = await openProtocolLog(flaky, {
  spoolDir: Deno.env.get("SPOOL"), hmacKey: "k", retryMinMs: 60000, onError: () => {},
});
const out = Deno.stdout;
const line = new TextEncoder();
async function loop() {
  for (;;) {
    const transferId = crypto.randomUUID();
    await log.begin({ transferId, consumerId: "c", providerId: "p", evidenceType: "e",
      purpose: "p", legalBasis: "l", idnrUsed: false });
    acked++;
    out.writeSync(line.encode(transferId + "\\n"));
    log.finish(transferId, { outcome: "delivered", status: 200 });
  }
}
await Promise.all(Array.from({ length: 40 }, loop));
`;

Deno.test({
  name: "after kill -9 the spool is replayed at open: no acknowledged entry lost, none doubled",
  ...opts,
  fn: async () => {
    // A durability test: PostgreSQL with its durability settings on (fsync, synchronous_commit).
    const cluster = await startCluster({ durable: true });
    const url = await freshDatabaseUrl(cluster.url);
    const db = await connectPostgres(url, { max: 2 });
    const spoolDir = await Deno.makeTempDir({ prefix: "lotse-spool-" });
    try {
      await migrate(db);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["eval", "--ext=js", CHILD],
        cwd: ROOT.pathname,
        env: { URL: url, SPOOL: spoolDir },
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const acked: string[] = [];
      let buffered = "";
      let killed = false;
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buffered += chunk;
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        acked.push(...lines);
        if (!killed && acked.length >= 1500) {
          child.kill("SIGKILL");
          killed = true;
        }
      }
      assert.equal((await child.status).signal, "SIGKILL");
      assert.ok(acked.length >= 1500);
      const inDbBefore = await countEntries(db, "kind = 'decision'");
      assert.ok(inDbBefore >= 150 && inDbBefore < acked.length, `${inDbBefore} in PostgreSQL`);

      await withLog(db, { spoolDir }, async (log) => {
        assert.ok(log.spoolDepth > 0);
        await within(log.drain(), 20_000);
        assert.ok(log.stats.replayed > 0);
      });
      const stored = await db.sql<{ id: string; n: number }>`
        select transfer_id::text as id, count(*)::int as n from protocol_entries
        where kind = 'decision' group by transfer_id`;
      const counts = new Map(stored.map((r) => [r.id, r.n]));
      const lost = acked.filter((id) => !counts.has(id));
      assert.deepEqual(lost, []);
      assert.ok(stored.every((r) => r.n === 1));
      const check = await verifyChain(db);
      assert.equal(check.ok, true);
      assert.ok(check.count >= acked.length);
    } finally {
      await db.close();
      await cluster.destroy();
      await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
    }
  },
});
