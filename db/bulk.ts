/**
 * Bulk writes of one table inside a transaction, for imports. Routes go through PostgreSQL's
 * `COPY … FROM STDIN` into a staging table where the driver streams COPY (postgres.js): a
 * million rows in seconds, with the upload's line numbers kept beside each row so that a
 * duplicate is reported at its line. Everything else (other tables, embedded PGlite) is
 * written row by row in pipelined batches.
 *
 * @example
 * ```ts
 * const bulk = await openBulkWriter(tx, "routes");
 * await bulk.add(route, 2);
 * const { errors } = await bulk.check(100);
 * if (errors.length === 0) await bulk.commit();
 * ```
 *
 * @module
 */
import type { Route, TableName } from "../src/model.ts";
import type { CopySink, Queryable } from "./types.ts";
import { bump, MAX_NOTED_ROWS, pruneChanges, rowId, type TableRows, writeRow } from "./tables.ts";

/** A row the database refused to take together with the others. */
export interface BulkRowError {
  readonly line: number;
  readonly id: string;
  readonly message: string;
}

/** What {@linkcode BulkWriter.check} found: how many bad rows, and the first of them by line. */
export interface BulkCheck {
  readonly errorCount: number;
  readonly errors: BulkRowError[];
}

/** Rows of one table on their way into the database, all in one transaction. */
export interface BulkWriter<K extends TableName> {
  /**
   * Takes one valid row, read at `line` of the upload; resolves when the next may come.
   * `checkOnly` once the import is refused anyway: the row still counts for the checks.
   */
  add(row: TableRows[K], line: number, checkOnly?: boolean): Promise<void>;
  /** Ends the upload and checks the rows against each other (an id twice, a key twice). */
  check(maxErrors: number): Promise<BulkCheck>;
  /** Writes the rows and bumps the table's version (not when nothing changed); the version. */
  commit(): Promise<number>;
  /** Gives up after an error: the connection is free for the rollback. */
  abort(): Promise<void>;
}

/** A bulk writer for `table`: COPY where the connection streams it, else row by row. */
export async function openBulkWriter<K extends TableName>(
  tx: Queryable,
  table: K,
): Promise<BulkWriter<K>> {
  if (table === "routes" && tx.copyIn) {
    return await copyRoutes(tx) as unknown as BulkWriter<K>;
  }
  return rowByRow(tx, table);
}

const BATCH = 500;

function rowByRow<K extends TableName>(tx: Queryable, table: K): BulkWriter<K> {
  const seen = new Set<string>();
  const duplicates: BulkRowError[] = [];
  let batch: Promise<void>[] = [];
  return {
    async add(row, line, checkOnly) {
      const id = rowId(table, row);
      if (seen.has(id)) {
        duplicates.push({ line, id, message: `Duplicate id "${id}"` });
        return;
      }
      seen.add(id);
      if (checkOnly) return;
      batch.push(writeRow(tx, table, row));
      if (batch.length >= BATCH) {
        await Promise.all(batch);
        batch = [];
      }
    },
    async check(maxErrors) {
      await Promise.all(batch);
      batch = [];
      return { errorCount: duplicates.length, errors: duplicates.slice(0, maxErrors) };
    },
    commit: () => bump(tx, table),
    async abort() {
      await Promise.allSettled(batch);
    },
  };
}

/** Rows sent to the server in one COPY message (about this many characters). */
const CHUNK = 64 * 1024;

/** A value in COPY's text format: backslash escapes for the characters that delimit. */
function copyText(value: string): string {
  return /[\\\t\n\r]/.test(value)
    ? value.replace(/[\\\t\n\r]/g, (c) => ({ "\\": "\\\\", "\t": "\\t", "\n": "\\n" })[c] ?? "\\r")
    : value;
}

async function copyRoutes(tx: Queryable): Promise<BulkWriter<"routes">> {
  // The checks sort and hash a million staged rows: in memory, not in temporary files.
  await tx.sql`set local work_mem = '256MB'`;
  await tx.sql`create temp table lotse_import_routes (
    line int not null, id text not null, evidence_type text not null, region_key text not null,
    provider_id text not null) on commit drop`;
  let sink: CopySink | null = await tx.copyIn!`copy lotse_import_routes
    (line, id, evidence_type, region_key, provider_id) from stdin`;
  let text = "";
  const close = async () => {
    if (sink === null) return;
    const open = sink;
    sink = null;
    if (text) await open.write(text);
    text = "";
    await open.end();
  };
  return {
    async add(route: Route, line: number) {
      text += `${line}\t${copyText(route.id)}\t${copyText(route.evidenceType)}\t${
        copyText(route.regionKey)
      }\t${copyText(route.providerId)}\n`;
      if (text.length >= CHUNK) {
        const chunk = text;
        text = "";
        await sink!.write(chunk);
      }
    },
    async check(maxErrors) {
      await close();
      // The planner needs the staging table's size for the checks and the write below.
      await tx.sql`analyze lotse_import_routes`;
      // Each row after the first with its id, or with its evidence type and region key, and
      // each row whose evidence type and region key another route keeps that is not imported.
      const rows = await tx.sql<{ line: number; id: string; message: string; total: number }>`
        with bad as (
          select line, id, 'Duplicate id "' || id || '"' as message
          from (select line, id, row_number() over (partition by id order by line) as n
            from lotse_import_routes) s
          where n > 1
          union all
          select line, id, 'evidenceType "' || evidence_type || '" and regionKey "' ||
            region_key || '" are taken by line ' || first_line as message
          from (select line, id, evidence_type, region_key,
              row_number() over (partition by evidence_type, region_key order by line) as n,
              first_value(line) over (partition by evidence_type, region_key order by line)
                as first_line
            from lotse_import_routes) s
          where n > 1
          union all
          select s.line, s.id, 'evidenceType "' || s.evidence_type || '" and regionKey "' ||
            s.region_key || '" are taken by route "' || r.id || '"' as message
          from lotse_import_routes s
          join routes r on r.evidence_type = s.evidence_type and r.region_key = s.region_key
            and r.id <> s.id
          where not exists (select 1 from lotse_import_routes t where t.id = r.id)
        )
        select line, id, message, count(*) over ()::int as total
        from bad order by line limit ${maxErrors}`;
      return {
        errorCount: rows[0]?.total ?? 0,
        errors: rows.map(({ line, id, message }) => ({ line: Number(line), id, message })),
      };
    },
    async abort() {
      const open = sink;
      sink = null;
      await open?.abort();
    },
    async commit() {
      await close();
      const [held] = await tx.sql<{ version: number }>`
        select version::int as version from table_versions where name = 'routes' for update`;
      const next = Number(held!.version) + 1;
      // Only rows that differ are written; their ids are noted under the next version, so
      // every instance applies them in place, unless there are too many: then they reload.
      const [written] = await tx.sql<{ n: number }>`
        with changed as (
          insert into routes (id, evidence_type, region_key, provider_id)
          select id, evidence_type, region_key, provider_id from lotse_import_routes
          on conflict (id) do update set evidence_type = excluded.evidence_type,
            region_key = excluded.region_key, provider_id = excluded.provider_id
          where (routes.evidence_type, routes.region_key, routes.provider_id)
            is distinct from (excluded.evidence_type, excluded.region_key, excluded.provider_id)
          returning id
        ), noted as (
          insert into table_changes (table_name, version, row_key)
          select 'routes', ${next}, id from changed
          where (select count(*) from changed) <= ${MAX_NOTED_ROWS}
        )
        select count(*)::int as n from changed`;
      if (Number(written!.n) === 0) return next - 1;
      const version = await bump(tx, "routes");
      await pruneChanges(tx, "routes", version);
      return version;
    },
  };
}
