/**
 * Lotse's load tests, runnable on this machine without k6. Each scenario starts a
 * throwaway PostgreSQL cluster with the full-scale tables plus the demo clients and
 * permissions, runs Lotse (and, where a ratio is wanted, the reference servers) pinned to
 * core 0 and the load generator pinned to core 1, over loopback only; it prints a table,
 * writes its raw results to `loadtest/results/<scenario>.json` (committed beside
 * BENCHMARKS.md), and stops everything it started, on failure too.
 *
 * ```sh
 * deno run -A loadtest/run.ts navigation     [--duration 10] [--runs 3]
 * deno run -A loadtest/run.ts latency        [--duration 20] [--rate N] [--runs 2]
 * deno run -A loadtest/run.ts start          [--runs 7]
 * deno run -A loadtest/run.ts swap           [--routes 1000000] [--duration 60] [--swaps 3]
 * deno run -A loadtest/run.ts authorizations [--duration 10] [--runs 3] [--alg ES256|EdDSA|both]
 *                                            [--connections 50]
 * ```
 *
 * Targets (docs/targets.md): P1 navigation ≥ 80 % of bare `Deno.serve`; P2 p99 ≤ 2 ms and
 * p99.9 ≤ 5 ms at 50 % of P1's max; P7 1 M routes swapped in ≤ 2 s with 0 failed requests;
 * P8 ready ≤ 1 s.
 *
 * @module
 */
import { flushLatency } from "./_flush.ts";
import { decodeProtectedHeader } from "jose";
import { buildNavIndex } from "../src/nav_index.ts";
import { Rng } from "../tools/rng.ts";
import { locate, responsible } from "../src/locate.ts";
import type { GeneratedTables } from "../tools/generate.ts";
import type { Cluster } from "../tests/pg.ts";
import { DEMO_PARKING_AUTHORIZATION, DEMO_PURPOSES } from "../demo/clients.ts";
import { DEMO_CLASSIFICATIONS } from "../demo/tables.ts";
import { seedTables } from "../db/seed.ts";
import { TABLES_CHANNEL } from "../db/tables.ts";
import {
  Child,
  Cleanups,
  clusterPids,
  cpuSeconds,
  demoToken,
  LOAD_CPU,
  loadAverage,
  median,
  pinCluster,
  preemptions,
  schedDelta,
  type SchedSnapshot,
  schedTimes,
  SERVER_CPU,
  sleep,
  startBenchDatabase,
  startLotseProcess,
  startReference,
  threadTimes,
  writeCalls,
} from "./_harness.ts";
import { runWrk, type WrkResult } from "./_wrk.ts";
import { type H2loadResult, runH2load } from "./_h2load.ts";
import { machine, writeResult as writeRawResult } from "./raw_results.ts";
import { euRoundTrip, startBenchRegister } from "./eu_bench.ts";
import {
  evidence,
  type EvidenceResult,
  type ForwarderMode,
  type PathFigures,
} from "./_evidence.ts";
import { connectionsTo, registerStats, startHttpsFront } from "./_https_front.ts";
import { footprint, type FootprintResult } from "./_footprint.ts";
import TARGETS from "./targets.json" with { type: "json" };
import type { AutocannonJob, AutocannonResult } from "./_autocannon.ts";
import type { ArrivalJob, ArrivalResult } from "./_arrival.ts";

const ROOT = new URL("../", import.meta.url).pathname;

export interface Args {
  scenario: string;
  duration?: number;
  runs?: number;
  rate?: number;
  routes?: number;
  swaps?: number;
  connections?: number;
  rounds?: number;
  bytes?: number;
  concurrent?: number;
  /** The token algorithm of the authorizations scenario: ES256, EdDSA or both (default). */
  alg?: "ES256" | "EdDSA" | "both";
  /** The faces the xnachweis scenario loads: json, xml or both (default; one face for a profile). */
  face?: "json" | "xml" | "both";
}

const ALGS = ["ES256", "EdDSA", "both"] as const;
const FACES = ["json", "xml", "both"] as const;

/** `value` of option `--name` if it is one of `allowed`. */
function oneOf<T extends string>(
  name: string,
  value: string | undefined,
  allowed: readonly T[],
): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) {
    throw new Error(`Cannot parse --${name} "${value}": expected ${allowed.join(", ")}`);
  }
  return found;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { scenario: argv[0] ?? "" };
  for (let i = 1; i < argv.length; i += 2) {
    const name = argv[i]!.replace(/^--/, "");
    if (name === "alg") {
      args.alg = oneOf(name, argv[i + 1], ALGS);
      continue;
    }
    if (name === "face") {
      args.face = oneOf(name, argv[i + 1], FACES);
      continue;
    }
    const value = Number(argv[i + 1]);
    if (
      ![
        "duration",
        "runs",
        "rate",
        "routes",
        "swaps",
        "connections",
        "rounds",
        "bytes",
        "concurrent",
      ].includes(name)
    ) {
      throw new Error(`Unknown option "${argv[i]}"`);
    }
    if (!(value > 0)) {
      throw new Error(`Cannot parse --${name} "${argv[i + 1]}": expected a number > 0`);
    }
    (args as unknown as Record<string, number>)[name] = value;
  }
  return args;
}

/**
 * A sample of navigation query strings over real AGS, ARS and PLZ of the generated tables,
 * each checked against the same index Lotse builds, so that every one answers 200 (a PLZ
 * shared by several Gemeinden is sent with its Ort, or left out when even that is ambiguous).
 */
export function navigationPaths(tables: GeneratedTables, count = 2000): string[] {
  const nav = buildNavIndex(tables);
  // Seeded, so every run loads the same sample.
  const rng = new Rng(42);
  const random = () => rng.float();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const types = Object.entries(tables.coverage)
    .filter(([, c]) => c === "everywhere").map(([id]) => id);
  const withArs = tables.regions.filter((r) => r.ars !== null);
  const paths: string[] = [];
  for (let tries = 0; paths.length < count && tries < count * 20; tries++) {
    const evidenceType = pick(types);
    const roll = random();
    const params: Record<string, string> = {};
    if (roll < 0.4) params.ags = pick(tables.regions).ags;
    else if (roll < 0.6) params.ars = pick(withArs).ars!;
    else {
      const postcode = pick(tables.postcodes);
      params.plz = postcode.plz;
      if (postcode.places.length > 1) params.ort = pick(postcode.places).ort;
    }
    try {
      responsible(nav, evidenceType, locate(nav, params));
    } catch {
      continue;
    }
    paths.push(`/v1/navigation?${new URLSearchParams({ evidenceType, ...params })}`);
  }
  return paths;
}

const fmt = (n: number, digits = 2) => Number.isFinite(n) ? n.toFixed(digits) : "–";
const krps = (n: number) => `${(n / 1000).toFixed(1)}k`;

function wrkRow(name: string, r: WrkResult): Record<string, string> {
  return {
    server: name,
    "req/s": krps(r.rps),
    "p50 ms": fmt(r.latencyMs.p50, 3),
    "p99 ms": fmt(r.latencyMs.p99, 3),
    "p99.9 ms": fmt(r.latencyMs.p999, 3),
    failures: String(r.failures),
    "CPU µs/req": r.serverCpu ? fmt(r.serverCpu.usPerRequest, 1) : "–",
    "core used": r.serverCpu ? `${fmt(r.serverCpu.coreShare * 100, 0)} %` : "–",
  };
}

/** The load core's side of a run: each core's busy share, the register's and wrk's CPU. */
function loadRow(r: WrkResult): Record<string, string> {
  const row: Record<string, string> = {};
  if (!r.loadCpu) return row;
  row["core 0 busy"] = `${fmt(r.loadCpu.coreBusy.server * 100, 0)} %`;
  row["core 1 busy"] = `${fmt(r.loadCpu.coreBusy.load * 100, 0)} %`;
  for (const [name, cpu] of Object.entries(r.loadCpu.processes)) {
    row[`${name} µs/req`] = fmt(cpu.usPerRequest, 1);
    row[`${name} core`] = `${fmt(cpu.coreShare * 100, 0)} %`;
  }
  return row;
}

/**
 * What A/B runs and traces change about the Lotse a scenario starts: `LOTSE_BENCH_ROOT` names
 * another checkout whose `deno task serve` is measured, `LOTSE_BENCH_DENO_FLAGS` adds flags to its
 * `deno run` (e.g. `--v8-flags=--trace-gc`), `LOTSE_BENCH_SERVER_OUT` names a file that gets its
 * output. (Not every scenario takes all three: each says which.)
 */
export function benchLotse(): { cwd?: string; denoFlags: string[]; outFile?: string } {
  const cwd = Deno.env.get("LOTSE_BENCH_ROOT");
  const outFile = Deno.env.get("LOTSE_BENCH_SERVER_OUT");
  return {
    denoFlags: (Deno.env.get("LOTSE_BENCH_DENO_FLAGS") ?? "").split(/\s+/).filter(Boolean),
    ...(cwd ? { cwd } : {}),
    ...(outFile ? { outFile } : {}),
  };
}

/** Raw results go to loadtest/results/<scenario>.json, committed beside BENCHMARKS.md. */
function writeResult(scenario: string, data: Record<string, unknown>): Promise<string> {
  return writeRawResult(scenario, data);
}

async function context(): Promise<Record<string, unknown>> {
  return {
    date: new Date().toISOString(),
    deno: Deno.version.deno,
    cpus: navigator.hardwareConcurrency,
    loadAverage1m: await loadAverage(),
    serverCpu: 0,
    loadCpu: Number(LOAD_CPU),
  };
}

// P1: Lotse's authenticated navigation against bare Deno.serve and Hono, same run.
// `LOTSE_BENCH_ROOT` names another checkout whose `deno task serve` is measured, for A/B runs.
export async function navigation(args: Args, cleanups: Cleanups) {
  const durationS = args.duration ?? 10;
  const runs = args.runs ?? 1;
  const db = await startBenchDatabase(cleanups);
  const { cwd } = benchLotse();
  const lotse = await startLotseProcess(cleanups, db.url, cwd ? { cwd } : {});
  console.log(`Lotse from ${cwd ?? ROOT}`);
  const token = await demoToken(lotse.url);
  const paths = navigationPaths(db.tables);
  const bare = await startReference(cleanups, "bare");
  const hono = await startReference(cleanups, "hono");
  // The second reference: Lotse's answer shape (header fields, body size, log line) without
  // Lotse's decisions. See loadtest/bare_server.ts.
  const shaped = await startReference(cleanups, "shaped");
  const connections = args.connections ?? 50;
  const rows: Record<string, string>[] = [];
  const results: Record<string, WrkResult>[] = [];
  // Warm-up: JIT and token cache, not counted.
  for (const url of [bare.url, hono.url, shaped.url, lotse.url]) {
    await runWrk(url, { paths, token, durationS: 2, connections });
  }
  for (let run = 1; run <= runs; run++) {
    // The references get the same script (token header, rotating paths) as Lotse, so
    // wrk's own cost is the same on every side; they ignore both.
    const job = { paths, token, durationS, connections };
    const b = await runWrk(bare.url, { ...job, serverPid: bare.child.pid });
    const h = await runWrk(hono.url, { ...job, serverPid: hono.child.pid });
    const s = await runWrk(shaped.url, { ...job, serverPid: shaped.child.pid });
    const l = await runWrk(lotse.url, { ...job, serverPid: lotse.child.pid });
    results.push({ bare: b, hono: h, shaped: s, lotse: l });
    const vs = (r: WrkResult) => `${fmt((r.rps / b.rps) * 100, 1)} %`;
    rows.push(
      { run: String(run), ...wrkRow("bare Deno.serve", b), "vs bare": "100 %" },
      { run: String(run), ...wrkRow("Hono", h), "vs bare": vs(h) },
      { run: String(run), ...wrkRow("bare, Lotse's answer shape", s), "vs bare": vs(s) },
      { run: String(run), ...wrkRow("Lotse", l), "vs bare": vs(l) },
    );
  }
  const ratios = results.map((r) => r.lotse!.rps / r.bare!.rps);
  const overShaped = results.map((r) => r.lotse!.rps / r.shaped!.rps);
  const shapedOverBare = results.map((r) => r.shaped!.rps / r.bare!.rps);
  console.table(rows);
  console.log(
    `P1: Lotse/bare median ${fmt(median(ratios) * 100, 1)} % (target ≥ 80 %), ` +
      `Lotse/Hono median ${
        fmt(median(results.map((r) => r.lotse!.rps / r.hono!.rps)) * 100, 1)
      } %, ` +
      `Lotse/shaped median ${fmt(median(overShaped) * 100, 1)} % ` +
      `(shaped/bare ${fmt(median(shapedOverBare) * 100, 1)} %: the ceiling of the ratio with ` +
      `Lotse's answer shape on this runtime)`,
  );
  return {
    durationS,
    connections,
    samplePaths: paths.length,
    results,
    lotseOverBare: ratios,
    lotseOverHono: results.map((r) => r.lotse!.rps / r.hono!.rps),
    lotseOverShaped: overShaped,
    shapedOverBare,
  };
}

/**
 * Runs a load generator script as its own process on the load core, at `nice`
 * (`LOTSE_BENCH_LOAD_NICE` for the held-rate generator, default 0: at 10 it lost the core to the
 * harness reading Lotse's log lines and sent late); returns its `MARKER {...}` line.
 */
async function runGenerator<T>(script: string, marker: string, job: unknown, nice = 0): Promise<T> {
  const jobFile = await Deno.makeTempFile({ prefix: "lotse-load-", suffix: ".json" });
  await Deno.writeTextFile(jobFile, JSON.stringify(job));
  const child = new Child(script, "taskset", [
    "-c",
    LOAD_CPU,
    "nice",
    "-n",
    String(nice),
    Deno.execPath(),
    "run",
    "-A",
    `${ROOT}loadtest/${script}`,
    jobFile,
  ]);
  const durationS = (job as { durationS: number }).durationS;
  const guard = setTimeout(() => child.stop(), (durationS + 60) * 1000);
  const status = await child.process.status;
  clearTimeout(guard);
  await child.stop();
  await Deno.remove(jobFile).catch(() => {});
  const line = child.output.split("\n").find((l) => l.startsWith(`${marker} `));
  if (!status.success || !line) {
    throw new Error(`${script} failed (exit ${status.code}): ${child.output.trim()}`);
  }
  return JSON.parse(line.slice(marker.length + 1));
}

/** autocannon at an overall rate: a quota per connection and second, sent back to back. */
export const runAutocannon = (job: AutocannonJob) =>
  runGenerator<AutocannonResult>("_autocannon.ts", "AUTOCANNON_JSON", job);

/**
 * A held arrival rate as k6's `constant-arrival-rate` holds it (loadtest/_arrival.ts), after 2 s
 * at the same rate that are not counted (a fresh generator process compiles its code and opens
 * the connections a cold start needs: 15–20 ms stalls and ~500 dropped requests in its first 70
 * ms, measured); its latency counts from each request's due time, so a send it made late counts
 * against the server.
 */
export const runArrival = (job: ArrivalJob) =>
  runGenerator<ArrivalResult>(
    "_arrival.ts",
    "ARRIVAL_JSON",
    { warmupS: 2, ...job },
    Number(Deno.env.get("LOTSE_BENCH_LOAD_NICE") ?? 0),
  );

// P2: latency at a held arrival rate of 50 % of P1's max, as k6's `constant-arrival-rate` holds
// it (loadtest/_arrival.ts); latency counted from each request's due time. Beside it, from the
// same run: autocannon at the same `overallRate` (a quota per connection and second, sent back to
// back: saturated bursts, not a held rate; kept to show the difference) and bare `Deno.serve` at
// the same held rate, the tail that the runtime, the loopback and the generator add.
//
// For tracing the tail and for A/B runs: `LOTSE_BENCH_ROOT` names another checkout whose
// `deno task serve` is measured instead of this one; `LOTSE_BENCH_DENO_FLAGS` adds flags to its
// `deno run` (e.g. `--v8-flags=--trace-gc`); `LOTSE_BENCH_SERVER_OUT` names a file that gets its
// output (log lines, GC trace). Each held-rate run reports the server's CPU and write system calls
// per request, how often it was preempted and its event-loop stalls; with both, also its
// collections and slowest lines.
async function latency(args: Args, cleanups: Cleanups) {
  const durationS = Math.max(20, args.duration ?? 20);
  const runs = args.runs ?? 1;
  const db = await startBenchDatabase(cleanups);
  const { cwd, denoFlags, outFile } = benchLotse();
  // Lotse's request lines (~4 MB/s at this rate) go to a file it writes itself, as under a
  // file-logging driver: read through a pipe, their reader runs on the load core beside the
  // generator and makes it send late, which counts against Lotse (BENCHMARKS.md, "Session 9,
  // P2"). `LOTSE_BENCH_LOG=pipe` measures the pipe read by this runner instead.
  const piped = Deno.env.get("LOTSE_BENCH_LOG") === "pipe";
  const logFile = outFile ?? await Deno.makeTempFile({ prefix: "lotse-latency-", suffix: ".log" });
  if (!outFile) cleanups.push(() => Deno.remove(logFile).catch(() => {}));
  const lotse = await startLotseProcess(cleanups, db.url, {
    denoFlags,
    ...(cwd ? { cwd } : {}),
    outFile: logFile,
    direct: !piped,
  });
  console.log(
    `Lotse from ${cwd ?? ROOT}${denoFlags.length ? ` with ${denoFlags.join(" ")}` : ""}; ` +
      `its output ${piped ? "through a pipe this runner reads" : "written to a file"}`,
  );
  const token = await demoToken(lotse.url);
  const paths = navigationPaths(db.tables);
  await runWrk(lotse.url, { paths, token, durationS: 2 });
  let max: WrkResult | null = null;
  if (!args.rate) max = await runWrk(lotse.url, { paths, token, durationS: 10 });
  const rate = Math.round(args.rate ?? max!.rps * 0.5);
  const connections = args.connections ?? 50;
  const job = { paths, token, rate, durationS, connections, maxConnections: connections * 10 };
  // A row of either held-rate generator, or of autocannon.
  const row = (run: string, r: ArrivalResult | H2loadResult | AutocannonResult) => {
    const ms = r.latencyMs;
    const arrival = "dropped" in r ? r : null;
    const native = "overInterval" in r ? r : null;
    return {
      run,
      "target req/s": krps(rate),
      "achieved req/s": krps(r.achievedRps),
      "p50 ms": fmt(ms.p50, 3),
      "p99 ms": fmt(ms.p99, 3),
      "p99.9 ms": fmt(ms.p999, 3),
      "max ms": fmt(ms.max, 1),
      "non-2xx": String(r.non2xx),
      errors: String(r.errors),
      dropped: arrival ? String(arrival.dropped) : "–",
      "over interval": native ? `${native.overInterval} over ${fmt(native.intervalMs, 1)} ms` : "–",
      "send lag p99 ms": arrival ? fmt(arrival.sendLagMs.p99, 3) : "–",
    };
  };
  const rows: Record<string, string>[] = [];
  type Traced = ArrivalResult & {
    serverCpuUsPerRequest?: number;
    writeCallsPerRequest?: number;
    preemptions?: number;
    loopDelay?: ReturnType<typeof loopDelays>;
    server?: ReturnType<typeof serverTrace>;
  };
  const results: Traced[] = [];
  const metrics = async () => await (await fetch(`${lotse.url}/metrics`)).text();
  for (let run = 1; run <= runs; run++) {
    const from = outFile ? (await Deno.stat(outFile)).size : 0;
    const before = await metrics();
    const cpu = cpuSeconds(lotse.child.pid);
    const preempted = preemptions(lotse.child.pid);
    const writes = writeCalls(lotse.child.pid);
    const r: Traced = await runArrival({ ...job, url: lotse.url });
    r.serverCpuUsPerRequest = ((cpuSeconds(lotse.child.pid) - cpu) * 1e6) / r.requests;
    r.writeCallsPerRequest = (writeCalls(lotse.child.pid) - writes) / r.requests;
    r.preemptions = preemptions(lotse.child.pid) - preempted;
    r.loopDelay = loopDelays(before, await metrics());
    if (outFile) r.server = serverTrace(await readFrom(outFile, from), r.requests);
    results.push(r);
    rows.push(row(`held rate ${run}`, r));
    console.log(
      `run ${run}: server CPU ${fmt(r.serverCpuUsPerRequest, 1)} µs and ` +
        `${fmt(r.writeCallsPerRequest, 2)} write calls per request, ` +
        `preempted ${r.preemptions} times; event-loop delay samples:`,
      JSON.stringify(r.loopDelay),
    );
    if (r.server) console.log(`run ${run}, server:`, JSON.stringify(r.server));
  }
  const autocannon = await runAutocannon({ ...job, url: lotse.url });
  rows.push(row("autocannon (bursts)", autocannon));
  const native = async (url: string, pid: number) => {
    const preempted = preemptions(pid);
    const r: H2loadResult & { preemptions?: number } = await runH2load({ ...job, url });
    r.preemptions = preemptions(pid) - preempted;
    return r;
  };
  const h2Lotse = await native(lotse.url, lotse.child.pid);
  rows.push(row("h2load held rate", h2Lotse));
  const bare = await startReference(cleanups, "bare");
  await runArrival({ ...job, url: bare.url, durationS: 2 });
  const barePreempted = preemptions(bare.child.pid);
  const reference: ArrivalResult & { preemptions?: number } = await runArrival({
    ...job,
    url: bare.url,
  });
  reference.preemptions = preemptions(bare.child.pid) - barePreempted;
  rows.push(row("bare Deno.serve", reference));
  const h2Bare = await native(bare.url, bare.child.pid);
  rows.push(row("bare, h2load held rate", h2Bare));
  console.table(rows);
  if (max) console.log(`P1 max measured first: ${krps(max.rps)} req/s → rate ${rate}/s`);
  console.log(`bare Deno.serve preempted ${reference.preemptions} times`);
  for (const [name, r] of [["Lotse", h2Lotse], ["bare Deno.serve", h2Bare]] as const) {
    console.log(
      `h2load on ${name}: ${r.clients} connections, one request each every ${
        fmt(r.intervalMs, 2)
      } ms; ${r.overInterval} answers slower than that (0: no send waited for an answer); ` +
        `${fmt(r.sendSteps.bunchedShare * 100, 0)} % of sends within 20 µs of the one before, ` +
        `longest pause between sends ${fmt(r.sendSteps.gapMaxMs, 2)} ms; the server preempted ` +
        `${r.preemptions} times`,
    );
  }
  console.log("P2 targets: p99 ≤ 2 ms, p99.9 ≤ 5 ms, the rate held (nothing dropped)");
  return {
    durationS,
    rate,
    serverOutput: piped ? "pipe" : "file",
    p1MaxRps: max?.rps ?? null,
    results,
    autocannon,
    reference,
    h2load: { lotse: h2Lotse, bare: h2Bare },
  };
}

/**
 * The server's event-loop delay between two /metrics texts (`lotse_event_loop_delay_seconds`, a
 * sample every 5 ms): how many samples in all, and how many were later than 2.5, 5 and 10 ms —
 * the stalls every request then waiting shares.
 */
function loopDelays(before: string, after: string) {
  const b = histogramBuckets(before, "lotse_event_loop_delay_seconds");
  const a = histogramBuckets(after, "lotse_event_loop_delay_seconds");
  const count = (le: number) => (a.get(le) ?? 0) - (b.get(le) ?? 0);
  const samples = count(Infinity);
  return {
    samples,
    over2_5ms: samples - count(0.0025),
    over5ms: samples - count(0.005),
    over10ms: samples - count(0.01),
  };
}

/** The bytes of `file` from `offset` on, as text. */
async function readFrom(file: string, offset: number): Promise<string> {
  const handle = await Deno.open(file);
  try {
    await handle.seek(offset, Deno.SeekMode.Start);
    return await new Response(handle.readable).text();
  } catch (error) {
    handle.close();
    throw error;
  }
}

/**
 * What a served process wrote during a run: its collections (`--trace-gc` lines: how many, how
 * long in all, the longest, per 10k requests) and its slowest request log lines.
 */
export function serverTrace(text: string, requests: number) {
  const gc: Record<string, { count: number; ms: number; maxMs: number }> = {};
  const slowest: { durationMs: number; time: string }[] = [];
  for (const line of text.split("\n")) {
    const traced =
      /ms: ([A-Za-z-]+(?: \(\w+\))?) .*? MB, (?:pooled: [\d.]+ MB, )?([\d.]+) \/ [\d.]+ ms/
        .exec(line);
    if (traced) {
      const kind = (gc[traced[1]!] ??= { count: 0, ms: 0, maxMs: 0 });
      const ms = Number(traced[2]);
      kind.count++;
      kind.ms += ms;
      kind.maxMs = Math.max(kind.maxMs, ms);
      continue;
    }
    const logged = /"time":"([^"]+)".*"durationMs":([\d.]+)/.exec(line);
    if (logged) {
      slowest.push({ durationMs: Number(logged[2]), time: logged[1]! });
      if (slowest.length > 64) slowest.sort((a, b) => b.durationMs - a.durationMs).length = 5;
    }
  }
  slowest.sort((a, b) => b.durationMs - a.durationMs).length = Math.min(slowest.length, 5);
  const per10k = Object.fromEntries(
    Object.entries(gc).map(([kind, g]) => [kind, {
      ...g,
      ms: Math.round(g.ms * 100) / 100,
      per10kRequests: Math.round((g.count / requests) * 1e5) / 10,
      msPer10kRequests: Math.round((g.ms / requests) * 1e6) / 100,
    }]),
  );
  return { gc: per10k, slowestRequests: slowest };
}

// P8: spawn to /readyz 200 against PostgreSQL with the full-scale tables.
// `LOTSE_BENCH_ROOT` names another checkout whose `deno task serve` is measured, for A/B runs.
async function start(args: Args, cleanups: Cleanups) {
  const runs = args.runs ?? 5;
  const db = await startBenchDatabase(cleanups);
  const dataDir = await Deno.makeTempDir({ prefix: "lotse-bench-" });
  cleanups.push(() => Deno.remove(dataDir, { recursive: true }));
  const { cwd } = benchLotse();
  console.log(`Lotse from ${cwd ?? ROOT}`);
  // The server's CPU time until ready too: on a shared machine it moves less than the wall.
  const cpuMs: number[] = [];
  // The phases of each start, from its ready line (`startMs`: modules, database, …, listen).
  const phases: Record<string, number>[] = [];
  const once = async () => {
    const local = new Cleanups();
    try {
      const lotse = await startLotseProcess(local, db.url, { dataDir, ...(cwd ? { cwd } : {}) });
      cpuMs.push(cpuSeconds(lotse.child.pid) * 1000);
      phases.push(await readyPhases(lotse.child));
      return lotse.readyMs;
    } finally {
      await local.run();
    }
  };
  // Reference beside each start: how long a bare Deno.serve takes to answer from spawn, so
  // a slow machine shows as a slow reference too.
  const bareOnce = async () => {
    const local = new Cleanups();
    try {
      const since = performance.now();
      await startReference(local, "bare");
      return performance.now() - since;
    } finally {
      await local.run();
    }
  };
  // The first start also creates the signing key: reported, not counted.
  const first = await once();
  cpuMs.length = 0;
  phases.length = 0;
  const times: number[] = [];
  const bareTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    times.push(await once());
    bareTimes.push(await bareOnce());
  }
  console.table(times.map((ms, i) => ({
    run: i + 1,
    "Lotse ready ms": fmt(ms, 0),
    "Lotse CPU ms": fmt(cpuMs[i]!, 0),
    "bare Deno.serve ms": fmt(bareTimes[i]!, 0),
  })));
  console.log(
    `P8: median ${fmt(median(times), 0)} ms (target ≤ 1000 ms), bare Deno.serve median ` +
      `${fmt(median(bareTimes), 0)} ms; first start (creates the signing key) ` +
      `${fmt(first, 0)} ms; ${db.tables.routes.length} routes`,
  );
  const phaseMedians = Object.fromEntries(
    Object.keys(phases[0] ?? {}).map((name) => [name, median(phases.map((p) => p[name] ?? 0))]),
  );
  console.log(
    "Phases until ready, median ms (the ready line's startMs): " +
      Object.entries(phaseMedians).map(([name, ms]) => `${name} ${fmt(ms, 0)}`).join(", "),
  );
  return {
    root: cwd ?? ROOT,
    phases,
    phaseMedians,
    routes: db.tables.routes.length,
    regions: db.tables.regions.length,
    firstStartMs: first,
    readyMs: times,
    medianMs: median(times),
    cpuMs,
    cpuMsMedian: median(cpuMs),
    bareReadyMs: bareTimes,
    bareMedianMs: median(bareTimes),
  };
}

/** The `startMs` phases of a Lotse's ready line ("Lotse listening"), waited for in its output. */
async function readyPhases(child: Child): Promise<Record<string, number>> {
  const deadline = performance.now() + 5000;
  for (;;) {
    const line = child.output.split("\n").find((l) => l.includes('"Lotse listening"'));
    if (line !== undefined) return JSON.parse(line).startMs ?? {};
    if (performance.now() > deadline) throw new Error("Lotse said ready without its ready line");
    await sleep(5);
  }
}

async function tablesVersion(url: string): Promise<number> {
  const res = await fetch(`${url}/readyz`);
  const body = await res.json();
  return Number(body.tablesVersion);
}

// P7: a whole routes table of 1 M rows replaced while wrk loads navigation. `LOTSE_BENCH_ROOT`,
// `LOTSE_BENCH_DENO_FLAGS` and `LOTSE_BENCH_SERVER_OUT` work as for `latency`.
async function swap(args: Args, cleanups: Cleanups) {
  const minRoutes = args.routes ?? 1_000_000;
  const durationS = args.duration ?? 60;
  const maxSwaps = args.swaps ?? 3;
  const db = await startBenchDatabase(cleanups, { minRoutes });
  const lotse = await startLotseProcess(cleanups, db.url, benchLotse());
  const token = await demoToken(lotse.url);
  const paths = navigationPaths(db.tables);
  let notifiedAt = 0;
  const unlisten = await db.db.listen(TABLES_CHANNEL, () => notifiedAt = performance.now());
  cleanups.push(() => unlisten());
  await runWrk(lotse.url, { paths, token, durationS: 2 });
  const loadStart = performance.now();
  const load = runWrk(lotse.url, { paths, token, durationS, serverPid: lotse.child.pid });
  const swaps: Record<string, number>[] = [];
  await sleep(3000);
  let lastCycleMs = 0;
  while (
    swaps.length < maxSwaps &&
    performance.now() - loadStart + lastCycleMs + 3000 < durationS * 1000
  ) {
    const cycleStart = performance.now();
    const before = await tablesVersion(lotse.url);
    notifiedAt = 0;
    const seedStart = performance.now();
    await seedTables(db.db, { routes: db.tables.routes }, { replace: true });
    const committedAt = performance.now();
    const cpuAtCommit = cpuSeconds(lotse.child.pid);
    let version = before;
    while (version === before && performance.now() - committedAt < 30_000) {
      await sleep(2);
      version = await tablesVersion(lotse.url);
    }
    const visibleAt = performance.now();
    const from = notifiedAt || committedAt;
    swaps.push({
      seedMs: committedAt - seedStart,
      swapMs: visibleAt - from,
      // The server's CPU from the commit until the swap: the swap's and the requests' (wrk).
      cpuMs: (cpuSeconds(lotse.child.pid) - cpuAtCommit) * 1000,
      sinceCommitMs: visibleAt - committedAt,
      before,
      after: version,
    });
    lastCycleMs = performance.now() - cycleStart;
    await sleep(2000);
  }
  const w = await load;
  console.table(swaps.map((s, i) => ({
    swap: i + 1,
    "seed+commit ms": fmt(s.seedMs!, 0),
    "NOTIFY → visible ms": fmt(s.swapMs!, 0),
    "server CPU ms": fmt(s.cpuMs!, 0),
    "version": `${s.before} → ${s.after}`,
  })));
  console.table([wrkRow("Lotse during swaps", w)]);
  console.log(
    `P7: ${db.tables.routes.length} routes; swap median ${
      fmt(median(swaps.map((s) => s.swapMs!)), 0)
    } ms (target ≤ 2000 ms); ${w.failures} failed requests of ${w.requests} (target 0)`,
  );
  return {
    routes: db.tables.routes.length,
    startReadyMs: lotse.readyMs,
    initialSeedMs: db.seedMs,
    swaps,
    load: w,
  };
}

/**
 * One mode of the authorizations scenario: its runs, each with the bare references, and the
 * protocol records per batch (group commit) Lotse wrote during its run.
 */
export type AuthorizationRuns = (Record<"bare" | "shaped" | "lotse", WrkResult> & {
  entriesPerBatch: number;
  /** Where Lotse's core went during its run: see {@linkcode WriterSide}. */
  side: WriterSide;
})[];

/**
 * Why Lotse's core may not be full during an authorizations run (BENCHMARKS.md, "Session 11,
 * P10"): its main thread's shares of the wall time (running, runnable but waiting for the CPU,
 * asleep: nothing to do), PostgreSQL's share of the load core, and the protocol writer's mean
 * time per entry queued (logged → sent) and at the database (sent → answered).
 */
export interface WriterSide {
  mainRun: number;
  mainWait: number;
  mainAsleep: number;
  postgresShare: number;
  queuedMs: number;
  databaseMs: number;
}

/** The protocol stages' sums and counts so far, from Lotse's /metrics. */
async function stageSums(url: string): Promise<Record<"queued" | "database", [number, number]>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (stage: string, what: "sum" | "count") =>
    Number(
      text.match(
        new RegExp(`^lotse_protocol_stage_seconds_${what}\\{stage="${stage}"\\} (\\S+)$`, "m"),
      )?.[1] ?? 0,
    );
  return {
    queued: [read("queued", "sum"), read("queued", "count")],
    database: [read("database", "sum"), read("database", "count")],
  };
}

/** Measures {@linkcode WriterSide} around `run`. */
async function writerSide<T extends WrkResult>(
  url: string,
  pid: number,
  cluster: Cluster,
  run: () => Promise<T>,
): Promise<{ result: T; side: WriterSide }> {
  const stages0 = await stageSums(url);
  const main0 = threadTimes(pid, pid);
  const pg0 = schedTimes(await clusterPids(cluster));
  const result = await run();
  const main1 = threadTimes(pid, pid);
  const pg = schedDelta(pg0, schedTimes(await clusterPids(cluster)));
  const stages1 = await stageSums(url);
  const wall = result.durationS * 1e9;
  const mean = (k: "queued" | "database") =>
    (stages1[k][0] - stages0[k][0]) / (stages1[k][1] - stages0[k][1]) * 1000;
  const mainRun = (main1.run - main0.run) / wall;
  const mainWait = (main1.wait - main0.wait) / wall;
  return {
    result,
    side: {
      mainRun,
      mainWait,
      mainAsleep: Math.max(0, 1 - mainRun - mainWait),
      postgresShare: pg.runS / result.durationS,
      queuedMs: mean("queued"),
      databaseMs: mean("database"),
    },
  };
}

/** Protocol batches written straight to PostgreSQL and their entries, from Lotse's /metrics. */
async function protocolBatches(url: string): Promise<{ batches: number; entries: number }> {
  return protocolCounts(await (await fetch(`${url}/metrics`)).text());
}

/** The protocol's batches (commits) and entries written so far, from a /metrics text. */
function protocolCounts(text: string): { batches: number; entries: number } {
  const read = (pattern: RegExp) => Number(text.match(pattern)?.[1] ?? 0);
  return {
    batches: read(/^lotse_protocol_batches_total (\d+)$/m),
    entries: read(/^lotse_protocol_entries_total (\d+)$/m) ||
      // A checkout from before session 11 has no entries counter; its stages counted them all.
      read(/^lotse_protocol_stage_seconds_count\{stage="database"\} (\d+)$/m),
  };
}

// POST /v1/authorizations: decision, seal and protocol record per request. Lotse runs once per
// token algorithm (`--alg ES256|EdDSA`, default both: ES256 first, then the same database
// with LOTSE_TOKEN_ALG=EdDSA, which rotates to an Ed25519 key at start); each run measures the
// bare server and the bare server with an authorization's I/O shape (body read and parsed, a
// token-sized 201 with Lotse's fields, a log line) right before Lotse: Lotse's CPU per token over
// the shaped one's is what deciding, sealing and recording cost. Never two Lotse processes at
// once: instances on one database share their active key. `LOTSE_BENCH_ROOT` names another
// checkout whose `deno task serve` is measured, for A/B runs.
export async function authorizations(args: Args, cleanups: Cleanups) {
  const durationS = args.duration ?? 10;
  const { cwd } = benchLotse();
  const runs = args.runs ?? 1;
  const algs = args.alg === undefined || args.alg === "both"
    ? (["ES256", "EdDSA"] as const)
    : [args.alg];
  const db = await startBenchDatabase(cleanups);
  // The protocol's PostgreSQL away from Lotse's core, beside the load: "on one core" is Lotse's
  // core, and a backend woken on it would take Lotse's time (BENCHMARKS.md, "Session 7, P10").
  const dbCpu = await pinCluster(db.cluster, LOAD_CPU);
  console.log(`PostgreSQL: ${dbCpu}`);
  const bare = await startReference(cleanups, "bare");
  const shaped = await startReference(cleanups, "shaped-authorization");
  const body = JSON.stringify(DEMO_PARKING_AUTHORIZATION);
  const rows: Record<string, string>[] = [];
  const byAlg: Partial<Record<"ES256" | "EdDSA", AuthorizationRuns>> = {};
  for (const alg of algs) {
    const local = new Cleanups();
    try {
      const lotse = await startLotseProcess(local, db.url, {
        env: { LOTSE_TOKEN_ALG: alg },
        ...(cwd ? { cwd } : {}),
      });
      console.log(`Lotse from ${cwd ?? ROOT}`);
      const token = await demoToken(lotse.url);
      const check = await fetch(`${lotse.url}/v1/authorizations`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body,
      });
      const sealed = await check.json();
      if (check.status !== 201) throw new Error(`Authorization refused: ${JSON.stringify(sealed)}`);
      const header = decodeProtectedHeader(sealed.token);
      if (header.alg !== alg) throw new Error(`Expected a token sealed with ${alg}: ${header.alg}`);
      const job = {
        paths: ["/v1/authorizations"],
        token,
        method: "POST" as const,
        body,
        connections: args.connections,
      };
      await runWrk(lotse.url, { ...job, durationS: 2 });
      const results: AuthorizationRuns = [];
      for (let run = 1; run <= runs; run++) {
        const b = await runWrk(bare.url, { ...job, durationS, serverPid: bare.child.pid });
        const s = await runWrk(shaped.url, { ...job, durationS, serverPid: shaped.child.pid });
        const before = await protocolBatches(lotse.url);
        // `loadPids: {}`: each core's busy share too.
        const { result: l, side } = await writerSide(
          lotse.url,
          lotse.child.pid,
          db.cluster,
          () => runWrk(lotse.url, { ...job, durationS, serverPid: lotse.child.pid, loadPids: {} }),
        );
        const after = await protocolBatches(lotse.url);
        const perBatch = (after.entries - before.entries) / (after.batches - before.batches);
        results.push({ bare: b, shaped: s, lotse: l, entriesPerBatch: perBatch, side });
        rows.push(
          { alg, run: String(run), ...wrkRow("bare Deno.serve", b), "records/batch": "–" },
          {
            alg,
            run: String(run),
            ...wrkRow("bare, an authorization's I/O shape", s),
            "records/batch": "–",
          },
          {
            alg,
            run: String(run),
            ...wrkRow(`Lotse authorizations ${alg}`, l),
            "records/batch": fmt(perBatch, 1),
            ...loadRow(l),
            "PostgreSQL core": `${fmt(side.postgresShare * 100, 0)} %`,
            "main thread run / wait / asleep": [side.mainRun, side.mainWait, side.mainAsleep]
              .map((v) => `${fmt(v * 100, 0)} %`).join(" / "),
            "queued / database ms": `${fmt(side.queuedMs, 2)} / ${fmt(side.databaseMs, 2)}`,
          },
        );
      }
      byAlg[alg] = results;
    } finally {
      await local.run();
    }
  }
  const [records] = await db.db.sql<{ n: number }>`
    select count(*)::int as n from protocol_entries`.catch(() => [{ n: -1 }]);
  console.table(rows);
  console.log(`Protocol records written: ${records?.n}`);
  return {
    durationS,
    /** The ES256 runs when measured (the contract's default), else the EdDSA runs. */
    results: (byAlg.ES256 ?? byAlg.EdDSA)!,
    byAlg,
    protocolRecords: records?.n ?? null,
  };
}

/** Lotse with the benchmark register (loadtest/eu_bench.ts) and a small JSON transfer job. */
export async function transferBench(
  cleanups: Cleanups,
  options: {
    durable?: boolean;
    cwd?: string;
    checkEvery?: number;
    httpsFront?: boolean;
    denoFlags?: string[];
    outFile?: string;
  } = {},
) {
  const { lotse, db, provider, providerUrl, put } = await startBenchRegister(cleanups, options);
  // P6: nginx over HTTPS with its own CA in front of the register (loadtest/_https_front.ts).
  const front = options.httpsFront ? await startHttpsFront(cleanups, providerUrl) : null;
  await put("evidence-types/fahrzeugzulassung", {
    name: "Fahrzeugzulassungsdaten",
    classification: DEMO_CLASSIFICATIONS.fahrzeugzulassung,
  });
  await put("providers/kba-zfzr", {
    name: "Kraftfahrt-Bundesamt (benchmark)",
    endpoint: `${front?.url ?? providerUrl}/providers/kba-zfzr`,
    ...(front ? { caCert: front.caCert } : {}),
    xnachweisEndpoint: `${providerUrl}/xnachweis/providers/kba-zfzr`,
  });
  const token = await demoToken(lotse.url);
  const purpose = DEMO_PURPOSES.bewohnerparken;
  // RFC 8187 form, so the legal basis' "§" travels as ASCII in every client.
  const headers = {
    "Lotse-Purpose": purpose.purpose,
    "Lotse-Legal-Basis": `UTF-8''${encodeURIComponent(purpose.legalBasis)}`,
  };
  const json = {
    paths: ["/v1/evidence/fahrzeugzulassung?providerId=kba-zfzr"],
    method: "POST" as const,
    body: JSON.stringify({ familienname: "Müller", vornamen: "Anna" }),
    headers: { ...headers, "Lotse-Idnr": "86095742719" },
  };
  await untilAnswered(lotse.url, token, json);
  return { lotse, cluster: db.cluster, provider, providerUrl, front, token, headers, json };
}

/** Waits until `job` is answered 200 (the table change, the provider), up to 30 s. */
export async function untilAnswered(
  url: string,
  token: string,
  job: { paths: string[]; body: string; headers: Record<string, string>; contentType?: string },
): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${url}${job.paths[0]}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": job.contentType ?? "application/json",
        ...job.headers,
      },
      body: job.body,
    });
    const text = await res.text();
    if (res.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${job.paths[0]}: ${res.status} ${text}`);
    await sleep(200);
  }
}

export const CHECK_EVERY = 100;

// P11: the XNachweis face against the JSON face, same run, same provider, same data. A small
// 0101 (the Bewohnerparkausweis pilot file) → 0102 round trip vs a small JSON transfer; both
// decide, seal, record and forward; the XML one also parses, validates (XSD), hashes and
// re-serialises the message. The provider (one process, on the load generator's core) checks
// the token on both faces, and the request hash on the XML one, on every CHECK_EVERY-th request
// of each face (the first included); the others get its last checked answer. `LOTSE_BENCH_ROOT`
// names another checkout whose `deno task serve` is measured instead of this one, for
// alternating A/B runs; `LOTSE_BENCH_DENO_FLAGS` adds flags to its `deno run` (with `--face json`
// or `--face xml`, one face per process: `--cpu-prof --cpu-prof-dir=…` profiles that face alone).
async function xnachweis(args: Args, cleanups: Cleanups) {
  const durationS = args.duration ?? 10;
  const runs = args.runs ?? 1;
  const faces = args.face ?? "both";
  const { cwd, denoFlags } = benchLotse();
  // The register checks every 100th request of each face in full and answers the others with
  // its last checked answer (loadtest/xnachweis_provider.ts): its XML check took the load core.
  const { lotse, provider, providerUrl, token, headers, json } = await transferBench(cleanups, {
    checkEvery: CHECK_EVERY,
    denoFlags,
    ...(cwd ? { cwd } : {}),
  });
  console.log(`Lotse from ${cwd ?? ROOT}${denoFlags.length ? ` with ${denoFlags.join(" ")}` : ""}`);
  // The register's and wrk's CPU per request, and each core's busy share: does the load core
  // set the rate (session 9 saw Lotse's core 85–87 % busy on the XML face)?
  const measured = { serverPid: lotse.child.pid, loadPids: { register: provider.process.pid } };
  const xml = {
    paths: ["/xnachweis/v1/evidence-requests"],
    method: "POST" as const,
    body: await Deno.readTextFile(`${ROOT}demo/xnachweis/bewohnerparkausweis.0101.xml`),
    contentType: "application/xml",
    headers,
  };
  const jobs = [
    ...(faces === "xml" ? [] : [{ face: "JSON", name: "JSON face POST /v1/evidence", job: json }]),
    ...(faces === "json" ? [] : [{ face: "XML", name: "XML face 0101 → 0102", job: xml }]),
  ];
  if (faces !== "json") await untilAnswered(lotse.url, token, xml);
  for (const { job } of jobs) await runWrk(lotse.url, { ...job, token, durationS: 2 });
  const rows: Record<string, string>[] = [];
  const loadRows: Record<string, string>[] = [];
  const results: { json?: WrkResult; xml?: WrkResult; ratio: number }[] = [];
  const load = [await loadAverage()];
  for (let run = 1; run <= runs; run++) {
    const found: { json?: WrkResult; xml?: WrkResult } = {};
    for (const { face, name, job } of jobs) {
      const r = await runWrk(lotse.url, { ...job, token, durationS, ...measured });
      found[face === "JSON" ? "json" : "xml"] = r;
      rows.push({ run: String(run), ...wrkRow(name, r) });
      loadRows.push({ run: String(run), face, ...loadRow(r) });
    }
    results.push({ ...found, ratio: (found.xml?.rps ?? NaN) / (found.json?.rps ?? NaN) });
  }
  load.push(await loadAverage());
  console.table(rows);
  console.table(loadRows);
  // The register answers most requests with its last checked answer: a check that failed
  // (a wrong token or request hash from Lotse) must not pass as a figure.
  const register = await (await fetch(`${providerUrl}/stats`)).json() as {
    checked: number;
    failed: number;
  };
  console.log(`Register: ${register.checked} requests checked in full, ${register.failed} refused`);
  if (register.failed > 0) {
    throw new Error(`The register refused ${register.failed} of the requests it checked`);
  }
  const ratio = median(results.map((r) => r.ratio));
  // What the req/s ratio comes to when Lotse has its whole core: JSON CPU per request over XML
  // CPU per request. It holds when other processes take part of Lotse's core (a loaded machine).
  const cpuRatio = median(
    results.map((r) =>
      (r.json?.serverCpu?.usPerRequest ?? NaN) / (r.xml?.serverCpu?.usPerRequest ?? NaN)
    ),
  );
  console.log(
    `P11 XML/JSON req/s (median of ${runs}): ${fmt(ratio * 100, 1)} % (target ≥ ${
      fmt(TARGETS.P11.minRatio * 100, 0)
    } %); JSON/XML CPU per request: ${fmt(cpuRatio * 100, 1)} %`,
  );
  console.log(`Load average before/after: ${load.join(" / ")}`);
  return { durationS, faces, results, ratio, cpuRatio, loadAverage: load };
}

// Where Lotse spends its time: V8's sampling profiler (`--prof`, no inspector), summarised
// with `node --prof-process`. `profile` loads navigation, `profile-authorizations` loads
// POST /v1/authorizations, `profile-start` only starts Lotse and stops it once ready.
function profiler(target: "navigation" | "authorizations" | "start") {
  return async (args: Args, cleanups: Cleanups) => {
    const durationS = args.duration ?? 10;
    const db = await startBenchDatabase(cleanups);
    const dir = `${ROOT}.bench/prof-${target}-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    await Deno.mkdir(dir, { recursive: true });
    const local = new Cleanups();
    let w: WrkResult | null = null;
    let readyMs: number;
    try {
      const lotse = await startLotseProcess(local, db.url, {
        // One log at a known path: `cwd` would name the checkout whose task runs, not the
        // directory V8 writes to.
        denoFlags: [`--v8-flags=--prof,--no-logfile-per-isolate,--logfile=${dir}/v8.log`],
        env: args.alg === "ES256" || args.alg === "EdDSA" ? { LOTSE_TOKEN_ALG: args.alg } : {},
      });
      readyMs = lotse.readyMs;
      if (target !== "start") {
        const token = await demoToken(lotse.url);
        const job = target === "navigation" ? { paths: navigationPaths(db.tables) } : {
          paths: ["/v1/authorizations"],
          method: "POST" as const,
          body: JSON.stringify(DEMO_PARKING_AUTHORIZATION),
        };
        w = await runWrk(lotse.url, { ...job, token, durationS, serverPid: lotse.child.pid });
      }
    } finally {
      await local.run();
    }
    const logs = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".log"));
    const summaries: string[] = [];
    for (const log of logs) {
      const out = await new Deno.Command("node", {
        args: ["--prof-process", `${dir}/${log.name}`],
        stdout: "piped",
        stderr: "null",
      }).output();
      await Deno.writeTextFile(`${dir}/${log.name}.txt`, new TextDecoder().decode(out.stdout));
      summaries.push(`${dir}/${log.name}.txt`);
    }
    if (w) console.table([wrkRow(`Lotse ${target} (profiled)`, w)]);
    else console.log(`Ready after ${fmt(readyMs, 0)} ms (profiled)`);
    console.log(`Profiles: ${summaries.join(", ")}`);
    return { target, readyMs, load: w, summaries };
  };
}

const SHAPED_NAMES: Readonly<Record<ForwarderMode, string>> = {
  runtime: "Deno forwarder, the runtime's stream (no JavaScript per chunk)",
  eachChunk: "Deno forwarder, each chunk through JavaScript",
  eachChunkSha256: "Deno forwarder, each chunk through JavaScript, Repr-Digest checked",
};

/** P4's same-shape references of an evidence run, named, in the order they were measured. */
function shapedRows(r: EvidenceResult): [string, PathFigures][] {
  return Object.entries(r.shaped ?? {}).map((
    [mode, f],
  ) => [SHAPED_NAMES[mode as ForwarderMode], f]);
}

/** A same-shape reference's throughput over the reference's (medians). */
function shapedRatio(r: EvidenceResult, mode: ForwarderMode): number {
  const figures = r.shaped?.[mode];
  return figures === undefined ? NaN : median(figures.mibPerS) / median(r.reference.mibPerS);
}

// P4/P5: 1 GiB through the product from an HTTPS provider, nginx in the same rounds. For A/B
// runs and traces, as in `latency`: `LOTSE_BENCH_ROOT` (another checkout's `deno task serve`),
// `LOTSE_BENCH_DENO_FLAGS` (added to its `deno run`), `LOTSE_BENCH_SERVER_OUT` (its output).
async function evidenceScenario(args: Args, cleanups: Cleanups) {
  const lotse = benchLotse();
  const cwd = lotse.cwd;
  const r = await evidence({
    rounds: args.rounds,
    bytes: args.bytes,
    concurrent: args.concurrent,
    ...lotse,
  }, cleanups);
  console.log(`Lotse from ${cwd ?? ROOT}`);
  const row = (name: string, f: { mibPerS: number[]; cpuSecondsPerGiB: number[] }) => ({
    path: name,
    "MiB/s (median)": fmt(median(f.mibPerS), 0),
    "MiB/s (runs)": f.mibPerS.map((x) => x.toFixed(0)).join(" "),
    "vs nginx": `${fmt((median(f.mibPerS) / median(r.reference.mibPerS)) * 100, 0)} %`,
    "server CPU s/GiB": fmt(median(f.cpuSecondsPerGiB), 2),
  });
  console.table([
    row("nginx → HTTPS provider", r.reference),
    ...shapedRows(r).map(([name, f]) => row(name, f)),
    row("Lotse, Repr-Digest verified", r.digest),
    row("Lotse, provider sends no digest", r.plain),
  ]);
  console.log(
    `P4: ${fmt(r.digestOverReference * 100, 0)} % of nginx with digest (target ≥ 60 %), ` +
      `${fmt(r.plainOverReference * 100, 0)} % without (target ≥ 95 %); P5: RSS growth ` +
      `${r.rssGrowthMiB.map((x) => x.toFixed(0)).join(", ")} MiB per GiB (target < 64)` +
      (r.concurrent
        ? `, ${r.concurrent.transfers} × ${r.concurrent.bytesEach / 1024 ** 2} MiB peak ` +
          `${fmt(r.concurrent.peakRssMiB, 0)} MiB (target < 256) from ${
            fmt(r.concurrent.rssBeforeMiB, 0)
          } MiB before, ${r.concurrent.failed} failed`
        : ""),
  );
  console.log(
    "Lotse's memory (MiB) by stage: " +
      Object.entries(r.rssStagesMiB).map(([stage, m]) =>
        `${stage}: RSS ${fmt(m.rss ?? NaN, 0)}, heap ${fmt(m.heap_used ?? NaN, 0)} of ${
          fmt(m.heap_total ?? NaN, 0)
        }, external ${fmt(m.external_memory ?? NaN, 0)}`
      ).join("; "),
  );
  return r;
}

// P9: `deno task start` as a newcomer runs it, against the same task on PostgreSQL.
async function footprintScenario(args: Args, cleanups: Cleanups) {
  const r = await footprint({ runs: args.runs ?? 3, idleS: args.duration ?? 60 }, cleanups);
  console.table([
    ...r.embedded.map((x, i) => ({ run: i + 1, database: "embedded, fresh", ...footRow(x) })),
    ...r.embeddedRestart.map((x, i) => ({
      run: i + 1,
      database: "embedded, restart",
      ...footRow(x),
    })),
    ...r.postgres.map((x, i) => ({ run: i + 1, database: "PostgreSQL server", ...footRow(x) })),
  ]);
  console.log(
    `P9: embedded (Lotse + its PostgreSQL) RSS after ${r.idleS} s idle ${
      fmt(r.embeddedRssIdleMiBMedian, 0)
    } MiB (target ≤ ${TARGETS.P9.maxRssMiB}), ready ${fmt(r.embeddedReadyMsMedian, 0)} ms ` +
      `(target ≤ ${TARGETS.P9.maxReadyMs}); restart ${
        fmt(r.embeddedRestartRssIdleMiBMedian, 0)
      } MiB, ready ${fmt(r.embeddedRestartReadyMsMedian, 0)} ms; on PostgreSQL ${
        fmt(r.postgresRssIdleMiBMedian, 0)
      } MiB`,
  );
  return r;
}

function footRow(x: FootprintResult["embedded"][number]) {
  return {
    "ready ms": fmt(x.readyMs, 0),
    "RSS at ready MiB": fmt(x.rssReadyMiB, 0),
    "RSS idle MiB": fmt(x.rssIdleMiB, 0),
    "PSS idle MiB": fmt(x.pssIdleMiB, 0),
  };
}

// P6: the protocol log against its own PostgreSQL with fsync on (loadtest/protocol_bench.ts),
// then what it adds to a transfer in the product.
async function protocolScenario(args: Args, cleanups: Cleanups) {
  const fixture = await protocolFixture(args);
  const product = await protocolWait(args, cleanups);
  // The floor under the added latency: one flush of the disk the clusters write to.
  const flush = await flushLatency();
  console.log(
    `Disk flush (8 kB write + fdatasync, one after another): p50 ${fmt(flush.p50Ms, 2)} ms, ` +
      `p99 ${fmt(flush.p99Ms, 2)} ms, ${fmt(flush.perS, 0)}/s`,
  );
  return { ...fixture, product, flush };
}

/** The protocol log alone at saturation and at a held rate (loadtest/protocol_bench.ts). */
async function protocolFixture(args: Args) {
  const child = new Child("protocol bench", "taskset", [
    "-c",
    LOAD_CPU,
    Deno.execPath(),
    "run",
    "--allow-all",
    `${ROOT}loadtest/protocol_bench.ts`,
    "--load",
    `--seconds=${args.duration ?? 8}`,
  ]);
  const status = await child.process.status;
  await child.stop();
  const line = child.output.split("\n").find((l) => l.startsWith("PROTOCOL_JSON "));
  if (!status.success || !line) throw new Error(`Protocol bench failed: ${child.output}`);
  console.log(child.output.split("\n").filter((l) => !l.startsWith("PROTOCOL_JSON")).join("\n"));
  return JSON.parse(line.slice("PROTOCOL_JSON ".length)) as {
    recordsPerS: number;
    heldRate: number;
    beginMs: { p50: number; p99: number; p999: number; max: number };
    chainOk: boolean;
  };
}

/**
 * The cumulative buckets of one histogram series in a /metrics text, by bound; `labels` as
 * they appear before `le`, e.g. `stage="queued",`.
 */
function histogramBuckets(metrics: string, name: string, labels = ""): Map<number, number> {
  const buckets = new Map<number, number>();
  const prefix = `${name}_bucket{${labels}le="`;
  for (const line of metrics.split("\n")) {
    if (!line.startsWith(prefix)) continue;
    const [le, n] = line.slice(prefix.length).split('"} ');
    buckets.set(le === "+Inf" ? Infinity : Number(le), Number(n));
  }
  return buckets;
}

/** The smallest bucket bound (ms) under which at least `q` of the observations fall. */
function bucketQuantileMs(before: Map<number, number>, after: Map<number, number>, q: number) {
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  for (const [le, n] of [...after].sort((a, b) => a[0] - b[0])) {
    if (n - (before.get(le) ?? 0) >= q * total) return le * 1000;
  }
  return Infinity;
}

/** The histograms P6 reads: the wait, each stage of an entry's way, the event loop's delay. */
const P6_SERIES = {
  wait: ["lotse_protocol_wait_seconds", ""],
  queued: ["lotse_protocol_stage_seconds", 'stage="queued",'],
  database: ["lotse_protocol_stage_seconds", 'stage="database",'],
  resumed: ["lotse_protocol_stage_seconds", 'stage="resumed",'],
  loopDelay: ["lotse_event_loop_delay_seconds", ""],
  // Lotse's time to the transfer's response headers: the provider's answer and the wait inside.
  request: ["lotse_http_request_duration_seconds", 'route="POST /v1/evidence/:evidenceType",'],
} as const;

type P6Series = keyof typeof P6_SERIES;

/** Count and bucket-bound quantiles of each P6 series between two /metrics texts. */
function p6Quantiles(before: string, after: string) {
  const out = {} as Record<P6Series, { n: number; p50: number; p99: number; p999: number }>;
  for (const [key, [name, labels]] of Object.entries(P6_SERIES) as [P6Series, [string, string]][]) {
    const b = histogramBuckets(before, name, labels);
    const a = histogramBuckets(after, name, labels);
    out[key] = {
      n: (a.get(Infinity) ?? 0) - (b.get(Infinity) ?? 0),
      p50: bucketQuantileMs(b, a, 0.5),
      p99: bucketQuantileMs(b, a, 0.99),
      p999: bucketQuantileMs(b, a, 0.999),
    };
  }
  return out;
}

// P6 in the product: what the protocol adds to a transfer. Small JSON transfers at a held
// arrival rate (loadtest/_arrival.ts) of half the most the product answers per second, against a PostgreSQL with its durability settings
// on (fsync, synchronous_commit: a commit waits for its WAL flush); Lotse measures, for each,
// how long it waited after the provider had answered for its decision record to be durable
// (`lotse_protocol_wait_seconds`, src/transfer.ts): the protocol's added latency. Beside it,
// from the same run, each entry's stages (queued behind the write in flight, the database's
// round trip as JavaScript sees it, the callers running on) and the event loop's delay.
async function protocolWait(args: Args, cleanups: Cleanups) {
  const durationS = args.duration ?? 10;
  const bench = await transferBench(cleanups, { durable: true, httpsFront: true });
  return await heldProtocolWait(bench, { durationS, rate: args.rate });
}

/**
 * P6's product figure alone, for A/B runs: `LOTSE_BENCH_ROOT` names another checkout whose
 * `deno task serve` is measured instead of this one (its /metrics must have the same series),
 * `LOTSE_BENCH_DENO_FLAGS` adds flags to its `deno run` (e.g. `--cpu-prof`; a `--v8-flags=` adds
 * to the task's), `LOTSE_BENCH_SERVER_OUT` names a file for its output (e.g. with
 * `--trace-gc`); `LOTSE_BENCH_FSYNC=off` runs PostgreSQL as the tests do (fsync, synchronous_commit
 * off), to tell the commit's flush from the rest.
 */
async function protocolWaitOnly(args: Args, cleanups: Cleanups) {
  const lotse = benchLotse();
  const { cwd } = lotse;
  const durable = Deno.env.get("LOTSE_BENCH_FSYNC") !== "off";
  const bench = await transferBench(cleanups, { durable, httpsFront: true, ...lotse });
  console.log(`Lotse from ${cwd ?? ROOT}; PostgreSQL ${durable ? "durable" : "with fsync off"}`);
  return await heldProtocolWait(bench, { durationS: args.duration ?? 10, rate: args.rate });
}

/**
 * P6 at a held rate of `rate` (default half the most wrk gets answered), with what each process
 * of the run used of its core and how long it waited for one: Lotse (the server core), and on the
 * load core PostgreSQL (pinned there by inheritance: the runner pins itself before it starts
 * the cluster), the provider and the generator.
 */
async function heldProtocolWait(
  bench: Awaited<ReturnType<typeof transferBench>>,
  job: { durationS: number; rate: number | undefined },
) {
  const { lotse, token, json } = bench;
  const { durationS } = job;
  const max = await runWrk(lotse.url, { ...json, token, durationS: 5 });
  const rate = Math.max(1, Math.round(job.rate ?? max.rps * 0.5));
  const metrics = async () => await (await fetch(`${lotse.url}/metrics`)).text();
  // With the HTTPS front, "provider" is nginx's worker and "register" the token checker.
  const processes = async (): Promise<Record<string, number[]>> => ({
    lotse: [lotse.child.pid],
    postgres: await clusterPids(bench.cluster),
    provider: [bench.front?.workerPid ?? bench.provider.process.pid],
    ...(bench.front ? { register: [bench.provider.process.pid] } : {}),
  });
  const pids = await processes();
  const sched = Object.fromEntries(
    Object.entries(pids).map(([k, v]) => [k, schedTimes(v)]),
  ) as Record<string, SchedSnapshot>;
  const before = await metrics();
  const started = performance.now();
  const held = await runArrival({
    url: lotse.url,
    paths: json.paths,
    token,
    rate,
    durationS,
    connections: 20,
    maxConnections: 200,
    method: "POST",
    body: json.body,
    headers: json.headers,
  });
  const wallS = (performance.now() - started) / 1000;
  // Lotse's connections to the provider (a pool kept open: ESTAB only, no TIME-WAIT).
  const connections = await connectionsTo(
    Number(new URL(bench.front?.url ?? bench.providerUrl).port),
  );
  const after = await processes();
  const cpu = Object.fromEntries(
    Object.entries(sched).map(([k, snapshot]) => {
      const d = schedDelta(snapshot, schedTimes(after[k] ?? []));
      return [k, { cpuShare: d.runS / wallS, waitedShare: d.waitS / wallS, runS: d.runS }];
    }),
  );
  const afterText = await metrics();
  const stages = p6Quantiles(before, afterText);
  const transfers = stages.wait.n;
  const [b0, b1] = [protocolCounts(before), protocolCounts(afterText)];
  const commits = { batches: b1.batches - b0.batches, entries: b1.entries - b0.entries };
  const waitMs = { p50: stages.wait.p50, p99: stages.wait.p99, p999: stages.wait.p999 };
  console.log(
    `P6 in the product (provider: nginx over HTTPS, a fixed document, 1 % checked in full by ` +
      `the register): ${transfers} transfers at ${rate}/s (max ${Math.round(max.rps)}/s); ` +
      `protocol wait p50 ≤ ${waitMs.p50} ms, p99 ≤ ${waitMs.p99} ms, p99.9 ≤ ${waitMs.p999} ms; ` +
      `transfer latency p99 ${fmt(held.latencyMs.p99, 2)} ms (held rate, ${held.dropped} dropped)`,
  );
  console.table(
    Object.fromEntries(
      Object.entries(stages).map(([k, v]) => [k, {
        n: v.n,
        "p50 ≤ ms": v.p50,
        "p99 ≤ ms": v.p99,
        "p99.9 ≤ ms": v.p999,
      }]),
    ),
  );
  console.log(
    `Over the held run (${fmt(wallS, 1)} s with the warm-up; Lotse on core ${SERVER_CPU}, ` +
      `PostgreSQL, the provider and the generator on core ${LOAD_CPU}), CPU used / waited for, ` +
      `as shares of the wall time: ${
        Object.entries(cpu).map(([k, v]) =>
          `${k} ${fmt(v.cpuShare * 100, 0)} / ${fmt(v.waitedShare * 100, 0)} %`
        ).join(", ")
      }; the generator used ${fmt(held.cpuShare * 100, 0)} % (${
        held.slept ? "sleeping between due times" : "spinning"
      }); transfer latency from the due time p50 ${fmt(held.latencyMs.p50, 2)}, ` +
      `p99 ${fmt(held.latencyMs.p99, 2)} ms, send lag p99 ${fmt(held.sendLagMs.p99, 2)} ms`,
  );
  const checked = bench.front ? await registerStats(bench.providerUrl) : null;
  console.log(
    `CPU per transfer (µs, over the transfers the run's /metrics counted): ${
      Object.entries(cpu).map(([k, v]) => `${k} ${fmt(v.runS / Math.max(transfers, 1) * 1e6, 0)}`)
        .join(", ")
    }`,
  );
  console.log(
    `Protocol commits: ${commits.batches} for ${commits.entries} entries ` +
      `(${fmt(commits.batches / Math.max(transfers, 1), 2)} per transfer)`,
  );
  console.log(
    `Lotse's connections to the provider after the run, by state: ${JSON.stringify(connections)}` +
      (checked
        ? `; the register checked ${checked.checked} evidence tokens in full, ${checked.failed} refused`
        : ""),
  );
  if (checked && (checked.checked === 0 || checked.failed > 0)) {
    throw new Error(`The register's token checks: ${JSON.stringify(checked)}`);
  }
  return {
    maxRps: max.rps,
    rate,
    transfers,
    waitMs,
    stages,
    held,
    cpu,
    commits,
    connections,
    checked,
  };
}

/** One line of the summary table: a P-figure, its reference and the target. */
interface SummaryRow {
  id: string;
  what: string;
  measured: string;
  reference: string;
  ratio: string;
  target: string;
  met: boolean;
  command: string;
}

const pct = (x: number) => `${fmt(x * 100, 1)} %`;

// Every P-figure in one run: each scenario in turn (each with its own database and
// processes), then one table and one JSON file with every raw result.
async function all(args: Args, cleanups: Cleanups) {
  const task = (rest: string) => `deno task bench:load ${rest}`;
  const rows: SummaryRow[] = [];
  const raw: Record<string, unknown> = {};
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T | null> => {
    console.log(`\n=== ${name} (load average ${await loadAverage()}) ===`);
    try {
      const result = await fn();
      raw[name] = result;
      return result;
    } catch (error) {
      console.error(`${name} failed:`, error);
      raw[name] = { error: String(error) };
      return null;
    } finally {
      // Each scenario's processes and database go before the next one starts.
      await cleanups.run();
    }
  };
  const quick = (args.duration ?? 10) < 10;
  const duration = args.duration ?? 10;

  const nav = await step("navigation", () => navigation({ ...args, runs: 3, duration }, cleanups));
  if (nav) {
    const ratio = median(nav.lotseOverBare);
    const bare = median(nav.results.map((r) => r.bare!.rps));
    const lotse = median(nav.results.map((r) => r.lotse!.rps));
    const shaped = median(nav.results.map((r) => r.shaped!.rps));
    rows.push({
      id: "P1",
      what: TARGETS.P1.title,
      measured: `${krps(lotse)} req/s`,
      reference: `bare ${krps(bare)} req/s; bare with Lotse's answer shape ${krps(shaped)} (${
        pct(median(nav.shapedOverBare))
      } of bare)`,
      ratio: pct(ratio),
      target: `≥ ${pct(TARGETS.P1.minRatio)}`,
      met: ratio >= TARGETS.P1.minRatio,
      command: task(`navigation --duration ${duration} --runs 3`),
    });
  }
  const lat = await step(
    "latency",
    () => latency({ ...args, runs: 1, duration: Math.max(20, duration) }, cleanups),
  );
  if (lat) {
    const held = lat.results[0]!;
    const ms = held.latencyMs;
    const bare = lat.reference.latencyMs;
    const native = lat.h2load.lotse;
    const nativeBare = lat.h2load.bare;
    const nms = native.latencyMs;
    rows.push({
      id: "P2",
      what: TARGETS.P2.title,
      measured: `held ${krps(lat.rate)}/s, h2load: p99 ${fmt(nms.p99, 2)} ms, p99.9 ${
        fmt(nms.p999, 2)
      } ms (${native.overInterval} answers over its ${
        fmt(native.intervalMs, 1)
      } ms interval); the JavaScript generator: p99 ${fmt(ms.p99, 2)} ms, p99.9 ${
        fmt(ms.p999, 2)
      } ms (${held.dropped} dropped); autocannon's bursts: p99 ${
        fmt(lat.autocannon.latencyMs.p99, 2)
      } ms, p99.9 ${fmt(lat.autocannon.latencyMs.p999, 2)} ms`,
      reference: `P1 max ${lat.p1MaxRps ? krps(lat.p1MaxRps) : "–"} req/s; bare Deno.serve at ` +
        `the same held rate: h2load p99 ${fmt(nativeBare.latencyMs.p99, 2)} ms, p99.9 ${
          fmt(nativeBare.latencyMs.p999, 2)
        } ms; the JavaScript generator p99 ${fmt(bare.p99, 2)} ms, p99.9 ${fmt(bare.p999, 2)} ms`,
      ratio: "–",
      target: `p99 ≤ ${TARGETS.P2.p99Ms} ms, p99.9 ≤ ${TARGETS.P2.p999Ms} ms`,
      // h2load's figures: the JavaScript generator's own delays at this rate are in its tail
      // (loadtest/_h2load.ts). They count only when no send waited for an answer.
      met: nms.p99 <= TARGETS.P2.p99Ms && nms.p999 <= TARGETS.P2.p999Ms &&
        native.overInterval === 0 && native.errors === 0 && native.non2xx === 0 &&
        native.requests >= native.scheduled - native.clients,
      command: task("latency --duration 20"),
    });
  }
  const ev = await step("evidence", () =>
    evidence({
      rounds: args.rounds ?? 3,
      bytes: args.bytes ?? (quick ? 256 * 1024 ** 2 : 1024 ** 3),
      concurrent: TARGETS.P5.concurrent,
      concurrentBytes: TARGETS.P5.concurrentBytes,
    }, cleanups)) as EvidenceResult | null;
  if (ev) {
    const nginx = median(ev.reference.mibPerS);
    const cmd = task(`evidence --rounds ${ev.rounds} --bytes ${ev.bytes}`);
    rows.push({
      id: "P4",
      what: "evidence, Repr-Digest verified, vs nginx (HTTPS provider)",
      measured: `${fmt(median(ev.digest.mibPerS), 0)} MiB/s, ${
        fmt(median(ev.digest.cpuSecondsPerGiB), 2)
      } CPU s/GiB`,
      reference: `nginx ${fmt(nginx, 0)} MiB/s, ${
        fmt(median(ev.reference.cpuSecondsPerGiB), 2)
      } CPU s/GiB; a Deno forwarder checking the digest (each chunk through JavaScript) ${
        pct(shapedRatio(ev, "eachChunkSha256"))
      } of nginx`,
      ratio: pct(ev.digestOverReference),
      target: `≥ ${pct(TARGETS.P4.minRatioDigest)}`,
      met: ev.digestOverReference >= TARGETS.P4.minRatioDigest,
      command: cmd,
    }, {
      id: "P4",
      what: "evidence, provider sends no digest, vs nginx",
      measured: `${fmt(median(ev.plain.mibPerS), 0)} MiB/s, ${
        fmt(median(ev.plain.cpuSecondsPerGiB), 2)
      } CPU s/GiB`,
      reference: `nginx ${fmt(nginx, 0)} MiB/s; Deno forwarder: the runtime's stream ${
        pct(shapedRatio(ev, "runtime"))
      }, each chunk in JavaScript ${pct(shapedRatio(ev, "eachChunk"))} of nginx`,
      ratio: pct(ev.plainOverReference),
      target: `≥ ${pct(TARGETS.P4.minRatioPlain)}`,
      met: ev.plainOverReference >= TARGETS.P4.minRatioPlain,
      command: cmd,
    });
    const growth = Math.max(...ev.rssGrowthMiB);
    rows.push({
      id: "P5",
      what: "RSS growth over one verified transfer; peak of the concurrent transfers",
      measured: `+${fmt(growth, 0)} MiB; peak ${
        fmt(ev.concurrent?.peakRssMiB ?? NaN, 0)
      } MiB from ${fmt(ev.concurrent?.rssBeforeMiB ?? NaN, 0)} before (${
        ev.concurrent?.failed ?? "–"
      } failed; ready with the full-scale tables ${fmt(ev.rssStagesMiB.ready?.rss ?? NaN, 0)} MiB)`,
      reference: `${ev.bytes / 1024 ** 2} MiB per transfer; ${TARGETS.P5.concurrent} × ${
        TARGETS.P5.concurrentBytes / 1024 ** 2
      } MiB`,
      ratio: "–",
      target: `< ${TARGETS.P5.maxRssGrowthMiB} MiB; < ${TARGETS.P5.maxConcurrentRssMiB} MiB`,
      met: growth < TARGETS.P5.maxRssGrowthMiB && ev.concurrent !== null &&
        ev.concurrent.failed === 0 && ev.concurrent.peakRssMiB < TARGETS.P5.maxConcurrentRssMiB,
      command: cmd,
    });
  }
  const proto = await step(
    "protocol",
    () => protocolScenario({ ...args, duration: 8, rate: undefined } as Args, cleanups),
  );
  if (proto) {
    rows.push({
      id: "P6",
      what: "protocol log into PostgreSQL (fsync on); what it adds to a transfer " +
        "(provider: nginx over HTTPS, a fixed document, 1 % checked by the register)",
      measured: `${
        fmt(proto.recordsPerS, 0)
      } records/s (log alone); added latency p99 ≤ ${proto.product.waitMs.p99} ms at ${proto.product.rate} transfers/s (product)`,
      reference: `log alone: begin() p99 ${fmt(proto.beginMs.p99, 2)} ms at ${proto.heldRate}/s; ` +
        `disk flush (8 kB + fdatasync) p50 ${fmt(proto.flush.p50Ms, 2)} ms, p99 ${
          fmt(proto.flush.p99Ms, 2)
        } ms`,
      ratio: "–",
      target: `≥ ${TARGETS.P6.minRecordsPerS}/s; p99 ≤ ${TARGETS.P6.maxBeginP99Ms} ms`,
      met: proto.recordsPerS >= TARGETS.P6.minRecordsPerS &&
        proto.product.waitMs.p99 <= TARGETS.P6.maxBeginP99Ms && proto.chainOk &&
        proto.product.held.dropped === 0,
      command: task("protocol --duration 8"),
    });
  }
  const sw = await step("swap", () =>
    swap({
      ...args,
      routes: args.routes ?? (quick ? 200_000 : 1_000_000),
      duration: 40,
      swaps: 1,
    }, cleanups));
  if (sw) {
    const ms = median(sw.swaps.map((s) => s.swapMs!));
    rows.push({
      id: "P7",
      what: `${sw.routes} routes loaded and swapped under load`,
      measured: `${fmt(ms, 0)} ms (server CPU ${
        fmt(median(sw.swaps.map((s) => s.cpuMs!)), 0)
      } ms); ${sw.load.failures} failed of ${sw.load.requests}`,
      reference: "–",
      ratio: "–",
      target: `≤ ${TARGETS.P7.maxSwapMs} ms; ${TARGETS.P7.maxFailed} failed`,
      met: ms <= TARGETS.P7.maxSwapMs && sw.load.failures <= TARGETS.P7.maxFailed,
      command: task(`swap --routes ${sw.routes} --duration 40 --swaps 1`),
    });
  }
  const st = await step("start", () => start({ ...args, runs: 5 }, cleanups));
  if (st) {
    rows.push({
      id: "P8",
      what: TARGETS.P8.title,
      measured: `${fmt(st.medianMs, 0)} ms (server CPU ${fmt(st.cpuMsMedian, 0)} ms)`,
      reference: `bare Deno.serve ${fmt(st.bareMedianMs, 0)} ms`,
      ratio: "–",
      target: `≤ ${TARGETS.P8.maxReadyMs} ms`,
      met: st.medianMs <= TARGETS.P8.maxReadyMs,
      command: task("start --runs 5"),
    });
  }
  const fp = await step(
    "footprint",
    () => footprint({ runs: quick ? 1 : 2, idleS: quick ? 10 : 60 }, cleanups),
  );
  if (fp) {
    rows.push({
      id: "P9",
      what: TARGETS.P9.title,
      measured: `${
        fmt(fp.embeddedRssIdleMiBMedian, 0)
      } MiB (Lotse + its PostgreSQL) after ${fp.idleS} s idle; ready ${
        fmt(fp.embeddedReadyMsMedian, 0)
      } ms fresh, ${fmt(fp.embeddedRestartReadyMsMedian, 0)} ms restart`,
      reference: `same task on PostgreSQL ${fmt(fp.postgresRssIdleMiBMedian, 0)} MiB + server ${
        fmt(median(fp.postgresServerPssMiB), 0)
      } MiB PSS`,
      ratio: "–",
      target: `≤ ${TARGETS.P9.maxRssMiB} MiB; ≤ ${TARGETS.P9.maxReadyMs} ms`,
      met: fp.embeddedRssIdleMiBMedian <= TARGETS.P9.maxRssMiB &&
        fp.embeddedReadyMsMedian <= TARGETS.P9.maxReadyMs,
      command: task(`footprint --runs ${fp.embedded.length} --duration ${fp.idleS}`),
    });
  }
  const au = await step(
    "authorizations",
    () => authorizations({ ...args, runs: 3, duration }, cleanups),
  );
  for (const [alg, results] of Object.entries(au?.byAlg ?? {})) {
    const lotse = median(results.map((r) => r.lotse!.rps));
    const bare = median(results.map((r) => r.bare!.rps));
    const cpu = median(results.map((r) => r.lotse!.serverCpu?.usPerRequest ?? NaN));
    const shapedCpu = median(results.map((r) => r.shaped?.serverCpu?.usPerRequest ?? NaN));
    rows.push({
      id: "P10",
      what: `${TARGETS.P10.title}, ${alg}${alg === "ES256" ? " (default)" : ""}`,
      measured: `${fmt(lotse, 0)} sealed tokens/s, ${fmt(cpu, 0)} µs CPU each`,
      reference: `bare ${krps(bare)} req/s; bare with an authorization's I/O shape ${
        fmt(shapedCpu, 1)
      } µs CPU per request`,
      ratio: pct(lotse / bare),
      target: `≥ ${TARGETS.P10.minRps}/s`,
      met: lotse >= TARGETS.P10.minRps,
      command: task(`authorizations --duration ${duration} --runs 3`),
    });
  }
  const xn = await step("xnachweis", () => xnachweis({ ...args, runs: 3, duration }, cleanups));
  if (xn) {
    rows.push({
      id: "P11",
      what: "XNachweis 0101 → 0102 vs the JSON face, same provider data",
      measured: `${
        krps(median(xn.results.map((r) => r.xml!.rps)))
      } req/s (JSON/XML CPU per request ${pct(xn.cpuRatio)})`,
      reference: `JSON face ${krps(median(xn.results.map((r) => r.json!.rps)))} req/s`,
      ratio: pct(xn.ratio),
      target: `≥ ${pct(TARGETS.P11.minRatio)}`,
      met: xn.ratio >= TARGETS.P11.minRatio,
      command: task(`xnachweis --duration ${duration} --runs 3`),
    });
  }
  console.log("\n=== Summary ===");
  console.table(rows.map((r) => ({
    id: r.id,
    measured: r.measured,
    reference: r.reference,
    ratio: r.ratio,
    target: r.target,
    met: r.met ? "yes" : "NO",
  })));
  const resultsDir = `${ROOT}loadtest/results`;
  await Deno.mkdir(resultsDir, { recursive: true });
  const file = `${resultsDir}/all-${new Date().toISOString().slice(0, 19).replace(/:/g, "-")}.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify({ machine: machine(), summary: rows, raw }, null, 2) + "\n",
  );
  console.log(`Raw results: ${file}`);
  return { summary: rows, file };
}

const SCENARIOS: Record<string, (args: Args, cleanups: Cleanups) => Promise<unknown>> = {
  navigation,
  evidence: evidenceScenario,
  footprint: footprintScenario,
  protocol: protocolScenario,
  "protocol-wait": protocolWaitOnly,
  all,
  latency,
  start,
  swap,
  authorizations,
  xnachweis,
  eu: euRoundTrip,
  profile: profiler("navigation"),
  "profile-authorizations": profiler("authorizations"),
  "profile-start": profiler("start"),
};

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(Deno.args);
  } catch (error) {
    console.error((error as Error).message);
    return 2;
  }
  // This process reads every child's output (Lotse's log lines: ~4.2 MB/s at 17.8k requests/s)
  // and /metrics; unpinned, the scheduler put it on Lotse's core whenever a spinning generator
  // held the other one, and took Lotse's time there (BENCHMARKS.md, "Session 8, P2 and P6").
  await new Deno.Command("taskset", {
    args: ["-a", "-p", "-c", LOAD_CPU, String(Deno.pid)],
    stdout: "null",
  }).output();
  const scenario = SCENARIOS[args.scenario];
  if (!scenario) {
    console.error(
      `Usage: deno run -A loadtest/run.ts <${Object.keys(SCENARIOS).join("|")}> [--duration s] ` +
        "[--runs n] [--rate r] [--routes n] [--swaps n] [--connections n]",
    );
    return 2;
  }
  const cleanups = new Cleanups();
  const unhook = cleanups.runOnSignals();
  try {
    const before = await context();
    const result = await scenario(args, cleanups);
    const path = await writeResult(args.scenario, {
      scenario: args.scenario,
      args,
      command: `deno run -A loadtest/run.ts ${Deno.args.join(" ")}`,
      context: before,
      loadAverage1mAfter: await loadAverage(),
      result,
    });
    console.log(`Written to ${path}`);
    return 0;
  } catch (error) {
    console.error(`Scenario "${args.scenario}" failed:`, error);
    return 1;
  } finally {
    await cleanups.run();
    unhook();
  }
}

if (import.meta.main) Deno.exit(await main());
