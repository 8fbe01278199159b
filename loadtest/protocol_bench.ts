/**
 * Protocol log figures (docs/targets.md P6): records/s sustained into PostgreSQL and the latency
 * `begin()` adds to a transfer.
 *
 * The CPU part (chaining, spool frames) is `src/protocol/protocol_bench.ts`. The load test needs a PostgreSQL of its own, with fsync ON for an honest figure
 * (the test clusters run with fsync off), pinned to core 0 while Deno runs on core 1:
 *
 * ```sh
 * taskset -c 1 deno run --allow-all loadtest/protocol_bench.ts --load \
 *   [--seconds=10] [--loops=200] [--rate=5000] [--fsync=off]
 * ```
 *
 * @module
 */
import { connectPostgres } from "../db/postgres.ts";
import { migrate } from "../db/migrate.ts";
import { openProtocolLog, verifyChain } from "../src/protocol/mod.ts";
import { sampleDecision } from "../src/protocol/testing.ts";
import { freePort, pinned } from "./_harness.ts";
import { writeResult } from "./raw_results.ts";

const KEY = "bench-key-0123456789-0123456789-0123456789";

const decision = sampleDecision;

async function sh(cmd: string, args: string[]): Promise<void> {
  const root = Deno.uid?.() === 0;
  const out = await new Deno.Command(root ? "runuser" : cmd, {
    args: root ? ["-u", "postgres", "--", cmd, ...args] : args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`Command "${cmd}" failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * A PostgreSQL cluster; with `fsync`, commits are durable (fsync, synchronous_commit,
 * full_page_writes on, the defaults), else as the test clusters run, for comparison.
 */
async function durableCluster(fsync: boolean): Promise<{ url: string; destroy(): Promise<void> }> {
  let bin = "";
  for await (const e of Deno.readDir("/usr/lib/postgresql")) {
    bin = `/usr/lib/postgresql/${e.name}/bin`;
  }
  const dir = await Deno.makeTempDir({ prefix: "lotse-bench-pg-" });
  if (Deno.uid?.() === 0) await new Deno.Command("chown", { args: ["postgres", dir] }).output();
  await sh(`${bin}/initdb`, [
    "-D",
    dir,
    "-U",
    "postgres",
    "--auth=trust",
    "--locale=C",
    "-E",
    "UTF8",
  ]);
  const port = freePort();
  await sh(
    ...pinned("0", `${bin}/pg_ctl`, [
      "-D",
      dir,
      "-w",
      "-l",
      `${dir}/log`,
      "-o",
      `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c max_connections=50` +
      (fsync ? "" : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"),
      "start",
    ]),
  );
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async destroy() {
      await sh(`${bin}/pg_ctl`, ["-D", dir, "-w", "-m", "fast", "stop"]).catch(() => {});
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function percentile(sorted: number[], p: number): string {
  const v = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
  return `${v.toFixed(3)} ms`;
}

function quantiles(sorted: number[]): { p50: number; p99: number; p999: number; max: number } {
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: at(1) };
}

function report(name: string, latencies: number[]): void {
  const sorted = latencies.sort((a, b) => a - b);
  console.log(
    `  ${name}: n=${sorted.length} p50=${percentile(sorted, 0.5)} p99=${
      percentile(sorted, 0.99)
    } p99.9=${percentile(sorted, 0.999)} max=${percentile(sorted, 1)}`,
  );
}

async function loadTest(
  seconds: number,
  options: { loops: number; rate: number; fsync: boolean },
): Promise<void> {
  const { loops, rate, fsync } = options;
  const cluster = await durableCluster(fsync);
  const db = await connectPostgres(cluster.url, { max: 4 });
  const spoolDir = await Deno.makeTempDir({ prefix: "lotse-bench-spool-" });
  try {
    await migrate(db);
    const log = await openProtocolLog(db, { spoolDir, hmacKey: KEY });

    // 1. Saturation: `loops` transfers back to back, each a begin() and a finish().
    const latencies: number[] = [];
    let stop = false;
    const before = log.stats;
    const started = performance.now();
    const loop = async () => {
      while (!stop) {
        const d = decision();
        const t0 = performance.now();
        await log.begin(d);
        latencies.push(performance.now() - t0);
        log.finish(d.transferId, { outcome: "delivered", status: 200, bytes: 1234, durationMs: 3 });
      }
    };
    const running = Array.from({ length: loops }, loop);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    stop = true;
    await Promise.all(running);
    await log.flush();
    const elapsed = (performance.now() - started) / 1000;
    const after = log.stats;
    const written = after.recordsWritten - before.recordsWritten;
    const batches = after.batches - before.batches;
    console.log(
      `saturation, ${loops} concurrent loops, ${seconds} s, fsync ${fsync ? "on" : "off"}:`,
    );
    console.log(
      `  ${
        (written / elapsed).toFixed(0)
      } records/s into PostgreSQL (${written} records, ${batches} batches, ${
        (written / batches).toFixed(1)
      } per batch, ${after.spooled} spooled)`,
    );
    report("begin() latency", latencies);
    const recordsPerS = written / elapsed;

    // 2. A held arrival rate: `rate` transfers/s (2 records each), begin() latency.
    // Outstanding begin()s are only counted and latencies go into a preallocated array: an
    // array of every promise kept each transfer's promise, closure and decision alive for the
    // whole run, and the GC work that cost was part of the measured tail.
    const held = new Float64Array(Math.ceil(seconds * rate) + rate);
    let completed = 0;
    let outstanding = 0;
    let allDone: (() => void) | null = null;
    let failure: unknown = null;
    const settled = (t0: number, transferId: string) => {
      held[completed++] = performance.now() - t0;
      log.finish(transferId, { outcome: "delivered", status: 200 });
      if (--outstanding === 0) allDone?.();
    };
    let issued = 0;
    const heldStart = performance.now();
    const end = heldStart + seconds * 1000;
    while (performance.now() < end) {
      // Catch up with the schedule: timers fire late, the arrivals must not.
      const due = Math.floor((performance.now() - heldStart) * rate / 1000);
      for (; issued < due && issued < held.length; issued++) {
        const d = decision();
        const t0 = performance.now();
        outstanding++;
        log.begin(d).then(() => settled(t0, d.transferId), (error) => {
          failure ??= error;
          if (--outstanding === 0) allDone?.();
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    if (outstanding > 0) await new Promise<void>((resolve) => allDone = resolve);
    if (failure) throw failure;
    await log.flush();
    const achieved = completed / seconds;
    console.log(`held rate, ${rate} transfers/s offered (${achieved.toFixed(0)} issued/s):`);
    const heldLatencies = Array.from(held.subarray(0, completed));
    report("begin() latency", heldLatencies);

    await log.close();
    const check = await verifyChain(db);
    console.log(`chain: ${check.ok ? `OK, ${check.count} entries` : `BROKEN ${check.reason}`}`);
    // One machine-readable line for loadtest/run.ts.
    const summary = {
      recordsPerS,
      heldRate: rate,
      heldAchieved: achieved,
      beginMs: quantiles(heldLatencies),
      chainOk: check.ok,
    };
    console.log(`PROTOCOL_JSON ${JSON.stringify(summary)}`);
    await writeResult("protocol", {
      command: `deno run --allow-all loadtest/protocol_bench.ts ${Deno.args.join(" ")}`,
      fsync,
      result: summary,
    });
  } finally {
    await db.close();
    await cluster.destroy();
    await Deno.remove(spoolDir, { recursive: true });
  }
}

if (import.meta.main && Deno.args.includes("--load")) {
  const arg = (name: string, fallback: number) =>
    Number(Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
  await loadTest(arg("seconds", 10), {
    loops: arg("loops", 200),
    rate: arg("rate", 5000),
    fsync: !Deno.args.includes("--fsync=off"),
  });
}
