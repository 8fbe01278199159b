/**
 * Reading and writing the tables Lotse holds in memory. Every write bumps the table's
 * version and sends `NOTIFY lotse_tables` in the same transaction, so every instance sees
 * the change exactly when it is committed.
 *
 * @module
 */
import type {
  Client,
  EvidenceType,
  Permission,
  Postcode,
  Provider,
  Region,
  Role,
  Route,
  RouteRows,
  TableName,
  Tables,
} from "../src/model.ts";
import { type RouteColumns, RouteColumnsBuilder, type RouteColumnsSize } from "./route_columns.ts";
import type { CopySource, Db, Queryable } from "./types.ts";
import { recordAudit } from "./audit.ts";
import { CopyFormatError, CopyTextRows, type CopyTextRowsOptions } from "./_copy_binary.ts";

/** The channel every table change is announced on; the payload is the table name. */
export const TABLES_CHANNEL = "lotse_tables";

export type TableVersions = Record<TableName, number>;

/** The row type of each table, keyed by table name. */
export interface TableRows {
  "regions": Region;
  "postcodes": Postcode;
  "evidence-types": EvidenceType;
  "providers": Provider;
  "routes": Route;
  "clients": Client;
  "permissions": Permission;
}

function iso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
}

function json<T>(value: unknown): T {
  return (typeof value === "string" ? JSON.parse(value) : value) as T;
}

/** Reads the version of every table. */
export async function readVersions(db: Queryable): Promise<TableVersions> {
  const rows = await db.sql<{ name: TableName; version: number }>`
    select name, version::int as version from table_versions`;
  return Object.fromEntries(rows.map((r) => [r.name, Number(r.version)])) as TableVersions;
}

/**
 * What a whole table is read as: an array of rows, and for the routes their columns
 * (db/route_columns.ts) where the driver streams COPY.
 */
export type LoadedRows<K extends TableName> = K extends "routes" ? RouteRows : TableRows[K][];

type Loader<K extends TableName> = (
  db: Queryable,
  options?: LoadOptions,
) => Promise<LoadedRows<K>>;

// The big tables come unordered: the index does not need an order, and sorting a million
// routes on every reload costs the server more than anything else in the load.
const loaders: { [K in TableName]: Loader<K> } = {
  async "regions"(db) {
    return await db.sql<Region>`select ags, ars, name from regions order by ags`;
  },
  async "postcodes"(db) {
    const rows = await db.sql<{ plz: string; places: unknown }>`
      select plz, json_agg(json_build_object('ags', ags, 'ort', ort) order by ags, ort) as places
      from postcode_places group by plz order by plz`;
    return rows.map((r) => ({ plz: r.plz, places: json(r.places) }));
  },
  async "evidence-types"(db) {
    return await db.sql<EvidenceType>`
      select id, name, description, classification from evidence_types order by id`;
  },
  async "providers"(db, options) {
    // Tens of thousands at full scale: through COPY like the routes where the driver can.
    if (db.copyOut) {
      return await copyRows(
        pageRangeCopy(db, "providers", [
          "id",
          "name",
          "endpoint",
          "ca_cert",
          "xnachweis_endpoint",
        ]),
        // Few CAs sign many providers' certificates: one string each.
        { columns: 5, interned: [3], arrays: true },
        (c) => ({
          id: c[0]!,
          name: c[1]!,
          endpoint: c[2]!,
          caCert: c[3] ?? null,
          xnachweisEndpoint: c[4] ?? null,
        }),
        options,
      );
    }
    return await db.sql<Provider>`
      select id, name, endpoint, ca_cert as "caCert", xnachweis_endpoint as "xnachweisEndpoint"
      from providers`;
  },
  "routes": (db, options) => loadRoutes(db, ROUTE_PAGE, options),
  async "clients"(db) {
    const rows = await db.sql<{ id: string; name: string; roles: Role[]; jwks: unknown }>`
      select id, name, roles, jwks from clients order by id`;
    return rows.map((r) => ({ ...r, jwks: json(r.jwks) }));
  },
  async "permissions"(db) {
    const rows = await db.sql<Record<string, unknown>>`
      select id, consumer_id, evidence_type, provider_id, purposes, legal_bases, idnr_allowed,
        valid_from, valid_until, on_behalf_of
      from permissions order by id`;
    return rows.map((r) => ({
      id: r.id as string,
      consumerId: r.consumer_id as string,
      evidenceType: r.evidence_type as string,
      providerId: (r.provider_id as string | null) ?? null,
      purposes: r.purposes as string[],
      legalBases: r.legal_bases as string[],
      idnrAllowed: Boolean(r.idnr_allowed),
      validFrom: iso(r.valid_from),
      validUntil: iso(r.valid_until),
      onBehalfOf: (r.on_behalf_of as string[] | null) ?? null,
    }));
  },
};

/** Options for {@linkcode loadTable}. */
export interface LoadOptions {
  /**
   * Read a COPY in slices, a turn of the event loop after every ~20 ms: for an instance that
   * serves meanwhile (a reload), not for a start. Each turn costs ~1–2 ms of waiting.
   */
  sliced?: boolean;
  /** For the routes: how many, and how many bytes of ids, to make room for at once. */
  expect?: RouteColumnsSize;
}

/** How long a sliced COPY is read before the event loop gets a turn. */
const COPY_SLICE_MS = 20;

/** Reads all rows of one table. */
export function loadTable<K extends TableName>(
  db: Queryable,
  table: K,
  options: LoadOptions = {},
): Promise<LoadedRows<K>> {
  return loaders[table](db, options);
}

/** Reads every table and their versions in one consistent snapshot. */
export async function loadTables(db: Db): Promise<{ tables: Tables; versions: TableVersions }> {
  return await db.transaction(async (tx) => {
    await tx.sql`set transaction isolation level repeatable read, read only`;
    const versions = await readVersions(tx);
    const [regions, postcodes, evidenceTypes, providers, routes, clients, permissions] =
      await Promise.all([
        loaders.regions(tx),
        loaders.postcodes(tx),
        loaders["evidence-types"](tx),
        loaders.providers(tx),
        loaders.routes(tx),
        loaders.clients(tx),
        loaders.permissions(tx),
      ]);
    return {
      tables: { regions, postcodes, evidenceTypes, providers, routes, clients, permissions },
      versions,
    };
  });
}

/** The keys of every row of `table` (what a reference to it may name). */
export async function readKeys(db: Queryable, table: TableName): Promise<Set<string>> {
  const rows = await (() => {
    switch (table) {
      case "regions":
        return db.sql<{ k: string }>`select ags as k from regions`;
      case "postcodes":
        return db.sql<{ k: string }>`select distinct plz as k from postcode_places`;
      case "evidence-types":
        return db.sql<{ k: string }>`select id as k from evidence_types`;
      case "providers":
        return db.sql<{ k: string }>`select id as k from providers`;
      case "routes":
        return db.sql<{ k: string }>`select id as k from routes`;
      case "clients":
        return db.sql<{ k: string }>`select id as k from clients`;
      case "permissions":
        return db.sql<{ k: string }>`select id as k from permissions`;
    }
  })();
  return new Set(rows.map((r) => r.k));
}

/** The tables whose keys the rows of each table refer to (see {@linkcode checkReferences}). */
export const REFERENCED: { readonly [K in TableName]: readonly TableName[] } = {
  "regions": [],
  "postcodes": ["regions"],
  "evidence-types": [],
  "providers": [],
  "routes": ["evidence-types", "providers"],
  "clients": [],
  "permissions": ["clients", "evidence-types", "providers"],
};

/** Answers whether one reference holds: null when it does, else what the caller reports. */
export type ReferenceCheck<T> = (table: TableName, key: string, field: string) => T | null;

/**
 * Checks the references a row of `table` makes (each names a table and the key it must
 * hold) in turn with `check`, and returns its first answer that is not null. Nothing is
 * allocated for a route: an import checks a million of them.
 */
export function checkReferences<K extends TableName, T>(
  table: K,
  row: TableRows[K],
  check: ReferenceCheck<T>,
): T | null {
  switch (table) {
    case "postcodes": {
      const places = (row as Postcode).places;
      for (let i = 0; i < places.length; i++) {
        const found = check("regions", places[i]!.ags, `places[${i}].ags`);
        if (found !== null) return found;
      }
      return null;
    }
    case "routes": {
      const r = row as Route;
      return check("evidence-types", r.evidenceType, "evidenceType") ??
        check("providers", r.providerId, "providerId");
    }
    case "permissions": {
      const p = row as Permission;
      return check("clients", p.consumerId, "consumerId") ??
        check("evidence-types", p.evidenceType, "evidenceType") ??
        (p.providerId === null ? null : check("providers", p.providerId, "providerId"));
    }
    default:
      return null;
  }
}

/** Reads one row, or null. */
export async function getRow<K extends TableName>(
  db: Queryable,
  table: K,
  id: string,
): Promise<TableRows[K] | null> {
  switch (table) {
    case "postcodes": {
      const rows = await db.sql<{ ags: string; ort: string }>`
        select ags, ort from postcode_places where plz = ${id} order by ags, ort`;
      return (rows.length ? { plz: id, places: rows } : null) as TableRows[K] | null;
    }
    default: {
      // Small tables: read via the loader's mapping to keep one source of the row shape.
      const rows = await rowById(db, table, id);
      return (rows[0] ?? null) as TableRows[K] | null;
    }
  }
}

async function rowById(db: Queryable, table: TableName, id: string): Promise<unknown[]> {
  switch (table) {
    case "regions":
      return await db.sql`select ags, ars, name from regions where ags = ${id}`;
    case "evidence-types":
      return await db.sql`
        select id, name, description, classification from evidence_types where id = ${id}`;
    case "providers":
      return await db.sql`
        select id, name, endpoint, ca_cert as "caCert", xnachweis_endpoint as "xnachweisEndpoint"
        from providers where id = ${id}`;
    case "routes":
      return await db.sql`
        select id, evidence_type as "evidenceType", region_key as "regionKey",
          provider_id as "providerId"
        from routes where id = ${id}`;
    case "clients": {
      const rows = await db.sql<{ jwks: unknown }>`
        select id, name, roles, jwks from clients where id = ${id}`;
      return rows.map((r) => ({ ...r, jwks: json(r.jwks) }));
    }
    case "permissions": {
      const all = await loaders.permissions(db);
      return all.filter((p) => p.id === id);
    }
    case "postcodes":
      return [];
  }
}

/** Bumps the version of `table` and announces the change (delivered at commit). */
export async function bump(tx: Queryable, table: TableName): Promise<number> {
  const [row] = await tx.sql<{ version: number }>`
    update table_versions set version = version + 1 where name = ${table}
    returning version::int as version`;
  await tx.sql`select pg_notify(${TABLES_CHANNEL}, ${table})`;
  return Number(row!.version);
}

/** How many versions of a table's change log are kept. */
const CHANGES_KEPT = 5000;

/**
 * Most rows one version may note as changed (an import); a bigger change notes none, and
 * every instance reads the table whole.
 */
export const MAX_NOTED_ROWS = 10_000;

/** Notes that version `version` of `table` changed the row `key` (single-row writes). */
async function noteChange(
  tx: Queryable,
  table: TableName,
  version: number,
  key: string,
): Promise<void> {
  await tx.sql`insert into table_changes (table_name, version, row_key)
    values (${table}, ${version}, ${key}) on conflict do nothing`;
  await pruneChanges(tx, table, version);
}

/** Drops the change log of `table` older than the newest {@linkcode CHANGES_KEPT} versions. */
export async function pruneChanges(tx: Queryable, table: TableName, version: number) {
  if (version % 100 === 0) {
    await tx.sql`delete from table_changes
      where table_name = ${table} and version <= ${version - CHANGES_KEPT}`;
    await tx.sql`delete from table_change_previews
      where table_name = ${table} and version <= ${version - CHANGES_KEPT}`;
  }
}

/** One entry of a table's change log: version `version` changed the row `key`. */
export interface Change {
  readonly version: number;
  readonly key: string;
}

/**
 * The change log of `table` after version `from` up to `to`, by version, or null when the
 * log does not cover every version in between (a bulk write without a preview, or pruned):
 * then the table must be read whole. A bulk write with a preview notes its marker
 * (db/import_preview.ts) instead of its rows.
 */
export async function readChanges(
  db: Queryable,
  table: TableName,
  from: number,
  to: number,
): Promise<Change[] | null> {
  if (to <= from) return [];
  if (to - from > CHANGES_KEPT) return null;
  // A version an import with a preview made is noted apart (db/import_preview.ts).
  const rows = await db.sql<{ version: string | number; row_key: string }>`
    select version, row_key from table_changes
    where table_name = ${table} and version > ${from} and version <= ${to}
    union all
    select version, '@preview:' || preview_id from table_change_previews
    where table_name = ${table} and version > ${from} and version <= ${to}
    order by version`;
  const changes = rows.map((r) => ({ version: Number(r.version), key: r.row_key }));
  const versions = new Set(changes.map((c) => c.version));
  return versions.size === to - from ? changes : null;
}

/** The routes with these ids (those that still exist). */
export async function loadRoutesById(db: Queryable, ids: readonly string[]): Promise<Route[]> {
  return leanRoutes(
    await db.sql<Route>`
      select id, evidence_type as "evidenceType", region_key as "regionKey",
        provider_id as "providerId"
      from routes where id = any(${ids}::text[])`,
  );
}

/** Routes read per query when a whole table is loaded. */
const ROUTE_PAGE = 50_000;

/**
 * Reads every route, page by page in key order: the driver's rows for a million routes at
 * once (a fresh object and four strings per row) made the peak of a load, and the
 * instance's heap stayed that big after it.
 */
export async function loadRoutes(
  db: Queryable,
  pageSize = ROUTE_PAGE,
  options: LoadOptions = {},
): Promise<RouteRows> {
  // With one binary `COPY … TO STDOUT`, decoded from its bytes (db/_copy_binary.ts): no
  // driver row per route, and the evidence type, region key and provider of a route are
  // strings made once per distinct value. Unordered, like the pages.
  //
  // The COPY sends a tuple of four arrays per 64 pages of the table (`pageRangeCopy()`), not a
  // tuple per route: the driver's work per COPY message was a fifth of a start's table load
  // (BENCHMARKS.md, "Session 9, P8").
  //
  // The routes come as columns (db/route_columns.ts): no object and no id string per route.
  if (db.copyOut) {
    return await decodeRouteColumns(
      pageRangeCopy(db, "routes", ["id", "evidence_type", "region_key", "provider_id"]),
      { ...options, arrays: true },
    );
  }
  const pool = new Map<string, string>();
  const out: Route[] = [];
  let after = "";
  for (;;) {
    const page = await db.sql<Route>`
      select id, evidence_type as "evidenceType", region_key as "regionKey",
        provider_id as "providerId"
      from routes where id > ${after} order by id limit ${pageSize}`;
    leanRoutes(page, out, pool);
    if (page.length < pageSize) return out;
    after = page[page.length - 1]!.id;
  }
}

/**
 * The routes a binary COPY of (id, evidence type, region key, provider) gives, in columns: the
 * ids' bytes copied, the other three as ordinals of their distinct values.
 */
export async function decodeRouteColumns(
  starting: Promise<CopySource>,
  options: LoadOptions & Pick<CopyTextRowsOptions, "arrays"> = {},
): Promise<RouteColumns> {
  const builder = new RouteColumnsBuilder(options.expect);
  const decoder = new CopyTextRows(4, [1, 2, 3], () => {}, {
    arrays: options.arrays,
    raw: ({ bytes, starts, ends, ordinals }) => {
      if (starts[0]! < 0 || ordinals[1]! < 0 || ordinals[2]! < 0 || ordinals[3]! < 0) {
        throw new CopyFormatError("Cannot decode the routes: a column is NULL");
      }
      builder.add(bytes, starts[0]!, ends[0]!, ordinals[1]!, ordinals[2]!, ordinals[3]!);
    },
  });
  await decodeCopy(starting, decoder, options);
  return builder.finish(decoder.values(1), decoder.values(2), decoder.values(3));
}

/** Pages of a table per COPY tuple: ~4,600 routes at the full-scale tables. */
const PAGES_PER_TUPLE = 64;

/**
 * A binary `COPY … TO STDOUT` of `columns` of `table` as one tuple of arrays (one array per
 * column) per {@linkcode PAGES_PER_TUPLE} pages, decoded by `CopyTextRows`' `arrays` mode. Each
 * tuple is one TID range scan (PostgreSQL 14, db/migrate.ts), so PostgreSQL streams them as it
 * goes; the ranges of pages cover the table once, so every row of the transaction's snapshot
 * comes exactly once (pages added since hold none of its rows). `table` and `columns` are this
 * module's constants, never input; the caller has checked that the driver has `copyOut`.
 */
function pageRangeCopy(
  db: Queryable,
  table: "routes" | "providers",
  columns: readonly [string, ...string[]],
): Promise<CopySource> {
  const [first, ...rest] = columns;
  const arrays = [`array_agg(${first}) as ids`, ...rest.map((c) => `array_agg(${c})`)];
  const sql = `copy (
    select chunk.* from generate_series(
      0, pg_relation_size('${table}') / current_setting('block_size')::int, ${PAGES_PER_TUPLE}
    ) as pages(first)
    cross join lateral (
      select ${arrays.join(", ")}
      from ${table}
      where ctid >= format('(%s,0)', pages.first)::tid
        and ctid < format('(%s,0)', pages.first + ${PAGES_PER_TUPLE})::tid
    ) as chunk
    where chunk.ids is not null
  ) to stdout (format binary)`;
  return db.copyOut!([sql] as unknown as TemplateStringsArray);
}

/** The rows of a binary COPY of text columns, each made into a `T` by `make`. */
async function copyRows<T>(
  starting: Promise<CopySource>,
  shape: { columns: number; interned: readonly number[] } & CopyTextRowsOptions,
  make: (cells: readonly (string | null)[]) => T,
  options: LoadOptions = {},
): Promise<T[]> {
  const out: T[] = [];
  const decoder = new CopyTextRows(shape.columns, shape.interned, (c) => out.push(make(c)), {
    arrays: shape.arrays,
  });
  await decodeCopy(starting, decoder, options);
  return out;
}

/** Feeds the COPY `starting` to `decoder` (in slices for a reload) to its checked end. */
async function decodeCopy(
  starting: Promise<CopySource>,
  decoder: CopyTextRows,
  options: LoadOptions,
): Promise<void> {
  await (await starting).read(
    (chunk) => decoder.push(chunk),
    options.sliced ? { sliceMs: COPY_SLICE_MS } : {},
  );
  decoder.end();
}

// The driver makes a new string for every cell: a million routes would hold a million copies
// of a few hundred evidence type, region key and provider names. One copy each, and routes
// as plain objects of one shape, keep an instance lean (loadtest/full_scale.ts measures it).
function leanRoutes(
  rows: readonly Route[],
  out: Route[] = [],
  pool = new Map<string, string>(),
): Route[] {
  const one = (s: string) => {
    const held = pool.get(s);
    if (held !== undefined) return held;
    pool.set(s, s);
    return s;
  };
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    out.push({
      id: r.id,
      evidenceType: one(r.evidenceType),
      regionKey: one(r.regionKey),
      providerId: one(r.providerId),
    });
  }
  return out;
}

/** Writes one row (create or replace) inside `tx`, without bumping the version. */
export async function writeRow<K extends TableName>(
  tx: Queryable,
  table: K,
  row: TableRows[K],
): Promise<void> {
  switch (table) {
    case "regions": {
      const r = row as Region;
      await tx.sql`insert into regions (ags, ars, name) values (${r.ags}, ${r.ars}, ${r.name})
        on conflict (ags) do update set ars = excluded.ars, name = excluded.name`;
      break;
    }
    case "postcodes": {
      const p = row as Postcode;
      await tx.sql`delete from postcode_places where plz = ${p.plz}`;
      await tx.sql`insert into postcode_places (plz, ags, ort)
        select ${p.plz}, ags, ort
        from unnest(${p.places.map((x) => x.ags)}::text[], ${p.places.map((x) => x.ort)}::text[])
          as t(ags, ort)
        on conflict do nothing`;
      break;
    }
    case "evidence-types": {
      const e = row as EvidenceType;
      await tx.sql`insert into evidence_types (id, name, description, classification)
        values (${e.id}, ${e.name}, ${e.description}, ${e.classification ?? null})
        on conflict (id) do update set name = excluded.name, description = excluded.description,
          classification = excluded.classification`;
      break;
    }
    case "providers": {
      const p = row as Provider;
      await tx.sql`insert into providers (id, name, endpoint, ca_cert, xnachweis_endpoint)
        values (${p.id}, ${p.name}, ${p.endpoint}, ${p.caCert}, ${p.xnachweisEndpoint ?? null})
        on conflict (id) do update set name = excluded.name, endpoint = excluded.endpoint,
          ca_cert = excluded.ca_cert, xnachweis_endpoint = excluded.xnachweis_endpoint`;
      break;
    }
    case "routes": {
      const r = row as Route;
      await tx.sql`insert into routes (id, evidence_type, region_key, provider_id)
        values (${r.id}, ${r.evidenceType}, ${r.regionKey}, ${r.providerId})
        on conflict (id) do update set evidence_type = excluded.evidence_type,
          region_key = excluded.region_key, provider_id = excluded.provider_id`;
      break;
    }
    case "clients": {
      const c = row as Client;
      await tx.sql`insert into clients (id, name, roles, jwks)
        values (${c.id}, ${c.name}, ${c.roles}::text[], ${JSON.stringify(c.jwks)}::jsonb)
        on conflict (id) do update set name = excluded.name, roles = excluded.roles,
          jwks = excluded.jwks`;
      break;
    }
    case "permissions": {
      const p = row as Permission;
      await tx.sql`insert into permissions (id, consumer_id, evidence_type, provider_id,
          purposes, legal_bases, idnr_allowed, valid_from, valid_until, on_behalf_of)
        values (${p.id}, ${p.consumerId}, ${p.evidenceType}, ${p.providerId},
          ${p.purposes}::text[], ${p.legalBases}::text[], ${p.idnrAllowed},
          ${p.validFrom}::timestamptz, ${p.validUntil}::timestamptz,
          ${p.onBehalfOf ?? null}::text[])
        on conflict (id) do update set consumer_id = excluded.consumer_id,
          evidence_type = excluded.evidence_type, provider_id = excluded.provider_id,
          purposes = excluded.purposes, legal_bases = excluded.legal_bases,
          idnr_allowed = excluded.idnr_allowed, valid_from = excluded.valid_from,
          valid_until = excluded.valid_until, on_behalf_of = excluded.on_behalf_of`;
      break;
    }
  }
}

/** Who makes a change, for the audit trail; without it nothing is recorded (seeding, tests). */
export interface ChangeOptions {
  /** The client id of the operator. */
  actor?: string;
}

/** Creates or replaces one row; returns the table's new version. */
export async function putRow<K extends TableName>(
  db: Db,
  table: K,
  row: TableRows[K],
  options: ChangeOptions = {},
): Promise<{ version: number; created: boolean }> {
  return await db.transaction((tx) => putRowIn(tx, table, row, options));
}

/** Thrown by {@linkcode putRowIn} with `createOnly` when the row exists already. */
export class RowExistsError extends Error {
  override name = "RowExistsError";
  constructor(readonly table: TableName, readonly key: string) {
    super(`Row "${key}" of table "${table}" exists already`);
  }
}

/** Options for {@linkcode putRowIn}. */
export interface PutRowOptions extends ChangeOptions {
  /** Refuse to replace an existing row ({@linkcode RowExistsError}). */
  createOnly?: boolean;
}

/**
 * {@linkcode putRow} inside the caller's transaction `tx`: several rows of several tables
 * written at once (an onboarding approval) each get their audit entry, version bump and
 * change note, and commit or roll back together.
 */
export async function putRowIn<K extends TableName>(
  tx: Queryable,
  table: K,
  row: TableRows[K],
  options: PutRowOptions = {},
): Promise<{ version: number; created: boolean }> {
  const key = rowId(table, row);
  const before = await getRow(tx, table, key);
  if (before !== null && options.createOnly) throw new RowExistsError(table, key);
  await writeRow(tx, table, row);
  if (options.actor !== undefined) {
    await recordAudit(tx, {
      actor: options.actor,
      action: "put",
      table,
      key,
      before,
      after: row,
    });
  }
  const version = await bump(tx, table);
  await noteChange(tx, table, version, key);
  return { version, created: before === null };
}

/** Writes many rows in one transaction (all or nothing); returns the new version. */
export async function putRows<K extends TableName>(
  db: Db,
  table: K,
  rows: Iterable<TableRows[K]>,
): Promise<number> {
  return await db.transaction(async (tx) => {
    for (const row of rows) await writeRow(tx, table, row);
    return await bump(tx, table);
  });
}

// A row as a string that is equal for equal rows: keys sorted, null as absent, a postcode's
// places in the order the loader returns them.
function canonical(table: TableName, row: unknown): string {
  const value = table === "postcodes"
    ? {
      ...(row as Postcode),
      places: [...(row as Postcode).places].sort((a, b) =>
        a.ags < b.ags ? -1 : a.ags > b.ags ? 1 : a.ort < b.ort ? -1 : a.ort > b.ort ? 1 : 0
      ),
    }
    : row;
  return JSON.stringify(
    value,
    (_key, v) =>
      v === undefined
        ? null
        : v !== null && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(
          Object.keys(v).sort().filter((k) => v[k] !== undefined && v[k] !== null).map((
            k,
          ) => [k, v[k]]),
        )
        : v,
  );
}

/**
 * Writes those of `rows` that differ from the stored rows of `table` inside `tx`, and bumps
 * the version only when one did: writing the same data again changes nothing.
 * Returns how many rows were written.
 */
export async function syncRows<K extends TableName>(
  tx: Queryable,
  table: K,
  rows: Iterable<TableRows[K]>,
): Promise<number> {
  const stored = new Map(
    // An array, or the routes' columns: mapped, not indexed.
    (await loadTable(tx, table) as { map<T>(fn: (row: TableRows[K]) => T): T[] }).map((r) => [
      rowId(table, r),
      canonical(table, r),
    ]),
  );
  let written = 0;
  for (const row of rows) {
    if (stored.get(rowId(table, row)) === canonical(table, row)) continue;
    await writeRow(tx, table, row);
    written++;
  }
  if (written > 0) await bump(tx, table);
  return written;
}

/** Removes one row; returns the new version, or null when there was no such row. */
export async function deleteRow(
  db: Db,
  table: TableName,
  id: string,
  options: ChangeOptions = {},
): Promise<number | null> {
  return await db.transaction(async (tx) => {
    const before = options.actor === undefined ? null : await getRow(tx, table, id);
    const gone = await deleteById(tx, table, id);
    if (gone === 0) return null;
    if (options.actor !== undefined) {
      await recordAudit(tx, { actor: options.actor, action: "delete", table, key: id, before });
    }
    const version = await bump(tx, table);
    await noteChange(tx, table, version, id);
    return version;
  });
}

async function deleteById(tx: Queryable, table: TableName, id: string): Promise<number> {
  const rows = await (() => {
    switch (table) {
      case "regions":
        return tx.sql`delete from regions where ags = ${id} returning 1`;
      case "postcodes":
        return tx.sql`delete from postcode_places where plz = ${id} returning 1`;
      case "evidence-types":
        return tx.sql`delete from evidence_types where id = ${id} returning 1`;
      case "providers":
        return tx.sql`delete from providers where id = ${id} returning 1`;
      case "routes":
        return tx.sql`delete from routes where id = ${id} returning 1`;
      case "clients":
        return tx.sql`delete from clients where id = ${id} returning 1`;
      case "permissions":
        return tx.sql`delete from permissions where id = ${id} returning 1`;
    }
  })();
  return rows.length;
}

/** The id of a row of `table`. */
export function rowId<K extends TableName>(table: K, row: TableRows[K]): string {
  switch (table) {
    case "regions":
      return (row as Region).ags;
    case "postcodes":
      return (row as Postcode).plz;
    default:
      return (row as { id: string }).id;
  }
}
