/**
 * Full-scale figures for operators (issue 14): two instances on one PostgreSQL holding a
 * million routes. Measures each instance's start and memory, and how long a one-row change
 * made through instance A takes until instance B answers with it, while B's navigation runs
 * on (its slowest answer during the changes shows any stall). With `--import`, also a
 * million-route NDJSON import through A's admin API and how long until B serves it.
 *
 * With `--first-import`, the cluster is seeded without routes, and the instances start with an
 * empty routes table; the million routes then come in as one NDJSON import through A's admin
 * API (an operator's first load), timed until A answers and until B serves them (B swaps in
 * what it built from the import's preview while the import wrote: `refreshesOnB.preview`; a
 * `full` beyond the start's means it read the table whole instead). While that
 * import holds the routes table, one route is changed through B's admin API: the change waits
 * and lands after the import (its value is what B then serves). B's navigation runs throughout
 * the first import: its slowest answer while the import runs and in the 5 s after B serves the
 * import (a whole swap and what follows it: the collection of the old snapshot) show any stall.
 * B's navigation is asked from a process of its own on the load core (`watchNavigation()`,
 * loadtest/_harness.ts), not from this runner, whose own pauses would count as B's; a 5xx or no
 * answer at all (refused, reset, none within 20 s) counts as `failed`. `--log-statements MS` logs the
 * cluster's statements slower than MS milliseconds (`log_min_duration_statement`) and prints
 * those of the first import. The changes and `--import` then run on the imported million.
 *
 * ```sh
 * deno run -A loadtest/full_scale.ts [--routes 1000000] [--changes 20] [--import] \
 *   [--first-import [--log-statements 100]] [--database-url postgres://…] [--checkout DIR]
 * ```
 *
 * `--checkout DIR` runs both instances from another checkout's `deno task serve` (an A/B
 * against main: `git worktree add /tmp/main main`).
 *
 * `--database-url` reuses a database seeded before (by `tools/seed.ts` or an earlier run with
 * the same `--routes`) instead of starting and seeding a new cluster.
 *
 * Prints one JSON object; the machine's load average is part of it.
 *
 * @module
 */
import { generateTables } from "../tools/generate.ts";
import type { Route } from "../src/model.ts";
import type { Db } from "../db/types.ts";
import { parseArgs } from "node:util";
import { machine } from "./raw_results.ts";
import {
  ADMIN_TOKEN,
  Cleanups,
  demoToken,
  failedAnswer,
  loadAverage,
  median,
  type NavigationAnswer,
  startBenchDatabase,
  startLotseProcess,
  watchNavigation,
} from "./_harness.ts";

const { values: options } = parseArgs({
  args: Deno.args,
  options: {
    routes: { type: "string", default: "1000000" },
    changes: { type: "string", default: "20" },
    import: { type: "boolean", default: false },
    "first-import": { type: "boolean", default: false },
    "log-statements": { type: "string" },
    "database-url": { type: "string" },
    checkout: { type: "string" },
  },
});

/** A whole number ≥ `min` from the option `name`; anything else stops the run before it starts. */
function count(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} takes a whole number ≥ ${min}`);
  return n;
}

const routes = count("routes", options.routes, 1);
const changes = count("changes", options.changes, 1);
const firstImport = options["first-import"];
const logStatements = options["log-statements"] === undefined
  ? -1
  : count("log-statements", options["log-statements"], 0);
const cleanups = new Cleanups();

/** The body of an NDJSON route import: one route per line. */
function ndjson(rows: readonly Route[]): string {
  return rows.map((r) => JSON.stringify(r)).join("\n");
}

/** Posts an NDJSON route import to an instance's admin API, as an operator does. */
function importRoutes(url: string, body: string): Promise<Response> {
  return fetch(`${url}/admin/v1/imports/routes`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/x-ndjson" },
    body,
  });
}

/** Polls `ok` every 10 ms until it holds; throws after `ms`. */
async function until(what: string, ok: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await ok())) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The server's statements of at least `ms` from its log, after byte `from`: duration and text. */
async function slowStatements(
  logFile: string,
  from: number,
): Promise<{ ms: number; statement: string }[]> {
  const text = (await Deno.readTextFile(logFile)).slice(from);
  const out: { ms: number; statement: string }[] = [];
  const re = /duration: ([\d.]+) ms {2}(?:statement|execute [^:]*): ([\s\S]*?)(?=\n\S|$)/g;
  for (const m of text.matchAll(re)) {
    out.push({ ms: Math.round(Number(m[1])), statement: m[2]!.replace(/\s+/g, " ").slice(0, 160) });
  }
  return out;
}

async function refreshes(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^lotse_tables_refreshes_total\{mode="(\w+)"\} (\S+)$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
    if (line.startsWith("lotse_tables_refresh_seconds_total ")) {
      out.seconds = Math.round(Number(line.split(" ")[1]) * 1000) / 1000;
    }
  }
  return out;
}

/** Resident memory and the JavaScript heap in use, in MiB, from the instance's metrics. */
async function memoryMiB(url: string): Promise<{ rss: number; heap: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const mib = (name: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return Math.round(Number(line!.split(" ")[1]) / 1024 / 1024);
  };
  return { rss: mib("process_resident_memory_bytes"), heap: mib("process_heap_used_bytes") };
}

try {
  const load0 = await loadAverage();
  const given = options["database-url"];
  const database = given !== undefined
    ? {
      url: given,
      tables: generateTables({ seed: 1, minRoutes: routes }),
      seedMs: 0,
    }
    : await startBenchDatabase(cleanups, { minRoutes: routes, routes: !firstImport });
  if (firstImport && given !== undefined) throw new Error("--first-import seeds its own cluster");
  const logFile = "cluster" in database ? `${database.cluster.dataDir}/log` : null;
  if (logStatements >= 0 && "db" in database) {
    await database.db.exec(
      `alter system set log_min_duration_statement = ${logStatements}`,
    );
    await database.db.sql`select pg_reload_conf()`;
  }
  const cwd = options.checkout?.replace(/\/?$/, "/");
  const a = await startLotseProcess(cleanups, database.url, { cwd });
  const b = await startLotseProcess(cleanups, database.url, { cwd });
  const token = await demoToken(b.url);
  // A Gemeinde route of a synthetic register: its answer names the route's provider.
  const gemeinden = database.tables.routes.filter((r) => r.regionKey.length === 8);
  const route = gemeinden[0]!;
  const providers = database.tables.providers.map((p) => p.id);
  const navAt = (r: Route) =>
    `${b.url}/v1/navigation?evidenceType=${r.evidenceType}&ags=${r.regionKey}`;
  const navUrl = navAt(route);
  const navigateTo = async (url: string) => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    return (await res.json()).provider?.id as string | undefined;
  };
  const navigate = () => navigateTo(navUrl);
  const result: Record<string, unknown> = {
    routes: database.tables.routes.length,
    seedMs: Math.round(database.seedMs),
    readyMs: { a: Math.round(a.readyMs), b: Math.round(b.readyMs) },
  };

  if (firstImport) {
    // A million new routes into the empty table, through A; one of them changed through B
    // while the import holds the table.
    const logFrom = logFile ? (await Deno.stat(logFile)).size : 0;
    const other = gemeinden[gemeinden.length - 1]!;
    const moved = providers.find((p) => p !== other.providerId)!;
    const db = (database as { db: Db }).db;
    const body = ndjson(database.tables.routes);
    const version = async () =>
      Number(
        (await db.sql<{ v: number }>`
        select version::int as v from table_versions where name = 'routes'`)[0]!.v,
      );
    const before = await version();
    // B's navigation (a route the import brings: 404 until then) from before the import until
    // 5 s after B serves it; each answer's time by when it was asked.
    const watch = await watchNavigation(cleanups, navUrl, token);
    const t = performance.now();
    const imported = importRoutes(a.url, body);
    // The commit: when the routes' version moves (polled every 10 ms on the side).
    let commitAt = 0;
    const commitSeen = until("the import's commit", async () => {
      if ((await version()) === before) return false;
      commitAt = performance.now();
      return true;
    }, 600_000);
    // Once the import holds the routes table (its write phase), a one-row change through B.
    let held = false;
    let answered = false;
    imported.finally(() => answered = true);
    await until("the import's write phase or its answer", async () => {
      held = (await db.sql`select 1 from pg_locks where relation = 'routes'::regclass
        and mode = 'AccessExclusiveLock' and granted`).length > 0;
      return held || answered;
    }, 600_000);
    const putSent = performance.now();
    const put = fetch(`${b.url}/admin/v1/routes/${other.id}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ ...other, id: undefined, providerId: moved }),
    }).then(async (res) => {
      const done = performance.now();
      if (res.status >= 300) throw new Error(`PUT: ${res.status} ${await res.text()}`);
      await res.body?.cancel();
      return done;
    });
    const res = await imported;
    const committed = performance.now();
    const answer = await res.text();
    if (res.status !== 200) throw new Error(`Import: ${res.status} ${answer.slice(0, 500)}`);
    const putDone = await put;
    await commitSeen;
    await until("the import on B", async () => (await navigate()) === route.providerId, 60_000);
    const visible = performance.now();
    await until("the change on B", async () => (await navigateTo(navAt(other))) === moved, 60_000);
    await new Promise((r) => setTimeout(r, Math.max(0, visible + 5000 - performance.now())));
    const watched = await watch.stop();
    const slowest = (from: number, to: number) => {
      const inside = watched.filter(({ asked }) => asked >= from && asked < to);
      const worst = inside.reduce((w, x) => x.ms > w.ms ? x : w, { asked: 0, ms: 0, status: 0 });
      return {
        ms: Math.round(worst.ms * 10) / 10,
        askedAfterCommitMs: Math.round(worst.asked - commitAt),
        requests: inside.length,
        failed: inside.filter(failedAnswer).length,
      };
    };
    result.firstImport = {
      importMs: Math.round(committed - t),
      committedAfterMs: Math.round(commitAt - t),
      visibleOnBMs: Math.round(visible - committed),
      visibleOnBAfterCommitMs: Math.round(visible - commitAt),
      changeDuringImport: {
        sentWhileImportHeldRoutes: held,
        sentAfterImportStartMs: Math.round(putSent - t),
        answeredAfterImportMs: Math.round(putDone - committed),
      },
      navigationOnB: {
        slowestDuringImport: slowest(t, commitAt),
        // From the commit (B swaps in what it built from the preview) until 5 s after B serves
        // the import: the swap and its aftermath.
        slowestAfterCommit: slowest(commitAt, visible + 5000),
      },
      refreshesOnB: await refreshes(b.url),
      memoryAfterMiB: { a: await memoryMiB(a.url), b: await memoryMiB(b.url) },
      ...(logFile && logStatements >= 0
        ? { slowStatements: await slowStatements(logFile, logFrom) }
        : {}),
    };
    // The other route back as seeded (through the admin API), so the runs below start alike.
    const back = await fetch(`${a.url}/admin/v1/routes/${other.id}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ ...other, id: undefined }),
    });
    if (back.status !== 200) throw new Error(`PUT: ${back.status} ${await back.text()}`);
  }
  await navigate();
  const memoryAtStart = { a: await memoryMiB(a.url), b: await memoryMiB(b.url) };

  // B's navigation runs throughout; its slowest answer before and during the changes.
  const watch = await watchNavigation(cleanups, navUrl, token);
  await new Promise((r) => setTimeout(r, 2000));
  const during = performance.now();

  // From the PUT sent to A until B answers with the change; and A's answer to the PUT.
  const delays: number[] = [];
  const puts: number[] = [];
  for (let i = 0; i < changes; i++) {
    const providerId = providers[(i * 7919) % providers.length]!;
    const sent = performance.now();
    const res = await fetch(`${a.url}/admin/v1/routes/${route.id}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ ...route, id: undefined, providerId }),
    });
    if (res.status !== 200) throw new Error(`PUT: ${res.status} ${await res.text()}`);
    puts.push(performance.now() - sent);
    while ((await navigate()) !== providerId) {
      if (performance.now() - sent > 10_000) throw new Error("Change not seen within 10 s");
    }
    delays.push(performance.now() - sent);
    await new Promise((r) => setTimeout(r, 100));
  }
  const watched = await watch.stop();
  const before = watched.filter((x) => x.asked < during);
  const inChanges = watched.filter((x) => x.asked >= during);
  const slowestOf = (answers: NavigationAnswer[]) =>
    Math.round(answers.reduce((w, x) => Math.max(w, x.ms), 0) * 10) / 10;

  Object.assign(result, {
    memoryAtStartMiB: memoryAtStart,
    memoryAfterChangesMiB: { a: await memoryMiB(a.url), b: await memoryMiB(b.url) },
    oneRowChangeMs: {
      median: Math.round(median(delays) * 10) / 10,
      max: Math.round(Math.max(...delays) * 10) / 10,
      n: delays.length,
      each: delays.map((d) => Math.round(d * 10) / 10),
    },
    putOnAMs: {
      median: Math.round(median(puts) * 10) / 10,
      max: Math.round(Math.max(...puts) * 10) / 10,
    },
    refreshesOnB: await refreshes(b.url),
    navigationOnB: {
      slowestBeforeMs: slowestOf(before),
      slowestDuringMs: slowestOf(inChanges),
      requests: { before: before.length, during: inChanges.length },
      failed: watched.filter(failedAnswer).length,
    },
  });

  if (options.import) {
    // Every route again, with one provider changed: NDJSON through A's admin API.
    const moved = providers[1]!;
    const body = ndjson(
      database.tables.routes.map((r: Route) => r.id === route.id ? { ...r, providerId: moved } : r),
    );
    const t = performance.now();
    const res = await importRoutes(a.url, body);
    const committed = performance.now();
    const answer = await res.text();
    if (res.status !== 200) throw new Error(`Import: ${res.status} ${answer.slice(0, 500)}`);
    while ((await navigate()) !== moved) {
      if (performance.now() - committed > 60_000) throw new Error("Import not seen in 60 s");
    }
    result.importMs = Math.round(committed - t);
    result.importVisibleOnBMs = Math.round(performance.now() - committed);
    result.memoryAfterImportMiB = { a: await memoryMiB(a.url), b: await memoryMiB(b.url) };
  }
  result.loadAverage = { start: load0, end: await loadAverage() };
  result.machine = machine();
  console.log(JSON.stringify(result, null, 2));
} finally {
  await cleanups.run();
}
