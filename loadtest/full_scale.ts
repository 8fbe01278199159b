/**
 * Full-scale figures for operators (issue 14): two instances on one PostgreSQL holding a
 * million routes. Measures each instance's start and memory, and how long a one-row change
 * made through instance A takes until instance B answers with it, while B's navigation runs
 * on (its slowest answer during the changes shows any stall). With `--import`, also a
 * million-route NDJSON import through A's admin API and how long until B serves it.
 *
 * ```sh
 * deno run -A loadtest/full_scale.ts [--routes 1000000] [--changes 20] [--import] \
 *   [--database-url postgres://…]
 * ```
 *
 * `--database-url` reuses a database seeded before (by `tools/seed.ts` or an earlier run with
 * the same `--routes`) instead of starting and seeding a new cluster.
 *
 * Prints one JSON object; the machine's load average is part of it.
 *
 * @module
 */
import { generateTables } from "../tools/generate.ts";
import {
  ADMIN_TOKEN,
  Cleanups,
  demoToken,
  loadAverage,
  median,
  startBenchDatabase,
  startLotseProcess,
} from "./_harness.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const routes = arg("--routes", 1_000_000);
const changes = arg("--changes", 20);
const cleanups = new Cleanups();

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
  const given = Deno.args.indexOf("--database-url");
  const database = given >= 0
    ? {
      url: Deno.args[given + 1]!,
      tables: generateTables({ seed: 1, minRoutes: routes }),
      seedMs: 0,
    }
    : await startBenchDatabase(cleanups, { minRoutes: routes });
  const a = await startLotseProcess(cleanups, database.url);
  const b = await startLotseProcess(cleanups, database.url);
  const token = await demoToken(b.url);
  // A Gemeinde route of a synthetic register: its answer names the route's provider.
  const route = database.tables.routes.find((r) => r.regionKey.length === 8)!;
  const providers = database.tables.providers.map((p) => p.id);
  const navUrl = `${b.url}/v1/navigation?evidenceType=${route.evidenceType}&ags=${route.regionKey}`;
  const navigate = async () => {
    const res = await fetch(navUrl, { headers: { authorization: `Bearer ${token}` } });
    return (await res.json()).provider?.id as string | undefined;
  };
  await navigate();
  const memoryAtStart = { a: await memoryMiB(a.url), b: await memoryMiB(b.url) };

  // B's navigation runs throughout; its slowest answer before and during the changes.
  let running = true;
  let phase: "before" | "during" = "before";
  const slowest = { before: 0, during: 0 };
  const counts = { before: 0, during: 0 };
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      await navigate();
      const ms = performance.now() - t;
      slowest[phase] = Math.max(slowest[phase], ms);
      counts[phase]++;
    }
  })();
  await new Promise((r) => setTimeout(r, 2000));
  phase = "during";

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
  running = false;
  await loop;

  const result: Record<string, unknown> = {
    routes: database.tables.routes.length,
    seedMs: Math.round(database.seedMs),
    readyMs: { a: Math.round(a.readyMs), b: Math.round(b.readyMs) },
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
      slowestBeforeMs: Math.round(slowest.before * 10) / 10,
      slowestDuringMs: Math.round(slowest.during * 10) / 10,
      requests: counts,
    },
  };

  if (Deno.args.includes("--import")) {
    // Every route again, with one provider changed: NDJSON through A's admin API.
    const moved = providers[1]!;
    const body = database.tables.routes.map((r) =>
      JSON.stringify({ ...r, providerId: r.id === route.id ? moved : r.providerId })
    ).join("\n");
    const t = performance.now();
    const res = await fetch(`${a.url}/admin/v1/imports/routes`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/x-ndjson" },
      body,
    });
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
  console.log(JSON.stringify(result, null, 2));
} finally {
  await cleanups.run();
}
