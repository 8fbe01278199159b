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
   * Takes one valid row, read at `line` of the upload; when it returns a promise, the next
   * may come once that resolves (most rows return none: a million awaits cost a second).
   * `checkOnly` once the import is refused anyway: the row still counts for the checks.
   */
  add(row: TableRows[K], line: number, checkOnly?: boolean): Promise<void> | undefined;
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
const CHUNK = 256 * 1024;

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
    add(route: Route, line: number) {
      text += `${line}\t${copyText(route.id)}\t${copyText(route.evidenceType)}\t${
        copyText(route.regionKey)
      }\t${copyText(route.providerId)}\n`;
      if (text.length < CHUNK) return undefined;
      const chunk = text;
      text = "";
      return sink!.write(chunk);
    },
    async check(maxErrors) {
      await close();
      // Writers of routes wait from here until the commit, so the rows found changed below
      // are still the rows to write then.
      await tx.sql`select 1 from table_versions where name = 'routes' for update`;
      // The planner needs the staging table's size for the joins below.
      await tx.sql`analyze lotse_import_routes`;
      // The rows that differ from the table: one hash join. Re-importing a million routes
      // with a few changed writes (and checks against the table) just those few; an upsert
      // of every row would lock, and so rewrite, each of the million.
      await tx.sql`create temp table lotse_import_changed on commit drop as
        select s.line, s.id, s.evidence_type, s.region_key, s.provider_id
        from lotse_import_routes s left join routes r on r.id = s.id
        where r.id is null or (r.evidence_type, r.region_key, r.provider_id)
          <> (s.evidence_type, s.region_key, s.provider_id)`;
      await tx.sql`analyze lotse_import_changed`;
      // Each row after the first with its id, or with its evidence type and region key, and
      // each row whose evidence type and region key another route keeps that is not imported.
      // An unchanged row equals a route of the table, which holds each key once: a key twice
      // in the upload involves a changed row or an id twice, and only a changed row can
      // collide with a route. So the windows run over those rows' groups, not over all.
      const rows = await tx.sql<{ line: number; id: string; message: string; total: number }>`
        with twice as (
          select id from lotse_import_routes group by id having count(*) > 1
        ), keys as (
          select evidence_type, region_key from lotse_import_changed
          union
          select s.evidence_type, s.region_key from lotse_import_routes s join twice t using (id)
        ), bad as (
          select line, id, 'Duplicate id "' || id || '"' as message
          from (select line, id, row_number() over (partition by id order by line) as n
            from lotse_import_routes where id in (select id from twice)) s
          where n > 1
          union all
          select line, id, 'evidenceType "' || evidence_type || '" and regionKey "' ||
            region_key || '" are taken by line ' || first_line as message
          from (select line, id, evidence_type, region_key,
              row_number() over (partition by evidence_type, region_key order by line) as n,
              first_value(line) over (partition by evidence_type, region_key order by line)
                as first_line
            from lotse_import_routes s join keys k using (evidence_type, region_key)) s
          where n > 1
          union all
          select s.line, s.id, 'evidenceType "' || s.evidence_type || '" and regionKey "' ||
            s.region_key || '" are taken by route "' || r.id || '"' as message
          from lotse_import_changed s
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
      const [held] = await tx.sql<{ version: number }>`
        select version::int as version from table_versions where name = 'routes'`;
      const next = Number(held!.version) + 1;
      // Only the rows check() found changed are written; their ids are noted under the next
      // version, so every instance applies them in place, unless there are too many: then
      // they reload.
      const [written] = await tx.sql<{ n: number }>`
        with changed as (
          insert into routes (id, evidence_type, region_key, provider_id)
          select id, evidence_type, region_key, provider_id from lotse_import_changed
          on conflict (id) do update set evidence_type = excluded.evidence_type,
            region_key = excluded.region_key, provider_id = excluded.provider_id
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
