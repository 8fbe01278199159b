/**
 * The P2 load generator, run as its own process (pinned to the load core by run.ts):
 * autocannon at a given overall rate (or unthrottled, for the regression guard), printing one
 * line `AUTOCANNON_JSON {...}`.
 *
 * autocannon keeps latencies in an integer-millisecond histogram, which cannot tell 0.6 ms
 * from 1.4 ms; so every response's own duration (float ms, from autocannon's `response`
 * event) is kept too and the percentiles, p99.9 included, are computed from those.
 *
 * `deno run -A loadtest/_autocannon.ts <file holding an AutocannonJob as JSON>`
 *
 * @module
 */
import autocannon from "autocannon";
import { percentile, Samples } from "./_samples.ts";
import type { HeldRun } from "./_arrival.ts";

/** What to run; the only argument names a JSON file holding it. */
export interface AutocannonJob {
  url: string;
  paths: string[];
  token?: string;
  /** Requests per second over all connections; absent or 0: as fast as the server answers. */
  rate?: number;
  durationS: number;
  connections: number;
  /** Default GET; a POST sends `body` (JSON unless `headers` say otherwise). */
  method?: "GET" | "POST";
  body?: string;
  headers?: Record<string, string>;
}

/** What a run prints after `AUTOCANNON_JSON `: a held run's figures but the schedule. */
export interface AutocannonResult extends Omit<HeldRun, "scheduled"> {
  timeouts: number;
  /** autocannon's own histogram (whole ms, corrected for coordinated omission). */
  autocannonMs: { p50: number; p99: number; p999: number; max: number };
}

async function main(): Promise<void> {
  const job = JSON.parse(await Deno.readTextFile(Deno.args[0]!)) as AutocannonJob;
  const samples = new Samples();
  let non2xx = 0;
  const { promise, resolve, reject } = Promise.withResolvers<Record<string, unknown>>();
  const instance = autocannon({
    url: job.url,
    connections: job.connections,
    duration: job.durationS,
    ...(job.rate ? { overallRate: job.rate } : {}),
    headers: {
      ...(job.token ? { authorization: `Bearer ${job.token}` } : {}),
      ...(job.body === undefined ? {} : { "content-type": "application/json" }),
      ...job.headers,
    },
    requests: job.paths.map((path) => ({
      method: job.method ?? "GET",
      path,
      ...(job.body === undefined ? {} : { body: job.body }),
    })),
  }, (error: unknown, result: Record<string, unknown>) => error ? reject(error) : resolve(result));
  instance.on("response", (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status < 200 || status > 299) non2xx++;
    samples.push(ms);
  });
  const result = await promise;
  const sorted = samples.sorted();
  const n = sorted.length;
  const latency = result.latency as { p50: number; p99: number; p99_9: number; max: number };
  const printed: AutocannonResult = {
    requests: n,
    durationS: Number(result.duration),
    achievedRps: n / Number(result.duration),
    non2xx,
    errors: Number(result.errors),
    timeouts: Number(result.timeouts),
    latencyMs: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      p999: percentile(sorted, 99.9),
      max: sorted[n - 1] ?? NaN,
    },
    autocannonMs: {
      p50: latency.p50,
      p99: latency.p99,
      p999: latency.p99_9,
      max: latency.max,
    },
  };
  console.log(`AUTOCANNON_JSON ${JSON.stringify(printed)}`);
}

if (import.meta.main) await main();
