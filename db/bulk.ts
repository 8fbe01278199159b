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
import type { ImportPreview } from "./import_preview.ts";

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
  /**
   * Ends the upload and checks the rows against each other (an id twice, a key twice).
   * `refused`: rows the caller refused already (the import fails anyway).
   */
  check(maxErrors: number, refused?: number): Promise<BulkCheck>;
  /** Writes the rows and bumps the table's version (not when nothing changed); the version. */
  commit(): Promise<number>;
  /** Gives up after an error: the connection is free for the rollback. */
  abort(): Promise<void>;
}

/** A bulk writer for `table`: COPY where the connection streams it, else row by row. */
export async function openBulkWriter<K extends TableName>(
  tx: Queryable,
  table: K,
  options: BulkOptions = {},
): Promise<BulkWriter<K>> {
  if (table === "routes" && tx.copyIn) {
    return await copyRoutes(tx, options) as unknown as BulkWriter<K>;
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

/**
 * Most changed routes written into the table as it stands (each row through its indexes and
 * foreign-key checks). From here, and from a quarter of the table on, the import drops the
 * secondary indexes and foreign keys of `routes`, writes, and builds them again: a million new
 * rows went in 110 s row by row (load 15–17), see BENCHMARKS.md, issue 14.
 */
export const BULK_ROWS = MAX_NOTED_ROWS;

/** How {@linkcode openBulkWriter} writes. */
export interface BulkOptions {
  /**
   * Changed routes from which the indexes and foreign keys are rebuilt rather than kept
   * (with a quarter of the table); default {@linkcode BULK_ROWS}. Tests lower it.
   */
  readonly bulkRows?: number;
  /**
   * Where the changed routes go, published before the commit when there are more than the
   * change log notes one by one (db/import_preview.ts); the caller removes it at the end.
   */
  readonly preview?: ImportPreview;
}

/** What {@linkcode copyRoutes} found changed, once the routes table is held. */
interface Changed {
  /** Rows to write. */
  readonly count: number;
  /** The table held no route: the staging table is the changed rows (a view on it). */
  readonly empty: boolean;
}

/**
 * The rows of the staging table that differ from `routes`, as `lotse_import_changed`: when
 * the table is empty, a view on the staging table (nothing to compare, nothing to copy);
 * else one hash join into a temporary table. Re-importing a million routes with a few
 * changed writes (and checks against the table) just those few; an upsert of every row would
 * lock, and so rewrite, each of the million.
 */
async function findChanged(
  tx: Queryable,
  staged: number,
  previous: Changed | null,
): Promise<Changed> {
  if (previous?.empty) await tx.sql`drop view lotse_import_changed`;
  else if (previous) await tx.sql`drop table lotse_import_changed`;
  const [row] = await tx.sql<{ empty: boolean }>`
    select not exists (select 1 from routes) as empty`;
  const empty = row!.empty;
  if (empty) {
    await tx.sql`create temp view lotse_import_changed as
      select line, id, evidence_type, region_key, provider_id from lotse_import_routes`;
    return { count: staged, empty };
  }
  // The planner needs the staging table's size for the join.
  await tx.sql`analyze lotse_import_routes`;
  await tx.sql`create temp table lotse_import_changed on commit drop as
    select s.line, s.id, s.evidence_type, s.region_key, s.provider_id
    from lotse_import_routes s left join routes r on r.id = s.id
    where r.id is null or (r.evidence_type, r.region_key, r.provider_id)
      <> (s.evidence_type, s.region_key, s.provider_id)`;
  await tx.sql`analyze lotse_import_changed`;
  const [counted] = await tx.sql<{ n: number }>`
    select count(*)::int as n from lotse_import_changed`;
  return { count: Number(counted!.n), empty };
}

/**
 * Whether `changed` rows are many enough to write with the indexes and foreign keys of
 * `routes` rebuilt: at least `bulkRows` and a quarter of the table's rows (its planner
 * estimate), and no other table refers to `routes` (its primary key could not be dropped).
 */
async function manyChanged(tx: Queryable, changed: Changed, bulkRows: number): Promise<boolean> {
  if (changed.count < bulkRows) return false;
  const [table] = await tx.sql<{ rows: number; referred: boolean }>`
    select greatest(reltuples, 0)::float8 as rows,
      exists (select 1 from pg_constraint where confrelid = 'routes'::regclass) as referred
    from pg_class where oid = 'routes'::regclass`;
  return !table!.referred && (changed.empty || changed.count * 4 >= Number(table!.rows));
}

/**
 * Drops the foreign keys, unique constraints, primary key and other indexes of `routes`,
 * kept (their names and definitions as the catalog gives them) in `lotse_import_ddl` for
 * {@linkcode rebuildRouteIndexes}. Needs the table's owner (the role that ran the
 * migrations), not a superuser.
 */
async function dropRouteIndexes(tx: Queryable): Promise<void> {
  await tx.sql`create temp table lotse_import_ddl on commit drop as
    select c.conname::text as name, c.contype::text as kind, pg_get_constraintdef(c.oid) as def
    from pg_constraint c
    where c.conrelid = 'routes'::regclass and c.contype in ('p', 'u', 'f')
    union all
    select i.indexrelid::regclass::text, 'i', pg_get_indexdef(i.indexrelid)
    from pg_index i
    where i.indrelid = 'routes'::regclass and not exists (
      select 1 from pg_constraint c where c.conrelid = 'routes'::regclass
        and c.conindid = i.indexrelid)`;
  await tx.sql`do $$
    declare d record;
    begin
      for d in select name, kind from lotse_import_ddl order by kind <> 'f', kind = 'i' loop
        if d.kind = 'i' then
          execute 'drop index ' || d.name;
        else
          execute format('alter table routes drop constraint %I', d.name);
        end if;
      end loop;
    end $$`;
}

/**
 * Builds what {@linkcode dropRouteIndexes} dropped, under the same names: the primary key and
 * unique constraints first, then the other indexes, then the foreign keys (each checked by
 * one query over the table; {@linkcode copyRoutes} has reported every row that would fail).
 */
async function rebuildRouteIndexes(tx: Queryable): Promise<void> {
  // The index builds sort a million keys: in memory, not in temporary files.
  await tx.sql`set local maintenance_work_mem = '256MB'`;
  await tx.sql`do $$
    declare d record;
    begin
      for d in select name, kind, def from lotse_import_ddl
        order by kind = 'f', kind = 'i', kind = 'u' loop
        if d.kind = 'i' then
          execute d.def;
        else
          execute format('alter table routes add constraint %I %s', d.name, d.def);
        end if;
      end loop;
    end $$`;
}

/**
 * Each changed row that refers to an evidence type or provider that does not exist, at its
 * line: the import checked the references when it began, but one may have gone since (the
 * rows are staged without foreign keys). One scan of the changed rows.
 */
async function missingReferences(tx: Queryable, maxErrors: number): Promise<BulkCheck> {
  const rows = await tx.sql<{ line: number; id: string; message: string; total: number }>`
    select line, id, message, count(*) over ()::int as total from (
      select s.line, s.id, case
          when not exists (select 1 from evidence_types e where e.id = s.evidence_type)
          then 'evidenceType "' || s.evidence_type || '" names no evidence-types row'
          when not exists (select 1 from providers p where p.id = s.provider_id)
          then 'providerId "' || s.provider_id || '" names no providers row'
        end as message
      from lotse_import_changed s) bad
    where message is not null
    order by line limit ${maxErrors}`;
  return rowErrors(rows);
}

function rowErrors(
  rows: readonly { line: number; id: string; message: string; total: number }[],
): BulkCheck {
  return {
    errorCount: rows[0]?.total ?? 0,
    errors: rows.map(({ line, id, message }) => ({ line: Number(line), id, message })),
  };
}

/**
 * Each row after the first with its id, or with its evidence type and region key, and each
 * row whose evidence type and region key another route keeps that is not imported. An
 * unchanged row equals a route of the table, which holds each key once: a key twice in the
 * upload is a key twice among the changed rows, a changed row's key held by a route imported
 * too, or an id twice. So the windows run over those rows' groups, not over all.
 */
async function clashes(tx: Queryable, maxErrors: number): Promise<BulkCheck> {
  const rows = await tx.sql<{ line: number; id: string; message: string; total: number }>`
    with twice as (
      select id from lotse_import_routes group by id having count(*) > 1
    ), keys as (
      select evidence_type, region_key from lotse_import_changed
      group by evidence_type, region_key having count(*) > 1
      union
      select c.evidence_type, c.region_key from lotse_import_changed c
      join routes r using (evidence_type, region_key) where r.id <> c.id
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
  return rowErrors(rows);
}

/** Both reports in one, by line, at most `maxErrors` of them. */
function merged(a: BulkCheck, b: BulkCheck, maxErrors: number): BulkCheck {
  return {
    errorCount: a.errorCount + b.errorCount,
    errors: [...a.errors, ...b.errors].sort((x, y) => x.line - y.line).slice(0, maxErrors),
  };
}

async function copyRoutes(tx: Queryable, options: BulkOptions): Promise<BulkWriter<"routes">> {
  const bulkRows = options.bulkRows ?? BULK_ROWS;
  // The checks sort and hash a million staged rows: in memory, not in temporary files.
  await tx.sql`set local work_mem = '256MB'`;
  await tx.sql`create temp table lotse_import_routes (
    line int not null, id text not null, evidence_type text not null, region_key text not null,
    provider_id text not null) on commit drop`;
  let sink: CopySink | null = await tx.copyIn!`copy lotse_import_routes
    (line, id, evidence_type, region_key, provider_id) from stdin`;
  let text = "";
  let staged = 0;
  const preview = options.preview;
  /** The preview's id once published (the commit notes it), null if none. */
  let published: Promise<number | null> = Promise.resolve(null);
  /** The evidence types and providers the staged rows refer to. */
  const evidenceTypes = new Set<string>();
  const providers = new Set<string>();
  let changed: Changed = { count: 0, empty: false };
  /** The rows are written already (the bulk path writes while it checks). */
  let written = false;
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
      staged++;
      evidenceTypes.add(route.evidenceType);
      providers.add(route.providerId);
      text += `${line}\t${copyText(route.id)}\t${copyText(route.evidenceType)}\t${
        copyText(route.regionKey)
      }\t${copyText(route.providerId)}\n`;
      if (text.length < CHUNK) return undefined;
      const chunk = text;
      text = "";
      return sink!.write(chunk);
    },
    async check(maxErrors, refused = 0) {
      await close();
      const [seen] = await tx.sql<{ version: number }>`
        select version::int as version from table_versions where name = 'routes'`;
      changed = await findChanged(tx, staged, null);
      // Many rows to write: the table is held whole from here until the commit (instances
      // serve from memory; a writer of routes waits, then writes), and the evidence types and
      // providers in share mode (as re-adding the foreign keys would: none is deleted before
      // the commit). Taken in the order writers take them, so that none waits for the other
      // in a circle: a deleted provider's check reads routes, so the providers first; a route
      // write locks its row, then the version row below, so routes before that.
      let bulk = await manyChanged(tx, changed, bulkRows);
      if (bulk) {
        await tx.sql`lock table evidence_types, providers in share mode`;
        await tx.sql`lock table routes in access exclusive mode`;
      }
      // Writers of routes wait from here until the commit, so the rows found changed are
      // still the rows to write then; if one wrote in between, they are found again.
      const [held] = await tx.sql<{ version: number }>`
        select version::int as version from table_versions where name = 'routes' for update`;
      if (Number(held!.version) !== Number(seen!.version)) {
        changed = await findChanged(tx, staged, changed);
        bulk &&= await manyChanged(tx, changed, bulkRows);
      }
      // The evidence types and providers the changed rows refer to are kept from deletion
      // until the commit (the bulk path holds the two tables; otherwise their rows, as a
      // foreign key's check does row by row), so that a row that refers to none is found
      // here, at its line, and the foreign keys cannot fail.
      if (!bulk) {
        await tx.sql`select count(*) from (select 1 from evidence_types
          where id in (select evidence_type from lotse_import_changed) for key share) e`;
        await tx.sql`select count(*) from (select 1 from providers
          where id in (select provider_id from lotse_import_changed) for key share) p`;
      }
      // Whether any of them is gone: the keys the upload names, collected as it streamed,
      // against the two tables (hundreds of keys, not a million rows); the rows, if so.
      const [gone] = await tx.sql<{ any: boolean }>`
        select exists (select 1 from unnest(${[...evidenceTypes]}::text[]) k
            where not exists (select 1 from evidence_types e where e.id = k))
          or exists (select 1 from unnest(${[...providers]}::text[]) k
            where not exists (select 1 from providers p where p.id = k)) as any`;
      const missing = gone!.any
        ? await missingReferences(tx, maxErrors)
        : { errorCount: 0, errors: [] };
      // Too many rows to note one by one: the other instances get the preview, built into
      // their next index while this transaction writes; its commit notes the preview's id.
      if (
        preview && refused === 0 && missing.errorCount === 0 && changed.count > MAX_NOTED_ROWS
      ) {
        const rows = changed.count;
        const copy = await tx.copyOut!`copy (select line, id, evidence_type, region_key,
          provider_id from lotse_import_changed) to stdout`;
        await copy.read((chunk) => preview.write(chunk));
        published = preview.publish(rows);
      }
      if (bulk && missing.errorCount === 0) {
        // Rebuilding the primary key and the unique key finds an id or a key twice by the
        // sort it does anyway; only then are the clashes looked for, at their lines, with
        // the table as it was.
        await tx.sql`savepoint lotse_import_bulk`;
        try {
          await writeBulk(tx, changed);
          written = true;
          return { errorCount: 0, errors: [] };
        } catch (error) {
          if ((error as { code?: unknown }).code !== "23505") throw error;
          await tx.sql`rollback to savepoint lotse_import_bulk`;
        }
      }
      if (changed.empty) await tx.sql`analyze lotse_import_routes`;
      return merged(missing, await clashes(tx, maxErrors), maxErrors);
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
      if (changed.count === 0) return next - 1;
      if (!written) {
        await tx.sql`
          insert into routes (id, evidence_type, region_key, provider_id)
          select id, evidence_type, region_key, provider_id from lotse_import_changed
          on conflict (id) do update set evidence_type = excluded.evidence_type,
            region_key = excluded.region_key, provider_id = excluded.provider_id`;
      }
      // The rows written are noted under the next version, so every instance applies them
      // in place, unless there are too many: then they reload.
      if (changed.count <= MAX_NOTED_ROWS) {
        await tx.sql`insert into table_changes (table_name, version, row_key)
          select 'routes', ${next}, id from lotse_import_changed`;
      } else {
        const id = await published;
        if (id !== null) {
          await tx.sql`insert into table_change_previews (table_name, version, preview_id)
            values ('routes', ${next}, ${id})`;
        }
      }
      if (changed.empty) await tx.sql`drop view lotse_import_changed`;
      const version = await bump(tx, "routes");
      await pruneChanges(tx, "routes", version);
      return version;
    },
  };
}

/**
 * Writes the changed rows with the indexes and foreign keys of `routes` dropped (a replaced
 * row deleted first: no unique index to conflict on), then builds them again.
 */
async function writeBulk(tx: Queryable, changed: Changed): Promise<void> {
  await dropRouteIndexes(tx);
  if (!changed.empty) {
    await tx.sql`delete from routes r using lotse_import_changed c where r.id = c.id`;
  }
  // In key order: the primary key's build then reads sorted rows (2.6 → 0.8 s for a million,
  // for a sort of 2.6 → 6.3 s, scratch cluster at load 13). The paged load it also helped is
  // PGlite's only since routes load through COPY; not measured again without the order.
  await tx.sql`insert into routes (id, evidence_type, region_key, provider_id)
    select id, evidence_type, region_key, provider_id from lotse_import_changed order by id`;
  await rebuildRouteIndexes(tx);
}
