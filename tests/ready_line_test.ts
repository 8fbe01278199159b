/**
 * The ready line of a Lotse process: the phases of its start, counted from the process's start
 * (P8's timeline, BENCHMARKS.md), and readiness only once the tables are loaded.
 */
import assert from "node:assert/strict";
import { freshDatabaseUrl } from "./pg.ts";
import { spawnLotse } from "./_lotse_process.ts";
import { connectPostgres } from "../db/postgres.ts";

Deno.test("The ready line times the start from the process's start, modules first, tables before the listener", async () => {
  const databaseUrl = await freshDatabaseUrl();
  const spawned = performance.now();
  const lotse = await spawnLotse({ databaseUrl });
  const ranMs = performance.now() - spawned;
  const db = await connectPostgres(databaseUrl, { max: 1 });
  try {
    const line = lotse.output.split("\n").find((l) => l.includes('"Lotse listening"'));
    assert.ok(line, "no ready line");
    const phases = JSON.parse(line).startMs as Record<string, number>;
    assert.deepEqual(Object.keys(phases), [
      "modules",
      "database",
      "migrations",
      "keys",
      "tables",
      "protocol",
      "listen",
    ]);
    // Deno's start and the module graph take time of their own, and every phase lies within
    // the time from spawn to ready.
    assert.ok(phases.modules! > 0, `modules ${phases.modules} ms`);
    const sum = Object.values(phases).reduce((a, b) => a + b, 0);
    assert.ok(sum <= ranMs, `phases ${sum} ms, but the process was ready after ${ranMs} ms`);
    // Ready means the tables it serves are the database's, as of the start.
    const [row] = await db.sql<{ version: number }>`
      select sum(version)::int as version from table_versions`;
    const res = await fetch(`${lotse.url}/readyz`);
    assert.deepEqual(await res.json(), { status: "ready", tablesVersion: Number(row!.version) });
  } finally {
    await db.close();
    await lotse.close();
  }
});
