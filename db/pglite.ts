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

/** Opens (creating when needed) a PGlite database in `dataDir`, or in memory when null. */
export async function openPglite(dataDir: string | null): Promise<Db> {
  if (dataDir) await Deno.mkdir(dataDir, { recursive: true });
  const pg = await PGlite.create(dataDir ?? undefined);
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
