/**
 * Migrations against a real PostgreSQL: the server's version is checked before anything is
 * written (Lotse reads its tables in TID ranges, which need PostgreSQL 14).
 *
 * @module
 */
import assert from "node:assert/strict";
import { freshDatabaseUrl } from "../tests/pg.ts";
import { connectPostgres } from "./postgres.ts";
import { migrate, MIN_SERVER_VERSION, UnsupportedServerError } from "./migrate.ts";

Deno.test("migrate refuses a server older than the minimum before it writes anything", async () => {
  const db = await connectPostgres(await freshDatabaseUrl(), { max: 1 });
  try {
    const [server] = await db.sql<{ num: number }>`select
      current_setting('server_version_num')::int as num`;
    const num = Number(server!.num);
    assert.ok(num >= MIN_SERVER_VERSION, `the test server is PostgreSQL ${num}`);
    // The same server, with the minimum set one major version above it.
    const above = (Math.floor(num / 10000) + 1) * 10000;
    await assert.rejects(
      migrate(db, { minimumServerVersion: above }),
      (error: unknown) =>
        error instanceof UnsupportedServerError &&
        error.message.startsWith(`Lotse needs PostgreSQL ${above / 10000} or newer`) &&
        error.message.includes(`the database is PostgreSQL ${Math.floor(num / 10000)}`),
    );
    const [tables] = await db.sql<{ n: number }>`select count(*)::int as n
      from information_schema.tables where table_schema = 'public'`;
    assert.equal(Number(tables!.n), 0);
    // At the default minimum the same server is migrated.
    assert.ok((await migrate(db)).length > 0);
    const [recorded] = await db.sql<{ n: number }>`select count(*)::int as n
      from schema_migrations`;
    assert.ok(Number(recorded!.n) > 0);
  } finally {
    await db.close();
  }
});
