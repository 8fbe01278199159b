/**
 * The {@linkcode Db} over embedded PGlite (PostgreSQL compiled to WASM, in process), so a
 * newcomer needs nothing but Deno. File-backed in the data directory, or in memory.
 *
 * @module
 */
import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { Db, Queryable, Row } from "./types.ts";
import { toQuery } from "./_template.ts";

function queryable(pg: PGlite | Transaction): Queryable {
  return {
    async sql<T = Row>(strings: TemplateStringsArray, ...values: unknown[]): Promise<T[]> {
      const { text, params } = toQuery(strings, values);
      const result = await pg.query<T>(text, params);
      return result.rows;
    },
  };
}

/**
 * PostgreSQL settings for the embedded database, beside PGlite's own. Its default 128 MB of
 * shared buffers is most of its memory, and the embedded default serves demo-sized tables
 * (Lotse keeps every table in memory anyway): 16 MB took its RSS from 269 to 164 MiB
 * (docs/targets.md P9, BENCHMARKS.md).
 */
const SETTINGS = ["-c", "shared_buffers=16MB", "-c", "wal_buffers=512kB", "-c", "temp_buffers=1MB"];

/** Opens (creating when needed) a PGlite database in `dataDir`, or in memory when null. */
export async function openPglite(dataDir: string | null): Promise<Db> {
  if (dataDir) await Deno.mkdir(dataDir, { recursive: true });
  const pg = await PGlite.create(dataDir ?? undefined, {
    startParams: [...PGlite.defaultStartParams, ...SETTINGS],
  });
  // A first start runs initdb, a WASM instance of its own, about 330 MiB that only a full
  // garbage collection gives back, and an idle server may not collect for a long time: collect
  // now when the runtime lets us (`--v8-flags=--expose-gc`, as `deno task start` runs it).
  (globalThis as { gc?: () => void }).gc?.();
  const base = queryable(pg);
  return {
    kind: "pglite",
    sql: base.sql,
    async exec(script) {
      await pg.exec(script);
    },
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return pg.transaction((tx) => fn(queryable(tx)));
    },
    async listen(channel, onNotify) {
      const unsubscribe = await pg.listen(channel, onNotify);
      return () => unsubscribe();
    },
    async notify(channel, payload) {
      await pg.query("select pg_notify($1, $2)", [channel, payload]);
    },
    async close() {
      await pg.close();
    },
  };
}
