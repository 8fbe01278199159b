/**
 * Runs `wrk` pinned to the load core with loadtest/wrk/requests.lua and reads the JSON line
 * that script prints at the end.
 *
 * @module
 */
import { Child, cpuSeconds, LOAD_CPU, SERVER_CPU } from "./_harness.ts";

const SCRIPT = new URL("./wrk/requests.lua", import.meta.url).pathname;

/** Options for {@linkcode runWrk}. */
export interface WrkOptions {
  /** Paths (with query) to rotate through; default just `/`. */
  paths?: readonly string[];
  token?: string;
  method?: "GET" | "POST";
  body?: string;
  /** The body's Content-Type; default `application/json`. */
  contentType?: string;
  /** Further request headers (ASCII or Latin-1 values). */
  headers?: Readonly<Record<string, string>>;
  durationS: number;
  /** Default 50. */
  connections?: number;
  /** Default 1. */
  threads?: number;
  /** The server's pid: its CPU time during the run is reported per request. */
  serverPid?: number;
  /**
   * Further processes on the load core (a benchmark register, …) by name: their CPU time per
   * request is reported too, with how busy each core was (`/proc/stat`), so a run shows
   * whether the load core set the rate.
   */
  loadPids?: Readonly<Record<string, number>>;
}

/** What one wrk run measured. */
export interface WrkResult {
  readonly rps: number;
  readonly requests: number;
  readonly durationS: number;
  /** Socket errors plus responses with status ≥ 400 (wrk counts those as `status` errors). */
  readonly failures: number;
  readonly errors: {
    connect: number;
    read: number;
    write: number;
    status: number;
    timeout: number;
  };
  readonly latencyMs: {
    mean: number;
    p50: number;
    p90: number;
    p99: number;
    p999: number;
    max: number;
  };
  /** The server's CPU time per request (µs) and its share of one core, with `serverPid`. */
  readonly serverCpu: { usPerRequest: number; coreShare: number } | null;
  /**
   * With `loadPids`: CPU per request and core share of each named process, and
   * the busy share of the server's and the load core over the run (any process on them).
   */
  readonly loadCpu: {
    readonly processes: Readonly<Record<string, { usPerRequest: number; coreShare: number }>>;
    readonly coreBusy: { readonly server: number; readonly load: number };
  } | null;
}

/** Busy and total jiffies of one core (`/proc/stat`; idle and iowait are not busy). */
function coreTimes(cpu: string): { busy: number; total: number } {
  const line = Deno.readTextFileSync("/proc/stat").split("\n").find((l) =>
    l.startsWith(`cpu${cpu} `)
  );
  const f = (line ?? "").trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
}

/** Runs wrk against `base` and resolves to its figures; killed if it overruns by 30 s. */
export async function runWrk(base: string, options: WrkOptions): Promise<WrkResult> {
  const pathsFile = await Deno.makeTempFile({ prefix: "lotse-wrk-", suffix: ".txt" });
  try {
    await Deno.writeTextFile(pathsFile, (options.paths ?? ["/"]).join("\n") + "\n");
    const child = new Child("wrk", "taskset", [
      "-c",
      LOAD_CPU,
      "wrk",
      `-t${options.threads ?? 1}`,
      `-c${options.connections ?? 50}`,
      `-d${options.durationS}s`,
      "--timeout",
      "5s",
      "-s",
      SCRIPT,
      base,
    ], {
      env: {
        LOTSE_PATHS: pathsFile,
        LOTSE_TOKEN: options.token ?? "",
        LOTSE_METHOD: options.method ?? "GET",
        LOTSE_BODY: options.body ?? "",
        LOTSE_CONTENT_TYPE: options.contentType ?? "",
        LOTSE_HEADERS: Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`)
          .join("\n"),
      },
    });
    const cpuBefore = options.serverPid ? cpuSeconds(options.serverPid) : 0;
    const loadPids = options.loadPids ?? null;
    const loadBefore = loadPids ? Object.values(loadPids).map(cpuSeconds) : [];
    const coresBefore = [coreTimes(SERVER_CPU), coreTimes(LOAD_CPU)];
    const guard = setTimeout(() => child.stop(), (options.durationS + 30) * 1000);
    const status = await child.process.status;
    const cpu = options.serverPid ? cpuSeconds(options.serverPid) - cpuBefore : null;
    const loadAfter = loadPids ? Object.values(loadPids).map(cpuSeconds) : [];
    const coresAfter = [coreTimes(SERVER_CPU), coreTimes(LOAD_CPU)];
    clearTimeout(guard);
    await child.stop();
    const line = child.output.split("\n").find((l) => l.startsWith("WRK_JSON "));
    if (!status.success || !line) {
      throw new Error(`wrk failed (exit ${status.code}): ${child.output.trim()}`);
    }
    const raw = JSON.parse(line.slice("WRK_JSON ".length));
    const e = raw.errors;
    const us = raw.latencyUs;
    const durationS = raw.durationUs / 1e6;
    return {
      rps: raw.requests / durationS,
      requests: raw.requests,
      durationS,
      failures: e.connect + e.read + e.write + e.status + e.timeout,
      errors: e,
      latencyMs: {
        mean: us.mean / 1000,
        p50: us.p50 / 1000,
        p90: us.p90 / 1000,
        p99: us.p99 / 1000,
        p999: us.p999 / 1000,
        max: us.max / 1000,
      },
      serverCpu: cpu === null ? null : {
        usPerRequest: (cpu / raw.requests) * 1e6,
        coreShare: cpu / durationS,
      },
      loadCpu: loadPids === null ? null : {
        processes: Object.fromEntries(
          Object.keys(loadPids).map((name, i) => {
            const seconds = loadAfter[i]! - loadBefore[i]!;
            return [name, {
              usPerRequest: (seconds / raw.requests) * 1e6,
              coreShare: seconds / durationS,
            }];
          }),
        ),
        coreBusy: {
          server: busyShare(coresBefore[0]!, coresAfter[0]!),
          load: busyShare(coresBefore[1]!, coresAfter[1]!),
        },
      },
    };
  } finally {
    await Deno.remove(pathsFile).catch(() => {});
  }
}

function busyShare(
  before: { busy: number; total: number },
  after: { busy: number; total: number },
): number {
  return after.total === before.total
    ? 0
    : (after.busy - before.busy) / (after.total - before.total);
}
