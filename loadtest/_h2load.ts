/**
 * A held arrival rate from h2load (nghttp2's load generator: C, one event loop), for P2 beside
 * loadtest/_arrival.ts. The JavaScript generator keeps k6's open model exactly, but at P2's
 * 20–25k requests/s it uses its whole core, and its own event loop's delays end up in the tail
 * it reports: bare `Deno.serve` measured p99 2.7 ms and p99.9 8.4 ms through it (session 14).
 * h2load times each request in C: at the same rate it measures bare `Deno.serve` at p99
 * 0.3–0.5 ms (BENCHMARKS.md, "Session 15, P2").
 *
 * How the rate is held: `clients` HTTP/1.1 connections, each sending one request every
 * `clients / rate` seconds (h2load's `--rps`, per connection), started a whole number of
 * milliseconds apart (`-r 1 --rate-period`). Two rules set the count ({@linkcode
 * spreadClients}):
 *
 * - A connection sends at most 100 requests a second. h2load's per-connection timer fires at
 *   most every 10 ms (`std::max(0.01, 1. / config.rps)` in `Client::connection_made()`,
 *   h2load.cc of nghttp2 1.52); at a higher rate a tick finds two due, and over HTTP/1.1 the
 *   second waits for the first answer, uncounted.
 * - The start offsets, taken modulo the interval, spread evenly: otherwise every connection
 *   would send in the same few milliseconds.
 *
 * h2load's event loop (libev over `epoll_wait`, whose timeout is whole milliseconds) sends what
 * is due in steps of about a millisecond, ~20 requests at once at 20k/s: burstier than k6's even
 * spacing. The run reports how bunched the sends were and the longest pause between two sends.
 *
 * Latency is counted from each request's send (h2load's `--log-file`: start time, status,
 * microseconds to the end of the response), not from its due time. The two differ in two cases,
 * and neither lateness is counted:
 *
 * - A connection's previous answer came later than its next due time: h2load sends the next
 *   request when the answer arrives (coordinated omission). Every run reports `overInterval`,
 *   the answers slower than a connection's interval; when it is 0, no send waited for an answer.
 * - h2load itself did not run (its core taken): what fell due meanwhile goes out late, at once.
 *   The longest pause between sends (`sendSteps.gapMaxMs`) shows it; bare `Deno.serve` measured
 *   in the same run has the same pauses.
 *
 * Every connection requests `paths` in the same order, so at any moment a few dozen
 * neighbouring paths of the list are in use, not all of them.
 *
 * @module
 */
import { Child, LOAD_CPU } from "./_harness.ts";
import { percentile } from "./_samples.ts";
import type { HeldRun } from "./_arrival.ts";

/** What to run. */
export interface H2loadJob {
  /** The server's base URL (`http://127.0.0.1:port`). */
  url: string;
  /** Paths (with query) each connection requests in turn. */
  paths: readonly string[];
  /** A bearer token sent with every request. */
  token?: string;
  /** Requests per second over all connections. */
  rate: number;
  /** Seconds measured. */
  durationS: number;
  /** Seconds at the same rate before them, not counted; default 2. */
  warmupS?: number;
  /** Connections wanted (the run takes the nearest count at or above that spreads); default 200. */
  clients?: number;
}

/** What one run measured, over the requests sent in the measured window. */
export interface H2loadResult extends HeldRun {
  generator: "h2load";
  rate: number;
  clients: number;
  /** Each connection's time between sends. */
  intervalMs: number;
  /** Answers in the window slower than `intervalMs` (see the module's text); 0: none held back. */
  overInterval: number;
  /** How h2load spaced its sends: the share sent within 20 µs of the one before, the longest gap. */
  sendSteps: { bunchedShare: number; gapMaxMs: number };
}

/** One request of h2load's `--log-file`. */
export interface LoggedRequest {
  /** Send time, µs since the epoch. */
  startUs: number;
  status: number;
  /** µs from the send to the response's end. */
  elapsedUs: number;
}

/** Parses h2load's `--log-file` (tab-separated start µs, status, elapsed µs; more may follow). */
export function parseLog(text: string): LoggedRequest[] {
  const out: LoggedRequest[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const [start, status, elapsed] = line.split("\t");
    const row = { startUs: Number(start), status: Number(status), elapsedUs: Number(elapsed) };
    if (![row.startUs, row.status, row.elapsedUs].every(Number.isFinite)) {
      throw new Error(`h2load log line not understood: ${JSON.stringify(line)}`);
    }
    out.push(row);
  }
  return out;
}

/** Most requests a second one h2load connection sends on time (its timer's 10 ms floor). */
export const MAX_RPS_PER_CLIENT = 100;

/**
 * The smallest client count ≥ `wanted` and ≥ `rate / 100` (a connection's interval no shorter
 * than h2load's 10 ms timer), with a start step of whole milliseconds (client k starts
 * `k × stepMs` after the first), whose start offsets spread evenly modulo the per-client
 * interval `clients / rate`: no gap between neighbouring phases more than twice the even gap
 * `1 / rate` (or than the 1 ms h2load's loop sends in anyway).
 */
export function spreadClients(rate: number, wanted: number): { clients: number; stepMs: number } {
  const allowed = Math.max(2 * 1000 / rate, 1) + 1e-9;
  const least = Math.max(1, Math.round(wanted), Math.ceil(rate / MAX_RPS_PER_CLIENT));
  for (let clients = least; clients < least * 2 + 2; clients++) {
    const intervalMs = clients * 1000 / rate;
    const even = intervalMs / clients;
    for (const stepMs of new Set([Math.max(1, Math.floor(even)), Math.ceil(even)])) {
      const phases = Array.from({ length: clients }, (_, k) => (k * stepMs) % intervalMs)
        .sort((a, b) => a - b);
      let widest = phases[0]! + intervalMs - phases[phases.length - 1]!;
      for (let i = 1; i < phases.length; i++) {
        widest = Math.max(widest, phases[i]! - phases[i - 1]!);
      }
      if (widest <= allowed) return { clients, stepMs };
    }
  }
  throw new Error(`No client count near ${least} spreads ${rate} requests/s`);
}

/**
 * The figures of the requests sent in `[first send + warmupS, + durationS)`.
 */
export function summarize(
  log: readonly LoggedRequest[],
  job: { rate: number; durationS: number; warmupS: number; clients: number },
): Omit<H2loadResult, "generator" | "errors"> {
  const intervalMs = job.clients * 1000 / job.rate;
  const first = log.reduce((min, r) => Math.min(min, r.startUs), Infinity);
  const from = first + job.warmupS * 1e6;
  const to = from + job.durationS * 1e6;
  const inWindow = log.filter((r) => r.startUs >= from && r.startUs < to);
  const latencies = Float64Array.from(inWindow, (r) => r.elapsedUs / 1000).sort();
  const starts = Float64Array.from(inWindow, (r) => r.startUs).sort();
  const gaps = new Float64Array(Math.max(0, starts.length - 1));
  for (let i = 1; i < starts.length; i++) gaps[i - 1] = starts[i]! - starts[i - 1]!;
  const bunched = gaps.filter((g) => g <= 20).length;
  gaps.sort();
  const p = (q: number) => percentile(latencies, q);
  return {
    rate: job.rate,
    clients: job.clients,
    intervalMs,
    scheduled: Math.round(job.rate * job.durationS),
    requests: inWindow.length,
    durationS: job.durationS,
    achievedRps: inWindow.length / job.durationS,
    non2xx: inWindow.filter((r) => r.status < 200 || r.status > 299).length,
    latencyMs: { p50: p(50), p90: p(90), p99: p(99), p999: p(99.9), max: p(100) },
    overInterval: inWindow.filter((r) => r.elapsedUs / 1000 > intervalMs).length,
    sendSteps: {
      bunchedShare: gaps.length === 0 ? 0 : bunched / gaps.length,
      gapMaxMs: percentile(gaps, 100) / 1000,
    },
  };
}

/**
 * h2load's count of requests that errored, from its summary. Its `failed` also counts every
 * answer that is not 2xx or 3xx (`non2xx` counts those from the log) and every errored one
 * again; a timed-out connection's requests count as errored too.
 */
export function erroredCount(output: string): number {
  const m = output.match(/requests: .*?, (\d+) failed, (\d+) errored, (\d+) timeout/);
  if (!m) throw new Error(`h2load printed no summary: ${output.trim().slice(-2000)}`);
  return Number(m[2]);
}

/** Runs h2load pinned to the load core at a held rate; killed if it overruns by 60 s. */
export async function runH2load(job: H2loadJob): Promise<H2loadResult> {
  const warmupS = job.warmupS ?? 2;
  const { clients, stepMs } = spreadClients(job.rate, job.clients ?? 200);
  const perClientRps = job.rate / clients;
  // Every client runs through the window: the last starts `clients × stepMs` after the first.
  const lastStartS = clients * stepMs / 1000;
  const perClient = Math.ceil(perClientRps * (warmupS + job.durationS + lastStartS + 0.5));
  const dir = await Deno.makeTempDir({ prefix: "lotse-h2load-" });
  try {
    const uris = `${dir}/uris.txt`;
    const logFile = `${dir}/requests.log`;
    await Deno.writeTextFile(uris, job.paths.map((p) => new URL(p, job.url).href).join("\n"));
    const child = new Child("h2load", "taskset", [
      "-c",
      LOAD_CPU,
      "h2load",
      "--h1",
      "-c",
      String(clients),
      "-n",
      String(clients * perClient),
      "--rps",
      perClientRps.toFixed(6),
      "-r",
      "1",
      "--rate-period",
      `${stepMs}ms`,
      ...(job.token ? ["-H", `authorization: Bearer ${job.token}`] : []),
      "-i",
      uris,
      "--log-file",
      logFile,
    ]);
    const guard = setTimeout(() => child.stop(), (warmupS + job.durationS + 60) * 1000);
    let status: Deno.CommandStatus;
    try {
      status = await child.process.status;
    } finally {
      clearTimeout(guard);
      await child.stop();
    }
    if (!status.success) {
      throw new Error(`h2load failed (exit ${status.code}): ${child.output.trim().slice(-2000)}`);
    }
    const errors = erroredCount(child.output);
    const summary = summarize(parseLog(await Deno.readTextFile(logFile)), {
      rate: job.rate,
      durationS: job.durationS,
      warmupS,
      clients,
    });
    return { generator: "h2load", ...summary, errors };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
