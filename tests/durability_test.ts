/**
 * Durability of the protocol log with Lotse as a real child process (docs/targets.md R2, R3):
 * `kill -9` during ~1,000 concurrent transfers, PostgreSQL stopped for 30 s under load, and
 * SIGTERM under load. What the consumer saw is checked against `protocol_entries` after a
 * restart on the same database and data directory.
 *
 * A fourth test combines both: `kill -9` while PostgreSQL is down, so the decisions exist only
 * in the fsynced spool and must be replayed by the restarted process. A fifth kills a process
 * that only appends to the spool right after an append was acknowledged, and replays what the
 * spool holds: every acknowledged entry must be there. (A process kill leaves the page cache
 * alone; a power cut, which the spool's fsync is for, cannot be simulated here.)
 *
 * Every test runs on a PostgreSQL cluster of its own with PostgreSQL's durability settings on
 * (`fsync`, `synchronous_commit`, `full_page_writes`), unlike the rest of the suite's shared
 * cluster, and checks that they are on.
 *
 * Run on its own: `deno test --allow-all tests/durability_test.ts` (about 70 s: the outage
 * alone is 30 s). Each test prints its figures.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type Cluster, freshDatabaseUrl, startCluster } from "./_pg.ts";
import { waitFor } from "./_wait.ts";
import { type LotseProcess, runVerifyTool, spawnLotse } from "./_lotse_process.ts";
import { connectPostgres } from "../db/postgres.ts";
import { migrate } from "../db/migrate.ts";
import { openProtocolLog, verifyChain } from "../src/protocol/mod.ts";
import type { Db } from "../db/types.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";

/** How long PostgreSQL stays down in the R3 test (docs/targets.md R3). */
const OUTAGE_MS = 30_000;
const CONSUMER = "stuttgart-bewohnerparken";
const KiB = 1024;
const MiB = 1024 * KiB;
const ROOT = new URL("../", import.meta.url).pathname;
const opts = { sanitizeResources: false, sanitizeOps: false };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What the consumer saw of one transfer. */
interface Seen {
  startedAt: number;
  /** When the response headers arrived; null when they never did. */
  headersAt: number | null;
  endedAt: number | null;
  status: number | null;
  transferId: string | null;
  /** Status 200, every byte of `Content-Length`, and the SHA-256 matched `Repr-Digest`. */
  complete: boolean;
  bytes: number;
  error: string | null;
}

interface TransferOptions {
  /** Generated payload size asked of the demo provider; absent: the small JSON evidence. */
  bytes?: number;
  /** Pause after every chunk read, to keep many transfers mid-stream. */
  paceMs?: number;
  /** Gets the transfer's record at once, to watch it while it runs. */
  track?: Seen[];
}

function evidenceRequest(token: string, body: unknown): RequestInit {
  const { purpose, legalBasis } = DEMO_PURPOSES.bewohnerparken;
  return {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      "lotse-purpose": purpose,
      // The legal basis holds "§": sent as an RFC 8187 extended value.
      "lotse-legal-basis": `UTF-8''${encodeURIComponent(legalBasis)}`,
    },
    body: JSON.stringify(body),
  };
}

/** One transfer as a consumer makes it: reads the whole body and checks its digest. */
async function transfer(
  base: string,
  token: string,
  options: TransferOptions = {},
): Promise<Seen> {
  const seen: Seen = {
    startedAt: performance.now(),
    headersAt: null,
    endedAt: null,
    status: null,
    transferId: null,
    complete: false,
    bytes: 0,
    error: null,
  };
  options.track?.push(seen);
  const body = options.bytes === undefined
    ? { halter: { name: "Muster" } }
    : { demo: { bytes: options.bytes } };
  try {
    const res = await fetch(
      `${base}/v1/evidence/fahrzeugzulassung?ags=08111000`,
      evidenceRequest(token, body),
    );
    seen.headersAt = performance.now();
    seen.status = res.status;
    seen.transferId = res.headers.get("lotse-transfer-id");
    const hash = createHash("sha256");
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      seen.bytes += value.length;
      if (options.paceMs) await sleep(options.paceMs);
    }
    const announced = /sha-256=:([A-Za-z0-9+/=]+):/.exec(res.headers.get("repr-digest") ?? "");
    const length = Number(res.headers.get("content-length") ?? NaN);
    const digestOk = announced !== null && announced[1] === hash.digest("base64");
    seen.complete = res.status === 200 && seen.bytes === length && digestOk;
    if (!seen.complete) {
      seen.error = `status ${res.status}, ${seen.bytes} of ${length} bytes, digest ${
        digestOk ? "ok" : "wrong"
      }`;
    }
  } catch (error) {
    seen.error = (error as Error).message;
  }
  seen.endedAt = performance.now();
  return seen;
}

async function navigate(base: string, token: string): Promise<boolean> {
  const res = await fetch(`${base}/v1/navigation?evidenceType=fahrzeugzulassung&ags=08111000`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const body = await res.json();
  return res.status === 200 && body.provider?.id === "kba-zfzr";
}

/** Protocol entries per transfer id: how many decisions and outcomes. */
async function entriesById(db: Db): Promise<Map<string, { decision: number; outcome: number }>> {
  const rows = await db.sql<{ id: string; kind: "decision" | "outcome"; n: number }>`
    select transfer_id::text as id, kind, count(*)::int as n from protocol_entries
    group by transfer_id, kind`;
  const map = new Map<string, { decision: number; outcome: number }>();
  for (const row of rows) {
    const counts = map.get(row.id) ?? { decision: 0, outcome: 0 };
    counts[row.kind] += row.n;
    map.set(row.id, counts);
  }
  return map;
}

/** Polls until `ready(entries)` holds or `ms` passed; returns the last entries seen. */
async function entriesWhen(
  db: Db,
  ready: (entries: Map<string, { decision: number; outcome: number }>) => boolean,
  ms: number,
): Promise<Map<string, { decision: number; outcome: number }>> {
  const deadline = performance.now() + ms;
  for (;;) {
    const entries = await entriesById(db);
    if (ready(entries) || performance.now() > deadline) return entries;
    await sleep(250);
  }
}

/** Asserts the chain verifies both in-process and through the operator's tool. */
async function assertChainIntact(db: Db, databaseUrl: string): Promise<number> {
  const chain = await verifyChain(db);
  assert.ok(chain.ok, `chain broken: ${JSON.stringify(chain)}`);
  const tool = await runVerifyTool(databaseUrl);
  assert.equal(tool.code, 0, tool.output);
  return chain.count;
}

/** Runs `fn` on a fresh database in a cluster of its own with the durability settings on. */
async function withDurableCluster(
  fn: (cluster: Cluster, databaseUrl: string) => Promise<void>,
): Promise<void> {
  const cluster = await startCluster({ durable: true });
  try {
    const databaseUrl = await freshDatabaseUrl(cluster.url);
    const db = await connectPostgres(databaseUrl, { max: 1 });
    try {
      const settings = await db.sql<{ name: string; setting: string }>`
        select name, setting from pg_settings
        where name in ('fsync', 'synchronous_commit', 'full_page_writes') order by name`;
      assert.deepEqual(settings, [
        { name: "fsync", setting: "on" },
        { name: "full_page_writes", setting: "on" },
        { name: "synchronous_commit", setting: "on" },
      ]);
    } finally {
      await db.close();
    }
    await fn(cluster, databaseUrl);
  } finally {
    await cluster.destroy();
  }
}

/** A transfer whose headers arrived and whose body is still being read. */
function midStream(s: Seen): boolean {
  return s.headersAt !== null && s.endedAt === null;
}

function missing(
  ids: Iterable<string>,
  entries: Map<string, { decision: number; outcome: number }>,
  kind: "decision" | "outcome",
): string[] {
  return [...ids].filter((id) => (entries.get(id)?.[kind] ?? 0) < 1);
}

/** Sizes from 256 KiB to 2 MiB, spread evenly so small ones finish while large ones stream. */
function payloadSize(i: number, n: number, max = 2 * MiB): number {
  return 256 * KiB + Math.floor((max - 256 * KiB) * ((i * 7919) % n) / n);
}

async function withLotse(
  databaseUrl: string,
  fn: (lotse: LotseProcess, db: Db) => Promise<void>,
): Promise<void> {
  const lotse = await spawnLotse({ databaseUrl });
  const db = await connectPostgres(databaseUrl, { max: 2, connectTimeout: 2 });
  try {
    await fn(lotse, db);
  } catch (error) {
    console.error(`Lotse's output:\n${lotse.output.slice(-4000)}`);
    throw error;
  } finally {
    await lotse.close();
    await db.close();
  }
}

Deno.test({
  name: "after kill -9 during 1,000 concurrent transfers every delivered one has its record",
  ...opts,
  fn: () =>
    withDurableCluster((_cluster, databaseUrl) =>
      withLotse(databaseUrl, async (lotse, db) => {
        const token = await lotse.token(CONSUMER);
        const n = 1000;
        const seen: Seen[] = [];
        const started = performance.now();
        const runs = Array.from(
          { length: n },
          (_, i) =>
            transfer(lotse.url, token, { bytes: payloadSize(i, n), paceMs: 20, track: seen }),
        );
        // Kill once some transfers are through while most are mid-stream.
        const metrics = async () => {
          const text = await (await fetch(`${lotse.url}/metrics`)).text();
          return Number(/^lotse_protocol_queue_depth (\d+)/m.exec(text)?.[1] ?? NaN);
        };
        // The moment to kill: some transfers through while many are mid-stream (an event, so
        // the test does not depend on how fast the machine is).
        await waitFor(
          () => seen.filter((s) => s.complete).length >= 50 && seen.filter(midStream).length >= 100,
          "50 transfers complete and 100 mid-stream",
          { timeoutMs: 120_000 },
        );
        const queueDepth = await metrics().catch(() => NaN);
        const killedAt = performance.now();
        const status = await lotse.kill("SIGKILL");
        const completeAtKill = seen.filter((s) => s.complete && s.endedAt! <= killedAt).length;
        const all = await Promise.all(runs);
        const withHeaders = all.filter((s) => s.headersAt !== null && s.transferId !== null);
        const headersBeforeKill = withHeaders.filter((s) => s.headersAt! <= killedAt).length;
        const received = all.filter((s) => s.complete);
        assert.equal(status.signal, "SIGKILL");
        assert.ok(completeAtKill >= 50, `${completeAtKill} transfers were complete at the kill`);
        const inFlightAtKill = headersBeforeKill - completeAtKill;
        // 100 were mid-stream when the wait ended; a few may finish before the kill lands.
        assert.ok(inFlightAtKill > 0, "no transfer was mid-stream at the kill");

        await lotse.restart();
        const headerIds = new Set(withHeaders.map((s) => s.transferId!));
        const entries = await entriesWhen(
          db,
          (e) => missing(headerIds, e, "decision").length === 0,
          15_000,
        );
        const receivedIds = received.map((s) => s.transferId!);
        assert.deepEqual(missing(receivedIds, entries, "decision"), [], "received, no decision");
        assert.deepEqual(missing(headerIds, entries, "decision"), [], "headers, no decision");
        for (const [id, counts] of entries) {
          assert.ok(counts.decision <= 1 && counts.outcome <= 1, `${id} recorded twice`);
        }
        // The consumer's own view, through the API, for a sample: "delivered" where the outcome
        // was made durable before the kill, "in-flight" where only the decision was (the kill
        // came between the last byte and the outcome's write), exactly as the entries say.
        const fresh = await lotse.token(CONSUMER);
        const sample = receivedIds.slice(0, 40);
        for (const id of sample) {
          const res = await fetch(`${lotse.url}/v1/transfers/${id}`, {
            headers: { authorization: `Bearer ${fresh}` },
          });
          const record = await res.json();
          assert.equal(res.status, 200, JSON.stringify(record));
          const expected = entries.get(id)!.outcome > 0 ? "delivered" : "in-flight";
          assert.equal(record.outcome, expected, `${id}: ${JSON.stringify(entries.get(id))}`);
        }
        const chained = await assertChainIntact(db, databaseUrl);

        const decisions = [...entries.values()].filter((c) => c.decision > 0).length;
        const outcomes = [...entries.values()].filter((c) => c.outcome > 0).length;
        const receivedWithOutcome = receivedIds.filter((id) => entries.get(id)?.outcome).length;
        console.log(
          `R2: ${n} transfers started; killed after ${Math.round(killedAt - started)} ms ` +
            `(protocol queue depth ${queueDepth}); at the kill ${completeAtKill} complete, ` +
            `${inFlightAtKill} mid-stream, ${n - headersBeforeKill} without headers; ` +
            `finally received complete ${received.length}, headers seen ${headerIds.size}; ` +
            `after restart ${decisions} decisions, ${outcomes} outcomes ` +
            `(${receivedWithOutcome} of ${received.length} received have an outcome); ` +
            `chain ${chained} entries intact; restarted in ${lotse.starts} starts`,
        );
      })
    ),
});

Deno.test({
  name: "while PostgreSQL is stopped for 30 s navigation and transfers go on and no record is lost",
  ...opts,
  fn: () =>
    withDurableCluster(async (cluster, databaseUrl) => {
      await withLotse(databaseUrl, async (lotse, db) => {
        // Tokens before the outage (issuance needs no database, but the test should not depend
        // on it).
        const token = await lotse.token(CONSUMER);
        interface Op {
          kind: "navigation" | "transfer";
          start: number;
          end: number;
          ok: boolean;
          transferId: string | null;
          error: string | null;
        }
        const ops: Op[] = [];
        let running = true;
        const transferLoop = async (i: number) => {
          for (let k = 0; running; k++) {
            // Small JSON evidence and generated payloads up to 256 KiB, alternating.
            const bytes = (i + k) % 2 === 0 ? undefined : 16 * KiB + ((k * 4099) % (240 * KiB));
            const s = await transfer(lotse.url, token, { bytes });
            ops.push({
              kind: "transfer",
              start: s.startedAt,
              end: s.endedAt!,
              ok: s.complete,
              transferId: s.transferId,
              error: s.error,
            });
            await sleep(5);
          }
        };
        const navigationLoop = async () => {
          while (running) {
            const start = performance.now();
            let ok = false;
            let error: string | null = null;
            try {
              ok = await navigate(lotse.url, token);
            } catch (e) {
              error = (e as Error).message;
            }
            ops.push({
              kind: "navigation",
              start,
              end: performance.now(),
              ok,
              transferId: null,
              error: ok ? null : error ?? "unexpected answer",
            });
            await sleep(2);
          }
        };
        const loops = [
          ...Array.from({ length: 6 }, (_, i) => transferLoop(i)),
          navigationLoop(),
          navigationLoop(),
        ];

        await sleep(3000);
        await cluster.stop();
        const outageStart = performance.now();
        await sleep(OUTAGE_MS);
        const outageEnd = performance.now();
        await cluster.start();
        const restartedAt = performance.now();
        await sleep(3000);
        running = false;
        await Promise.all(loops);

        const during = ops.filter((o) => o.start >= outageStart && o.end <= outageEnd);
        const count = (list: Op[], kind: Op["kind"], ok: boolean) =>
          list.filter((o) => o.kind === kind && o.ok === ok).length;
        const errors = ops.filter((o) => !o.ok);
        const figures = {
          total: ops.length,
          navigationDuringOutage: count(during, "navigation", true),
          transfersDuringOutage: count(during, "transfer", true),
          errorsDuringOutage: during.filter((o) => !o.ok).length,
          errorsOverall: errors.length,
        };
        const sample = JSON.stringify(errors.slice(0, 3).map((o) => `${o.kind}: ${o.error}`));
        assert.ok(figures.navigationDuringOutage > 0, `${JSON.stringify(figures)} ${sample}`);
        assert.ok(figures.transfersDuringOutage > 0, `${JSON.stringify(figures)} ${sample}`);
        assert.deepEqual(
          errors.slice(0, 5).map((o) => `${o.kind}: ${o.error}`),
          [],
          JSON.stringify(figures),
        );

        const delivered = new Set(
          ops.filter((o) => o.kind === "transfer" && o.ok).map((o) => o.transferId!),
        );
        const entries = await entriesWhen(
          db,
          (e) =>
            missing(delivered, e, "decision").length + missing(delivered, e, "outcome").length ===
              0,
          20_000,
        );
        const drainedMs = Math.round(performance.now() - restartedAt);
        assert.deepEqual(missing(delivered, entries, "decision"), [], "delivered, no decision");
        assert.deepEqual(missing(delivered, entries, "outcome"), [], "delivered, no outcome");
        const twice = [...entries].filter(([, c]) => c.decision > 1 || c.outcome > 1);
        assert.deepEqual(twice, [], "recorded more than once");
        const chained = await assertChainIntact(db, databaseUrl);
        console.log(
          `R3: ${JSON.stringify(figures)}; transfers delivered ${delivered.size}, all recorded ` +
            `once within ${drainedMs} ms of PostgreSQL's restart; chain ${chained} entries intact`,
        );
      });
    }),
});

Deno.test({
  name: "after SIGTERM under load every transfer received has its decision and outcome",
  ...opts,
  fn: () =>
    withDurableCluster((_cluster, databaseUrl) =>
      withLotse(databaseUrl, async (lotse, db) => {
        const token = await lotse.token(CONSUMER);
        const n = 300;
        const seen: Seen[] = [];
        const runs = Array.from(
          { length: n },
          (_, i) =>
            transfer(lotse.url, token, { bytes: payloadSize(i, n, MiB), paceMs: 20, track: seen }),
        );
        // SIGTERM once some transfers are through while Lotse itself has not finished others (no
        // outcome yet), not only the consumer.
        const unfinishedNow = async () => {
          const entries = await entriesById(db);
          return [...entries.values()].filter((c) => c.outcome === 0).length;
        };
        const unfinished = await waitFor(
          async () =>
            seen.filter((s) => s.complete).length >= 30 && seen.filter(midStream).length > 0 &&
            await unfinishedNow(),
          "30 transfers complete while others have no outcome yet",
          { timeoutMs: 120_000 },
        );
        const termAt = performance.now();
        const status = await lotse.kill("SIGTERM");
        const stoppedMs = Math.round(performance.now() - termAt);
        const all = await Promise.all(runs);
        assert.equal(status.code, 0, lotse.output.slice(-2000));
        assert.match(
          lotse.output,
          /"msg":"Stopping: finishing running requests[^"]*","signal":"SIGTERM"/,
        );

        await lotse.restart();
        const received = all.filter((s) => s.complete).map((s) => s.transferId!);
        const entries = await entriesWhen(
          db,
          (e) => missing(received, e, "outcome").length === 0,
          10_000,
        );
        assert.deepEqual(missing(received, entries, "decision"), [], "received, no decision");
        assert.deepEqual(missing(received, entries, "outcome"), [], "received, no outcome");
        const chained = await assertChainIntact(db, databaseUrl);

        const headersBefore = all.filter((s) => s.headersAt !== null && s.headersAt <= termAt);
        const completeBefore = all.filter((s) => s.complete && s.endedAt! <= termAt).length;
        const finishedAfter = headersBefore.filter((s) => s.complete && s.endedAt! > termAt).length;
        const cut = headersBefore.filter((s) => !s.complete).length;
        console.log(
          `SIGTERM: ${n} transfers; at SIGTERM ${completeBefore} complete, ` +
            `${headersBefore.length - completeBefore} mid-stream; of those ${finishedAfter} ` +
            `finished during the shutdown (${stoppedMs} ms), ${cut} cut; ` +
            `${all.length - headersBefore.length} without headers before SIGTERM; ` +
            `${unfinished} without an outcome in PostgreSQL at SIGTERM; ` +
            `received complete ${received.length}, all with decision and outcome; ` +
            `chain ${chained} entries intact`,
        );
      })
    ),
});

Deno.test({
  name: "after kill -9 while PostgreSQL is down the spooled decisions are replayed at restart",
  ...opts,
  fn: () =>
    withDurableCluster(async (cluster, databaseUrl) => {
      await withLotse(databaseUrl, async (lotse, db) => {
        const token = await lotse.token(CONSUMER);
        await cluster.stop();
        const n = 300;
        const seen: Seen[] = [];
        const runs = Array.from(
          { length: n },
          (_, i) =>
            transfer(lotse.url, token, { bytes: payloadSize(i, n, MiB), paceMs: 20, track: seen }),
        );
        await waitFor(
          () => seen.filter((s) => s.complete).length >= 30,
          "30 transfers complete",
          { timeoutMs: 120_000 },
        );
        const killedAt = performance.now();
        await lotse.kill("SIGKILL");
        const all = await Promise.all(runs);
        let spooledBytes = 0;
        for await (const file of Deno.readDir(lotse.spoolDir)) {
          if (file.name.endsWith(".spool")) {
            spooledBytes += (await Deno.stat(`${lotse.spoolDir}/${file.name}`)).size;
          }
        }
        assert.ok(spooledBytes > 0, "nothing was spooled");

        await cluster.start();
        await lotse.restart();
        const headerIds = new Set(
          all.filter((s) => s.headersAt !== null && s.transferId).map((s) => s.transferId!),
        );
        const received = all.filter((s) => s.complete).map((s) => s.transferId!);
        const entries = await entriesWhen(
          db,
          (e) => missing(headerIds, e, "decision").length === 0,
          15_000,
        );
        assert.deepEqual(missing(received, entries, "decision"), [], "received, no decision");
        assert.deepEqual(missing(headerIds, entries, "decision"), [], "headers, no decision");
        const twice = [...entries].filter(([, c]) => c.decision > 1 || c.outcome > 1);
        assert.deepEqual(twice, [], "recorded more than once");
        const chained = await assertChainIntact(db, databaseUrl);
        const completeAtKill = all.filter((s) => s.complete && s.endedAt! <= killedAt).length;
        const outcomes = [...entries.values()].filter((c) => c.outcome > 0).length;
        const receivedWithOutcome = received.filter((id) => entries.get(id)?.outcome).length;
        console.log(
          `R2 with PostgreSQL down: ${n} transfers; at the kill ${completeAtKill} complete, ` +
            `headers seen ${headerIds.size}; spool ${spooledBytes} bytes; after restart ` +
            `${entries.size} decisions, ${outcomes} outcomes, received complete ` +
            `${received.length}, all with a decision, ${receivedWithOutcome} with an outcome; ` +
            `chain ${chained} entries intact`,
        );
      });
    }),
});

Deno.test({
  name: "an entry is in the spool once append() resolved: kill -9 right after, then replay",
  ...opts,
  fn: () =>
    withDurableCluster(async (_cluster, databaseUrl) => {
      const spoolDir = await Deno.makeTempDir({ prefix: "lotse-spool-crash-" });
      const db = await connectPostgres(databaseUrl, { max: 2 });
      await migrate(db);
      // PostgreSQL refuses protocol entries: the child's decisions can only go to the spool.
      await db.exec(`
        create function lotse_test_refuse() returns trigger language plpgsql as $$
          begin raise exception 'test: protocol entries refused'; end $$;
        create trigger lotse_test_refuse before insert on protocol_entries
          for each row execute function lotse_test_refuse();`);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "tests/fixtures/spool_writer.ts", spoolDir, databaseUrl],
        cwd: ROOT,
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      // Read acknowledgements until the 20th, then SIGKILL at once: the child is appending
      // its next entry (or just acknowledged it) when the kill lands.
      const acknowledged: string[] = [];
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      // Reads one chunk of acknowledgements; false at the end of the child's output.
      const take = async () => {
        const { value, done } = await reader.read();
        if (done) return false;
        const lines = (buffer + value).split("\n");
        buffer = lines.pop()!;
        for (const line of lines) acknowledged.push(line.split(" ")[2]!);
        return true;
      };
      while (acknowledged.length < 20 && await take());
      child.kill("SIGKILL");
      const status = await child.status;
      // The child may have run ahead of this reader: what it acknowledged before the kill is
      // still in the pipe. A torn last line (no line break) was not acknowledged in full.
      while (await take());
      assert.equal(status.signal, "SIGKILL");
      assert.ok(acknowledged.length >= 20, `only ${acknowledged.length} appends acknowledged`);

      try {
        await db.exec(`drop trigger lotse_test_refuse on protocol_entries;`);
        assert.equal(
          (await db.sql<{ n: number }>`
          select count(*)::int as n from protocol_entries`)[0]!.n,
          0,
        );
        // Opening the spool cuts a torn last frame; replay moves everything into PostgreSQL.
        const log = await openProtocolLog(db, {
          spoolDir,
          hmacKey: "spool-crash-test-key-0123456789abcdef",
          onError: () => {},
        });
        await log.drain();
        const stats = log.stats;
        await log.close();
        const rows = await db.sql<{ id: string }>`
          select transfer_id::text as id from protocol_entries order by seq`;
        const stored = rows.map((r) => r.id);
        // Every acknowledged entry survived, in order, each once; at most the one entry being
        // appended at the kill may follow them.
        assert.deepEqual(stored.slice(0, acknowledged.length), acknowledged);
        assert.ok(stored.length <= acknowledged.length + 1, `${stored.length} stored`);
        assert.equal(new Set(stored).size, stored.length);
        assert.equal(stats.replayed, stored.length);
        assert.ok((await verifyChain(db)).ok);
        console.log(
          `spool crash: ${acknowledged.length} appends acknowledged before SIGKILL, ` +
            `${stored.length} replayed into PostgreSQL`,
        );
      } finally {
        await db.close();
        await Deno.remove(spoolDir, { recursive: true });
      }
    }),
});
