/**
 * docs/targets.md P9: the footprint of the embedded default, i.e. `deno task start` exactly as a
 * newcomer runs it (demo data, no `DATABASE_URL`, a fresh data directory), pinned to the
 * server core: time from spawn to `/readyz` 200, and the RSS of its whole process tree (Lotse
 * and the embedded PostgreSQL it runs: watcher, postmaster, its helpers and backends) right
 * after ready and after `idleS` seconds idle, then the same after a restart on that data
 * directory. The sum of RSS counts PostgreSQL's shared buffers once per process that touched
 * them; the tree's PSS beside it shares them out. Reference in the same run: the same task
 * against a PostgreSQL server (`DATABASE_URL`), whose server processes are not counted.
 *
 * @module
 */
import { startCluster } from "../tests/pg.ts";
import {
  Child,
  type Cleanups,
  freePort,
  median,
  SERVER_CPU,
  sleep,
  taskArgs,
  waitFor200,
} from "./_harness.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** One start of `deno task start`. */
export interface FootprintRun {
  readonly readyMs: number;
  readonly rssReadyMiB: number;
  readonly rssIdleMiB: number;
  /** PSS of the whole tree after `idleS` idle. */
  readonly pssIdleMiB: number;
}

/** What {@linkcode footprint} measured. */
export interface FootprintResult {
  readonly idleS: number;
  /** Starts on a fresh data directory. */
  readonly embedded: FootprintRun[];
  /** Starts again on the data directory of the fresh start before. */
  readonly embeddedRestart: FootprintRun[];
  readonly postgres: FootprintRun[];
  readonly embeddedReadyMsMedian: number;
  readonly embeddedRssIdleMiBMedian: number;
  readonly embeddedRestartReadyMsMedian: number;
  readonly embeddedRestartRssIdleMiBMedian: number;
  readonly postgresRssIdleMiBMedian: number;
  /** PSS of the PostgreSQL server's processes (test settings) beside the reference. */
  readonly postgresServerPssMiB: number[];
}

/** RSS in MiB of `pid` and all its descendants (an embedded database may be a child). */
export function treeRssMiB(pid: number): number {
  return treeSum(pid, "status", /VmRSS:\s+(\d+)/);
}

/**
 * PSS in MiB of `pid` and its descendants: PostgreSQL's processes share their buffers, which
 * RSS would count once per process.
 */
export function treePssMiB(pid: number): number {
  return treeSum(pid, "smaps_rollup", /Pss:\s+(\d+)/);
}

function treeSum(pid: number, file: string, pattern: RegExp): number {
  const parents = new Map<number, number>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parents.set(Number(entry.name), Number(fields[1]));
    } catch { /* gone */ }
  }
  const tree = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [child, parent] of parents) {
      if (tree.has(parent) && !tree.has(child)) {
        tree.add(child);
        grew = true;
      }
    }
  }
  let kib = 0;
  for (const p of tree) {
    try {
      kib += Number(pattern.exec(Deno.readTextFileSync(`/proc/${p}/${file}`))?.[1] ?? 0);
    } catch { /* gone */ }
  }
  return kib / 1024;
}

async function once(
  env: Record<string, string>,
  idleS: number,
  cleanups: Cleanups,
  dataDir?: string,
): Promise<FootprintRun & { dataDir: string }> {
  const port = freePort();
  if (dataDir === undefined) {
    const dir = await Deno.makeTempDir({ prefix: "lotse-bench-footprint-" });
    // As root, the embedded PostgreSQL runs as an unprivileged user, who must reach its data.
    await Deno.chmod(dir, 0o755);
    cleanups.push(() => Deno.remove(dir, { recursive: true }).catch(() => {}));
    dataDir = dir;
  }
  const since = performance.now();
  const child = new Child("lotse start", "taskset", [
    "-c",
    SERVER_CPU,
    Deno.execPath(),
    ...taskArgs("start"),
  ], {
    cwd: ROOT,
    env: {
      LOTSE_PORT: String(port),
      LOTSE_DEMO_PROVIDER_PORT: String(freePort()),
      LOTSE_DATA_DIR: dataDir,
      // Required beside DATABASE_URL (every instance on a database shares the issuer).
      ...(env.DATABASE_URL ? { LOTSE_PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
      ...env,
    },
  });
  try {
    const readyMs = await waitFor200(`http://127.0.0.1:${port}/readyz`, {
      since,
      child,
      timeoutMs: 120_000,
    });
    const rssReadyMiB = treeRssMiB(child.pid);
    await sleep(idleS * 1000);
    return {
      readyMs,
      rssReadyMiB,
      rssIdleMiB: treeRssMiB(child.pid),
      pssIdleMiB: treePssMiB(child.pid),
      dataDir,
    };
  } finally {
    // SIGTERM: Lotse stops its embedded server before it exits.
    await child.stop(30_000);
  }
}

/**
 * Starts the embedded default `runs` times (a fresh data directory each, then once more on
 * it) and the reference.
 */
export async function footprint(
  options: { runs?: number; idleS?: number },
  cleanups: Cleanups,
): Promise<FootprintResult> {
  const runs = options.runs ?? 3;
  const idleS = options.idleS ?? 60;
  const cluster = await startCluster();
  cleanups.push(() => cluster.destroy());
  const embedded: FootprintRun[] = [];
  const embeddedRestart: FootprintRun[] = [];
  const postgres: FootprintRun[] = [];
  const postgresServerPssMiB: number[] = [];
  const postmaster = async () =>
    Number((await Deno.readTextFile(`${cluster.dataDir}/postmaster.pid`)).split("\n")[0]);
  for (let i = 0; i < runs; i++) {
    const { dataDir, ...fresh } = await once({}, idleS, cleanups);
    embedded.push(fresh);
    const { dataDir: _, ...again } = await once({}, idleS, cleanups, dataDir);
    embeddedRestart.push(again);
    const { dataDir: __, ...reference } = await once(
      {
        DATABASE_URL: cluster.url,
        LOTSE_KEY_SECRET: "bench-key-secret-of-at-least-32-characters",
        LOTSE_PROTOCOL_KEY: "bench-protocol-key-of-at-least-32-chars",
      },
      idleS,
      cleanups,
    );
    postgres.push(reference);
    postgresServerPssMiB.push(treePssMiB(await postmaster()));
  }
  return {
    idleS,
    embedded,
    embeddedRestart,
    postgres,
    embeddedReadyMsMedian: median(embedded.map((r) => r.readyMs)),
    embeddedRssIdleMiBMedian: median(embedded.map((r) => r.rssIdleMiB)),
    embeddedRestartReadyMsMedian: median(embeddedRestart.map((r) => r.readyMs)),
    embeddedRestartRssIdleMiBMedian: median(embeddedRestart.map((r) => r.rssIdleMiB)),
    postgresRssIdleMiBMedian: median(postgres.map((r) => r.rssIdleMiB)),
    postgresServerPssMiB,
  };
}
