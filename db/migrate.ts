/**
 * Applies the numbered SQL files in `db/migrations/` that the database has not seen yet,
 * each in its own transaction, under an advisory lock so that several instances starting
 * together apply each file once.
 *
 * @module
 */
import type { Db } from "./types.ts";

const DIR = new URL("./migrations/", import.meta.url);
const LOCK_KEY = 0x4c6f7473; // "Lots"

/**
 * The oldest PostgreSQL Lotse runs on (`server_version_num`): 14, the first with TID range
 * scans. db/tables.ts reads the navigation tables in ranges of pages; an older server would scan
 * the whole table once per range and a start at full scale would take minutes, not a second.
 * (PostgreSQL 13 reached its end of life in November 2025.)
 */
export const MIN_SERVER_VERSION = 140000;

/** Why a database is refused before any migration touches it. */
export class UnsupportedServerError extends Error {
  override name = "UnsupportedServerError";
}

interface Migration {
  version: number;
  name: string;
  sql: string;
}

async function readMigrations(): Promise<Migration[]> {
  const found: Migration[] = [];
  for await (const entry of Deno.readDir(DIR)) {
    const match = /^(\d+)_[\w-]+\.sql$/.exec(entry.name);
    if (!entry.isFile || !match) continue;
    found.push({
      version: Number(match[1]),
      name: entry.name,
      sql: await Deno.readTextFile(new URL(entry.name, DIR)),
    });
  }
  found.sort((a, b) => a.version - b.version);
  for (let i = 1; i < found.length; i++) {
    if (found[i]!.version === found[i - 1]!.version) {
      throw new Error(`Two migrations share version ${found[i]!.version}`);
    }
  }
  return found;
}

/**
 * Brings the schema up to date; returns the names of the files it applied. A server older than
 * `minimumServerVersion` (default {@linkcode MIN_SERVER_VERSION}) is refused first, with
 * {@linkcode UnsupportedServerError}, before anything is written.
 */
export async function migrate(
  db: Db,
  options: { minimumServerVersion?: number } = {},
): Promise<string[]> {
  const migrations = await readMigrations();
  const minimum = options.minimumServerVersion ?? MIN_SERVER_VERSION;
  const [server] = await db.sql<{ num: number; version: string }>`select
    current_setting('server_version_num')::int as num, current_setting('server_version') as version`;
  if (Number(server!.num) < minimum) {
    throw new UnsupportedServerError(
      `Lotse needs PostgreSQL ${Math.floor(minimum / 10000)} or newer; ` +
        `the database is PostgreSQL ${server!.version}`,
    );
  }
  await db.exec(`create table if not exists schema_migrations (
    version integer primary key,
    name text not null,
    applied_at timestamptz not null default now()
  )`);
  // One query on an up-to-date schema (every start of every instance): the locked
  // transaction per file below only for what is missing, which it checks again under the lock.
  const recorded = new Set(
    (await db.sql<{ version: number }>`select version from schema_migrations`)
      .map((r) => Number(r.version)),
  );
  const applied: string[] = [];
  for (const migration of migrations.filter((m) => !recorded.has(m.version))) {
    const done = await db.transaction(async (tx) => {
      await tx.sql`select pg_advisory_xact_lock(${LOCK_KEY})`;
      const seen = await tx
        .sql`select 1 from schema_migrations where version = ${migration.version}`;
      if (seen.length > 0) return false;
      for (const statement of splitStatements(migration.sql)) {
        await tx.sql([statement] as unknown as TemplateStringsArray);
      }
      await tx.sql`insert into schema_migrations (version, name)
        values (${migration.version}, ${migration.name})`;
      return true;
    });
    if (done) applied.push(migration.name);
  }
  return applied;
}

/**
 * Splits a migration script at top-level semicolons (outside quotes, comments and
 * dollar-quoted bodies), so each statement runs through the ordinary query path inside the
 * migration's transaction.
 */
export function splitStatements(script: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  while (i < script.length) {
    const ch = script[i]!;
    if (ch === "-" && script[i + 1] === "-") {
      const end = script.indexOf("\n", i);
      i = end === -1 ? script.length : end + 1;
    } else if (ch === "/" && script[i + 1] === "*") {
      const end = script.indexOf("*/", i + 2);
      i = end === -1 ? script.length : end + 2;
    } else if (ch === "'" || ch === '"') {
      let j = i + 1;
      while (j < script.length) {
        if (script[j] === ch) {
          if (script[j + 1] === ch) j += 2;
          else break;
        } else j++;
      }
      i = j + 1;
    } else if (ch === "$") {
      const tag = /^\$[A-Za-z_]*\$/.exec(script.slice(i))?.[0];
      if (tag) {
        const end = script.indexOf(tag, i + tag.length);
        i = end === -1 ? script.length : end + tag.length;
      } else i++;
    } else if (ch === ";") {
      const text = script.slice(start, i).trim();
      if (stripComments(text)) statements.push(text);
      start = ++i;
    } else i++;
  }
  const rest = script.slice(start).trim();
  if (stripComments(rest)) statements.push(rest);
  return statements;
}

function stripComments(text: string): string {
  return text.replace(/--[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "").trim();
}
