/**
 * The pieces every load-test scenario needs: a throwaway PostgreSQL cluster holding the
 * full-scale tables plus the demo clients and permissions, Lotse and the reference servers
 * as child processes pinned to core 0, access tokens, and a stack of clean-ups that runs on
 * success and on failure alike.
 *
 * @module
 */
import { fetchDemoToken } from "../tools/demo_client.ts";
import { type Cluster, startCluster } from "../tests/pg.ts";
import { connectPostgres } from "../db/postgres.ts";
import { migrate } from "../db/migrate.ts";
import { demoPermissionsFor, type GeneratedTables, generateTables } from "../tools/generate.ts";
import { DEMO_CLIENTS } from "../demo/clients.ts";
import { seedTables } from "../db/seed.ts";
import type { Db } from "../db/types.ts";

/** Core the servers under test run on. */
export const SERVER_CPU = "0";
/** Core the load generators run on. */
export const LOAD_CPU = "1";

const ROOT = new URL("../", import.meta.url).pathname;

/** Whether `cmd` is an executable file on `PATH`. */
export function installed(cmd: string): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${cmd}`).isFile) return true;
    } catch { /* not here */ }
  }
  return false;
}

/**
 * Whether processes can be pinned to a core (`taskset`, util-linux). Without it (a bare
 * container) every benchmark runs unpinned: the regression guard's CPU-time ratios still hold,
 * the req/s figures of BENCHMARKS.md would not be comparable.
 */
export const CAN_PIN = installed("taskset");
let unpinnedNoted = false;

/**
 * `taskset -c <cpu> <cmd> <args…>` as a command and its arguments; just the command where
 * `taskset` is not installed (said once on standard error).
 */
export function pinned(cpu: string, cmd: string, args: readonly string[]): [string, string[]] {
  if (CAN_PIN) return ["taskset", ["-c", cpu, cmd, ...args]];
  if (!unpinnedNoted) console.error("taskset is not installed: processes run unpinned");
  unpinnedNoted = true;
  return [cmd, [...args]];
}

/** Clean-ups, run last-in first-out; errors are reported, not thrown. */
export class Cleanups {
  readonly #stack: (() => Promise<void> | void)[] = [];

  push(fn: () => Promise<void> | void): void {
    this.#stack.push(fn);
  }

  async run(): Promise<void> {
    while (this.#stack.length > 0) {
      const fn = this.#stack.pop()!;
      try {
        await fn();
      } catch (error) {
        console.error("Clean-up failed:", error);
      }
    }
  }

  /**
   * On SIGINT or SIGTERM (Ctrl+C, a cancelled CI job): runs the clean-ups (servers, PostgreSQL
   * clusters) and exits with 130. Returns what removes the handlers again.
   */
  runOnSignals(): () => void {
    const stop = () => {
      this.run().finally(() => Deno.exit(130));
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    return () => {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
    };
  }
}

/** A free loopback port. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const OUTPUT_BYTES = 65536;

/** The last `bytes` of a file, decoded; "" when it does not exist yet. */
function tailOf(path: string, bytes: number): string {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "";
    throw error;
  }
  try {
    const size = file.statSync().size;
    const buffer = new Uint8Array(Math.min(size, bytes));
    file.seekSync(size - buffer.length, Deno.SeekMode.Start);
    let at = 0;
    while (at < buffer.length) {
      const n = file.readSync(buffer.subarray(at));
      if (n === null) break;
      at += n;
    }
    return new TextDecoder().decode(buffer.subarray(0, at));
  } finally {
    file.close();
  }
}

/** A child process whose output is drained (kept, last 64 KiB) so it never blocks on a pipe. */
export class Child {
  readonly process: Deno.ChildProcess;
  readonly name: string;
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #drained: Promise<void>;
  #out: Deno.FsFile | null;
  #direct: string | null;

  constructor(
    name: string,
    cmd: string,
    args: string[],
    options: {
      env?: Record<string, string>;
      cwd?: string;
      /** A file that gets everything the process writes to standard output and error too. */
      outFile?: string;
      /**
       * With `outFile`: the process writes to the file itself, through no pipe, so no reader
       * of its output runs beside the measured processes (`output` then reads the file's end).
       */
      direct?: boolean;
    } = {},
  ) {
    this.name = name;
    if (cmd === "taskset" && args[0] === "-c" && !CAN_PIN) {
      [cmd, args] = pinned("", args[2]!, args.slice(3));
    }
    this.#direct = options.direct && options.outFile ? options.outFile : null;
    this.#out = options.outFile && !this.#direct
      ? Deno.openSync(options.outFile, { write: true, create: true, truncate: true })
      : null;
    // `sh -c 'exec "$@" >file 2>&1'`: the shell opens the file and becomes the command, so the
    // pid stays the command's (its CPU and scheduling are read through /proc/<pid>).
    this.process = this.#direct
      ? new Deno.Command("sh", {
        args: ["-c", 'exec "$@" >"$0" 2>&1', this.#direct, cmd, ...args],
        env: options.env,
        cwd: options.cwd,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn()
      : new Deno.Command(cmd, {
        args,
        env: options.env,
        cwd: options.cwd,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    this.#drained = this.#direct ? this.process.status.then(() => {}) : Promise.all([
      this.#drain(this.process.stdout),
      this.#drain(this.process.stderr),
    ]).then(() => this.#out?.close());
  }

  // The last chunks, decoded only when read: a server under load writes thousands of log
  // chunks a second, and decoding and re-slicing 64 KiB for each took CPU from the machine
  // that the measured processes share.
  async #drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const chunk of stream) {
      this.#out?.writeSync(chunk);
      this.#chunks.push(chunk);
      this.#bytes += chunk.length;
      while (this.#bytes - this.#chunks[0]!.length >= OUTPUT_BYTES) {
        this.#bytes -= this.#chunks.shift()!.length;
      }
    }
  }

  /** The last ~64 KiB the process wrote to standard output and error. */
  get output(): string {
    if (this.#direct) return tailOf(this.#direct, OUTPUT_BYTES);
    const bytes = new Uint8Array(this.#bytes);
    let at = 0;
    for (const chunk of this.#chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    return new TextDecoder().decode(bytes).slice(-OUTPUT_BYTES);
  }

  get pid(): number {
    return this.process.pid;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  async stop(graceMs = 3000): Promise<void> {
    const status = this.process.status;
    try {
      this.process.kill("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        this.process.kill("SIGKILL");
      } catch { /* already gone */ }
    }, graceMs);
    await status;
    clearTimeout(timer);
    await this.#drained;
  }
}

/** Whether `child` has exited, without waiting for it. */
async function exited(child: Child): Promise<boolean> {
  return await Promise.race([child.process.status.then(() => true), sleep(0).then(() => false)]);
}

/** Waits until `child` has written `text` (to standard output or error); throws if it exits first. */
export async function waitForOutput(child: Child, text: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!child.output.includes(text)) {
    if (await exited(child)) {
      throw new Error(`Process "${child.name}" exited early: ${child.output}`);
    }
    if (performance.now() > deadline) throw new Error(`"${child.name}" wrote no "${text}"`);
    await sleep(10);
  }
}

/** Polls `url` until it answers 200; returns the time it took, in ms from `since`. */
export async function waitFor200(
  url: string,
  options: { since?: number; timeoutMs?: number; intervalMs?: number; child?: Child } = {},
): Promise<number> {
  const since = options.since ?? performance.now();
  const deadline = since + (options.timeoutMs ?? 60_000);
  while (performance.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 200) return performance.now() - since;
    } catch { /* not listening yet */ }
    if (options.child && await exited(options.child)) {
      throw new Error(`Process "${options.child!.name}" exited early: ${options.child!.output}`);
    }
    await sleep(options.intervalMs ?? 5);
  }
  throw new Error(
    `Timed out waiting for ${url}${options.child ? `: ${options.child.output}` : ""}`,
  );
}

/** A database cluster holding the full-scale tables and the demo clients. */
export interface BenchDatabase {
  readonly cluster: Cluster;
  readonly url: string;
  readonly db: Db;
  readonly tables: GeneratedTables;
  readonly seedMs: number;
}

/**
 * Starts a cluster, migrates and seeds it (`routes: false`: every table but the routes);
 * registers its removal in `cleanups`. `durable`: PostgreSQL's own durability settings (fsync,
 * synchronous_commit) instead of the test clusters' fast ones.
 */
export async function startBenchDatabase(
  cleanups: Cleanups,
  options: { minRoutes?: number; routes?: boolean; durable?: boolean } = {},
): Promise<BenchDatabase> {
  const cluster = await startCluster({ durable: options.durable });
  cleanups.push(() => cluster.destroy());
  const db = await connectPostgres(cluster.url, { max: 2 });
  cleanups.push(() => db.close());
  await migrate(db);
  const tables = generateTables({ seed: 1, minRoutes: options.minRoutes });
  const t = performance.now();
  await seedTables(db, {
    regions: tables.regions,
    postcodes: tables.postcodes,
    evidenceTypes: tables.evidenceTypes,
    providers: tables.providers,
    // Without routes for a first import into an empty table (loadtest/full_scale.ts).
    routes: options.routes === false ? [] : tables.routes,
    clients: DEMO_CLIENTS,
    // The generated tables hold the evidence types and providers of the navigation pilots,
    // not every demo register (the IDA's, say): only the permissions they can satisfy.
    permissions: demoPermissionsFor(tables),
  }, { replace: true });
  const seedMs = performance.now() - t;
  // Fresh statistics, so the first start does not pay for autovacuum's catching up.
  await db.sql`vacuum analyze`.catch(() => db.sql`analyze`);
  return { cluster, url: cluster.url, db, tables, seedMs };
}

/**
 * Moves a cluster's server, every process it has started and every backend it will start to
 * `cpu` (`taskset -a -p`; a backend inherits the postmaster's affinity). `LOTSE_BENCH_DB_CPU`
 * overrides `cpu`; `none` leaves the cluster where the scheduler puts it. Returns where it went.
 */
export async function pinCluster(cluster: Cluster, cpu: string): Promise<string> {
  const to = Deno.env.get("LOTSE_BENCH_DB_CPU") || cpu;
  if (to === "none") return "unpinned";
  if (!CAN_PIN) return "unpinned (no taskset)";
  const [postmaster, ...pids] = (await clusterPids(cluster)).map(String);
  for (const pid of [postmaster!, ...pids]) {
    const out = await new Deno.Command("taskset", { args: ["-a", "-cp", to, pid], stdout: "null" })
      .output();
    // A child may have ended between pgrep and taskset; the postmaster must not.
    if (!out.success && pid === postmaster) throw new Error(`Cannot pin PostgreSQL to CPU ${to}`);
  }
  return `CPU ${to}`;
}

/** A cluster's server process first, then every process it has started (its backends). */
export async function clusterPids(cluster: Cluster): Promise<number[]> {
  const text = await Deno.readTextFile(`${cluster.dataDir}/postmaster.pid`);
  const postmaster = text.split("\n")[0]!.trim();
  const children = await new Deno.Command("pgrep", { args: ["-P", postmaster], stdout: "piped" })
    .output();
  return [postmaster, ...new TextDecoder().decode(children.stdout).split(/\s+/)]
    .filter((pid) => /^\d+$/.test(pid)).map(Number);
}

/** Nanoseconds thread `tid` of `pid` has run on a CPU and waited, runnable, for one. */
export function threadTimes(pid: number, tid: number): { run: number; wait: number } {
  const [run, wait] = Deno.readTextFileSync(`/proc/${pid}/task/${tid}/schedstat`).split(" ");
  return { run: Number(run), wait: Number(wait) };
}

/** Nanoseconds each process has run and waited, runnable, for a CPU (see {@linkcode schedTimes}). */
export type SchedSnapshot = Map<number, { run: number; wait: number }>;

/**
 * How long each process (all its threads) has run on a CPU and how long it has waited for one
 * while runnable, so far (Linux `/proc/<pid>/task/<tid>/schedstat`, in ns). A process that waits
 * runnable is delayed by whatever shares its core; `schedDelta` turns two snapshots into
 * seconds. A process that has ended is left out.
 */
export function schedTimes(pids: readonly number[]): SchedSnapshot {
  const out: SchedSnapshot = new Map();
  for (const pid of pids) {
    let run = 0, wait = 0;
    try {
      for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
        try {
          const times = threadTimes(pid, Number(task.name));
          run += times.run;
          wait += times.wait;
        } catch { /* the thread ended */ }
      }
    } catch {
      continue; // the process ended
    }
    out.set(pid, { run, wait });
  }
  return out;
}

/**
 * Seconds run and waited for a CPU between two {@linkcode schedTimes} snapshots, summed over
 * the processes in `after` (one that started between them counts from its start).
 */
export function schedDelta(before: SchedSnapshot, after: SchedSnapshot) {
  let runS = 0, waitS = 0;
  for (const [pid, a] of after) {
    const b = before.get(pid) ?? { run: 0, wait: 0 };
    runS += (a.run - b.run) / 1e9;
    waitS += (a.wait - b.wait) / 1e9;
  }
  return { runS, waitS };
}

/** A running Lotse child process. */
export interface LotseProcess {
  readonly child: Child;
  readonly url: string;
  readonly port: number;
  /** Milliseconds from spawn until `/readyz` answered 200. */
  readonly readyMs: number;
}

export const ADMIN_TOKEN = "bench-admin-token-of-at-least-32-characters";

/**
 * The `deno run …` arguments of a task in deno.json (`serve` or `start`), so the benchmarks
 * run exactly the process an operator starts, with its permission flags, not `deno run -A`.
 * Extra Deno flags go before the script; `root` is the checkout (default this one).
 */
export function taskArgs(
  task: "serve" | "start",
  denoFlags: readonly string[] = [],
  root = ROOT,
): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${root}deno.json`));
  const words = String(config.tasks?.[task] ?? "").split(/\s+/).filter(Boolean);
  const script = words.findIndex((w) => w.endsWith(".ts"));
  if (words[0] !== "deno" || words[1] !== "run" || script < 0) {
    throw new Error(`Cannot read task "${task}" from deno.json: expected "deno run … <file>.ts"`);
  }
  return [
    "run",
    ...words.slice(2, script),
    ...denoFlags,
    `${root}${words[script]}`,
    ...words.slice(script + 1),
  ];
}

/**
 * Spawns Lotse as `deno task serve` runs it, pinned to {@linkcode SERVER_CPU}, and waits
 * until `/readyz` is 200.
 */
export async function startLotseProcess(
  cleanups: Cleanups,
  databaseUrl: string,
  options: {
    dataDir?: string;
    env?: Record<string, string>;
    /** Extra flags for `deno run`, e.g. `--v8-flags=--prof`. */
    denoFlags?: string[];
    /** The checkout whose `deno task serve` runs; default this one. */
    cwd?: string;
    /** A file that gets the process's output too (its log lines, a `--trace-gc`). */
    outFile?: string;
    /**
     * With `outFile`: Lotse writes to it itself, through no pipe that this runner would read on
     * the load core beside the generator (see `Child`; default). `false`: through the pipe.
     */
    direct?: boolean;
  } = {},
): Promise<LotseProcess> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "lotse-bench-" });
  if (!options.dataDir) cleanups.push(() => Deno.remove(dataDir, { recursive: true }));
  const since = performance.now();
  const child = new Child("lotse", "taskset", [
    "-c",
    SERVER_CPU,
    Deno.execPath(),
    ...taskArgs("serve", options.denoFlags, options.cwd ? `${options.cwd}/` : ROOT),
  ], {
    cwd: options.cwd ?? ROOT,
    ...(options.outFile ? { outFile: options.outFile, direct: options.direct ?? true } : {}),
    env: {
      DATABASE_URL: databaseUrl,
      LOTSE_PORT: String(port),
      LOTSE_PUBLIC_URL: url,
      LOTSE_DATA_DIR: dataDir,
      LOTSE_KEY_SECRET: "bench-key-secret-of-at-least-32-characters",
      LOTSE_PROTOCOL_KEY: "bench-protocol-key-of-at-least-32-chars",
      LOTSE_ADMIN_TOKEN: ADMIN_TOKEN,
      // The load comes from one address and one client, far past a production quota; the
      // limiter stays on (its cost is part of every figure) with quotas it never reaches.
      LOTSE_RATE_LIMIT_ADDRESS: "1000000000",
      LOTSE_RATE_LIMIT_CLIENT: "1000000000",
      LOTSE_RATE_LIMIT_TOKEN: "1000000000",
      ...options.env,
    },
  });
  cleanups.push(() => child.stop());
  const readyMs = await waitFor200(`${url}/readyz`, { since, child, timeoutMs: 120_000 });
  return { child, url, port, readyMs };
}

/** Starts loadtest/bare_server.ts (plain or through Hono) pinned to core 0. */
export async function startReference(
  cleanups: Cleanups,
  kind: "bare" | "hono" | "shaped" | "shaped-authorization",
): Promise<{ url: string; child: Child }> {
  const port = freePort();
  const child = new Child(kind, "taskset", [
    "-c",
    SERVER_CPU,
    Deno.execPath(),
    "run",
    `--allow-net=127.0.0.1:${port}`,
    `${ROOT}loadtest/bare_server.ts`,
    String(port),
    ...(kind === "bare" ? [] : [`--${kind}`]),
  ]);
  cleanups.push(() => child.stop());
  const url = `http://127.0.0.1:${port}`;
  await waitFor200(`${url}/`, { child, timeoutMs: 30_000 });
  return { url, child };
}

/** Gets an access token for a demo client, the way a real consumer does. */
export function demoToken(lotseUrl: string, clientId = "stuttgart-bewohnerparken") {
  return fetchDemoToken(lotseUrl, clientId);
}

/**
 * CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat`. CPU time
 * per request drifts far less than req/s on a shared machine. Clock ticks are taken as
 * 100 Hz (USER_HZ on Linux).
 */
export function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces; count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * How often a process's threads were taken off the CPU against their will so far (Linux
 * `nonvoluntary_ctxt_switches`, summed over `/proc/<pid>/task/*`): another runnable thread or
 * process on its core. A request arriving then waits for the core.
 */
export function preemptions(pid: number): number {
  let sum = 0;
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const status = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/status`);
      sum += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch { /* the thread ended */ }
  }
  return sum;
}

/** Write system calls a process has made so far (Linux `/proc/<pid>/io`, `syscw`): sockets and logs. */
export function writeCalls(pid: number): number {
  return Number(/^syscw:\s+(\d+)/m.exec(Deno.readTextFileSync(`/proc/${pid}/io`))?.[1] ?? NaN);
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The machine's 1-minute load average, to note noise beside a figure. */
export async function loadAverage(): Promise<number | null> {
  try {
    return Number((await Deno.readTextFile("/proc/loadavg")).split(" ")[0]);
  } catch {
    return null;
  }
}

/** Waits until something accepts connections on the loopback `port`. */
export async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await sleep(20);
    }
  }
  throw new Error(`Nothing listens on port ${port}`);
}

// nginx's worker (the master only forks it): the process whose CPU time counts.
async function childPid(parent: number): Promise<number> {
  for (let i = 0; i < 500; i++) {
    const out = await new Deno.Command("pgrep", { args: ["-P", String(parent)], stdout: "piped" })
      .output();
    const pid = Number(new TextDecoder().decode(out.stdout).trim().split("\n")[0]);
    if (pid > 0) return pid;
    await sleep(10);
  }
  throw new Error(`Process ${parent} has no child`);
}

const NGINX = Deno.env.get("NGINX") ?? "/usr/sbin/nginx";

/**
 * Starts nginx with `config` (written to `<dir>/nginx.conf`, prefix `dir`) on `cpu`, waits until
 * it listens on `port`, and returns its worker's pid (the process whose CPU time counts);
 * stopped through `cleanups`.
 */
export async function runNginx(
  cleanups: Cleanups,
  options: { name: string; dir: string; config: string; port: number; cpu: string },
): Promise<number> {
  await Deno.writeTextFile(`${options.dir}/nginx.conf`, options.config);
  const nginx = new Child(options.name, "taskset", [
    "-c",
    options.cpu,
    NGINX,
    "-c",
    `${options.dir}/nginx.conf`,
    "-p",
    options.dir,
  ]);
  cleanups.push(() => nginx.stop());
  await waitForPort(options.port);
  return await childPid(nginx.pid);
}

/** One answer of a watched navigation: when it was asked (this process's clock), how long it took. */
export interface NavigationAnswer {
  readonly asked: number;
  readonly ms: number;
  /** The HTTP status, or 0 when no answer came (refused, reset, none within 20 s). */
  readonly status: number;
}

/** A failed answer: a 5xx, or none. (A 404 is an answer: a route an import has yet to bring.) */
export function failedAnswer(answer: NavigationAnswer): boolean {
  return answer.status === 0 || answer.status >= 500;
}

/**
 * `url` asked with `token` over and over from a process of its own on the load core
 * (loadtest/_nav_watch.ts), from when this resolves until `stop()`, which gives every answer.
 * Not from the runner: loadtest/full_scale.ts sends a million routes' import body and holds the
 * routes, and its own pauses (collections, the body's encoding) would count as the server's.
 */
export async function watchNavigation(
  cleanups: Cleanups,
  url: string,
  token: string,
): Promise<{ stop(): Promise<NavigationAnswer[]> }> {
  const file = await Deno.makeTempFile({ prefix: "lotse-nav-watch-", suffix: ".json" });
  cleanups.push(() => Deno.remove(file).catch(() => {}));
  const watcher = new Child("navigation watcher", "taskset", [
    "-c",
    LOAD_CPU,
    Deno.execPath(),
    "run",
    "--allow-net",
    `--allow-write=${file}`,
    new URL("_nav_watch.ts", import.meta.url).pathname,
    url,
    token,
    file,
  ]);
  cleanups.push(() => watcher.stop());
  await waitForOutput(watcher, "ready");
  return {
    async stop(): Promise<NavigationAnswer[]> {
      // The request under way ends within the watcher's answer timeout (20 s); past that it is
      // killed, writes nothing, and the run fails instead of hanging.
      await watcher.stop(30_000);
      const text = await Deno.readTextFile(file);
      if (text === "") throw new Error(`The navigation watcher failed: ${watcher.output}`);
      return (JSON.parse(text) as [number, number, number][]).map(([asked, ms, status]) => ({
        asked: asked - performance.timeOrigin,
        ms,
        status,
      }));
    },
  };
}
