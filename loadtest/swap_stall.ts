/**
 * Navigation across a whole-table swap (issue 14's "no navigation stall"): one Lotse on a
 * PostgreSQL holding `--routes` routes, navigation asked back to back over one keep-alive
 * connection from core 1, and a reload of the routes table forced the way a refresh that reads
 * the table whole comes about (its version bumped with no row noted in the change log, then
 * `NOTIFY`). Prints, per run, the slowest answer in the `--after` ms after the bump (the COPY,
 * the snapshot's build, the swap and what follows it) beside the slowest before it, the five
 * slowest with when they were asked, how long the refresh took until the swap, the server's
 * CPU and its time waiting for a CPU in the window (the machine's share of a stall), and its
 * RSS each second until `--rss-after` ms.
 *
 * ```sh
 * deno run -A loadtest/swap_stall.ts [--routes 1000000] [--runs 2] [--after 8000] \
 *   [--rss-after 20000] [--checkout DIR[,DIR…]] [--database-url postgres://…]
 * ```
 *
 * `--checkout` takes checkouts whose `deno task serve` runs, alternating run by run (an A/B
 * against main: `--checkout .,/tmp/main` with `git worktree add /tmp/main main`). Each run
 * starts a new instance and waits 35 s before the bump: past the start's table snapshot
 * write and its 30 s interval, so the swap's own write is part of the window.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  Cleanups,
  cpuSeconds,
  demoToken,
  loadAverage,
  sleep,
  startBenchDatabase,
  startLotseProcess,
} from "./_harness.ts";
import { connectPostgres } from "../db/postgres.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    routes: { type: "string", default: "1000000" },
    runs: { type: "string", default: "2" },
    after: { type: "string", default: "8000" },
    "rss-after": { type: "string", default: "20000" },
    checkout: { type: "string", default: "." },
  },
});
const routes = Number(values.routes);
const runs = Number(values.runs);
const afterMs = Number(values.after);
const rssAfterMs = Number(values["rss-after"]);
const checkouts = values.checkout.split(",").map((d) =>
  new URL(d.endsWith("/") ? d : `${d}/`, `file://${Deno.cwd()}/`).pathname
);

const cpuMs = (pid: number) => Math.round(cpuSeconds(pid) * 1000);

/** Time the main thread spent runnable but waiting for a CPU (the machine's share). */
function runQueueMs(pid: number): number {
  return Number(Deno.readTextFileSync(`/proc/${pid}/task/${pid}/schedstat`).split(" ")[1]) / 1e6;
}

/** Seconds the instance's refreshes took so far, from its metrics. */
async function refreshSeconds(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("lotse_tables_refresh_seconds_total "));
  return line ? Number(line.split(" ")[1]) : 0;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
  return Math.round(Number(m![1]) / 1024);
}

const round1 = (x: number) => Math.round(x * 10) / 10;

async function one(databaseUrl: string, root: string): Promise<Record<string, unknown>> {
  const cleanups = new Cleanups();
  try {
    const { child, url } = await startLotseProcess(cleanups, databaseUrl, {
      cwd: root.replace(/\/$/, ""),
      env: { LOTSE_LOG_LEVEL: "warn" },
    });
    const token = await demoToken(url);
    const db = await connectPostgres(databaseUrl, { max: 1 });
    cleanups.push(() => db.close());
    const [route] = await db.sql<{ evidenceType: string; regionKey: string }>`
      select evidence_type as "evidenceType", region_key as "regionKey" from routes
      where length(region_key) = 8 limit 1`;
    const nav = `${url}/v1/navigation?evidenceType=${route!.evidenceType}&ags=${route!.regionKey}`;
    await sleep(35_000);
    const rssBefore = rssMiB(child.pid);
    const asked: [number, number][] = [];
    let running = true;
    const loop = (async () => {
      while (running) {
        const at = performance.now();
        const res = await fetch(nav, { headers: { authorization: `Bearer ${token}` } });
        await res.arrayBuffer();
        asked.push([at, performance.now() - at]);
      }
    })();
    await sleep(2000);
    const refreshed0 = await refreshSeconds(url);
    const cpu0 = cpuMs(child.pid);
    const queue0 = runQueueMs(child.pid);
    const bump = performance.now();
    await db.sql`update table_versions set version = version + 1 where name = 'routes'`;
    await db.sql`select pg_notify('lotse_tables', 'routes')`;
    await sleep(afterMs);
    running = false;
    await loop;
    const cpu = cpuMs(child.pid) - cpu0;
    const queued = runQueueMs(child.pid) - queue0;
    const refreshMs = Math.round((await refreshSeconds(url) - refreshed0) * 1000);
    const rss: number[] = [];
    while (performance.now() - bump < rssAfterMs) {
      rss.push(rssMiB(child.pid));
      await sleep(1000);
    }
    const before = asked.filter(([at]) => at < bump).map(([, ms]) => ms);
    const after = asked.filter(([at]) => at >= bump);
    const sorted = after.map(([, ms]) => ms).sort((a, b) => a - b);
    return {
      checkout: root,
      loadAverage: await loadAverage(),
      slowestBeforeMs: round1(Math.max(...before)),
      slowestAfterMs: round1(sorted[sorted.length - 1]!),
      p99AfterMs: round1(sorted[Math.floor(sorted.length * 0.99)]!),
      requestsAfter: after.length,
      over50msAfter: sorted.filter((ms) => ms > 50).length,
      slowestFive: [...after].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([at, ms]) => ({
        askedAfterBumpMs: Math.round(at - bump),
        ms: Math.round(ms),
      })),
      // From the start of the refresh to the swap (the instance's own measure).
      refreshMs,
      serverCpuMs: cpu,
      serverWaitingForCpuMs: Math.round(queued),
      rssBeforeMiB: rssBefore,
      rssAfterMiB: rss,
    };
  } finally {
    await cleanups.run();
  }
}

const cleanups = new Cleanups();
try {
  const given = Deno.args.indexOf("--database-url");
  const databaseUrl = given >= 0
    ? Deno.args[given + 1]!
    : (await startBenchDatabase(cleanups, { minRoutes: routes })).url;
  const results = [];
  for (let r = 0; r < runs; r++) {
    for (const root of checkouts) {
      const result = await one(databaseUrl, root);
      console.error(JSON.stringify(result));
      results.push(result);
    }
  }
  console.log(JSON.stringify({ routes, afterMs, results }, null, 2));
} finally {
  await cleanups.run();
}
