/**
 * Bulk loading of whole tables: multi-row inserts from `unnest` over array parameters, in
 * chunks, all in one transaction, each table's version bumped once. `putRows` writes row by
 * row, which takes minutes at full scale; this takes seconds. Works over any {@linkcode Db}
 * (postgres.js and PGlite).
 *
 * `tools/seed.ts` is its command line: it loads the generated full-scale tables into
 * `DATABASE_URL`.
 *
 * @example
 * ```ts
 * const db = await connectPostgres(url);
 * await migrate(db);
 * await seedTables(db, generateTables(), { replace: true });
 * ```
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
  Route,
  TableName,
  Tables,
} from "../src/model.ts";
import { bump } from "./tables.ts";
import type { Db, Queryable } from "./types.ts";

/** Options for {@linkcode seedTables}. */
export interface SeedOptions {
  /**
   * Remove every existing row of each given table first, so the table holds exactly the
   * given rows. Without it rows are created or replaced by id and others stay.
   */
  replace?: boolean;
  /** Rows per insert statement; default 20,000. */
  chunkSize?: number;
}

/** What {@linkcode seedTables} wrote. */
export interface SeedResult {
  /** Rows written per table (postcodes: PLZ, not places). */
  readonly rows: Partial<Record<TableName, number>>;
  /** The new version of each table written. */
  readonly versions: Partial<Record<TableName, number>>;
}

const DEFAULT_CHUNK = 20_000;

/** Parent tables before the tables whose foreign keys point at them. */
const ORDER: readonly (readonly [TableName, keyof Tables])[] = [
  ["regions", "regions"],
  ["postcodes", "postcodes"],
  ["evidence-types", "evidenceTypes"],
  ["providers", "providers"],
  ["routes", "routes"],
  ["clients", "clients"],
  ["permissions", "permissions"],
];

function* chunks<T>(rows: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}

function column<T, V>(rows: readonly T[], pick: (row: T) => V): V[] {
  return rows.map(pick);
}

async function deleteAll(tx: Queryable, table: TableName): Promise<void> {
  switch (table) {
    case "regions":
      await tx.sql`delete from regions`;
      break;
    case "postcodes":
      await tx.sql`delete from postcode_places`;
      break;
    case "evidence-types":
      await tx.sql`delete from evidence_types`;
      break;
    case "providers":
      await tx.sql`delete from providers`;
      break;
    case "routes":
      await tx.sql`delete from routes`;
      break;
    case "clients":
      await tx.sql`delete from clients`;
      break;
    case "permissions":
      await tx.sql`delete from permissions`;
      break;
  }
}

async function insertRegions(tx: Queryable, rows: readonly Region[]): Promise<void> {
  await tx.sql`insert into regions (ags, ars, name)
    select * from unnest(${column(rows, (r) => r.ags)}::text[],
      ${column(rows, (r) => r.ars)}::text[], ${column(rows, (r) => r.name)}::text[])
    on conflict (ags) do update set ars = excluded.ars, name = excluded.name`;
}

async function insertPostcodes(
  tx: Queryable,
  rows: readonly Postcode[],
  replace: boolean,
): Promise<void> {
  // A postcode row is the set of its places: without `replace` its old places go first.
  if (!replace) {
    await tx.sql`delete from postcode_places
      where plz = any(${column(rows, (p) => p.plz)}::text[])`;
  }
  const places = rows.flatMap((p) => p.places.map((x) => ({ plz: p.plz, ...x })));
  await tx.sql`insert into postcode_places (plz, ags, ort)
    select * from unnest(${column(places, (p) => p.plz)}::text[],
      ${column(places, (p) => p.ags)}::text[], ${column(places, (p) => p.ort)}::text[])
    on conflict do nothing`;
}

async function insertEvidenceTypes(tx: Queryable, rows: readonly EvidenceType[]): Promise<void> {
  await tx.sql`insert into evidence_types (id, name, description, classification)
    select * from unnest(${column(rows, (r) => r.id)}::text[],
      ${column(rows, (r) => r.name)}::text[], ${column(rows, (r) => r.description)}::text[],
      ${column(rows, (r) => r.classification ?? null)}::text[])
    on conflict (id) do update set name = excluded.name, description = excluded.description,
      classification = excluded.classification`;
}

async function insertProviders(tx: Queryable, rows: readonly Provider[]): Promise<void> {
  await tx.sql`insert into providers (id, name, endpoint, ca_cert, xnachweis_endpoint)
    select * from unnest(${column(rows, (r) => r.id)}::text[],
      ${column(rows, (r) => r.name)}::text[], ${column(rows, (r) => r.endpoint)}::text[],
      ${column(rows, (r) => r.caCert)}::text[],
      ${column(rows, (r) => r.xnachweisEndpoint ?? null)}::text[])
    on conflict (id) do update set name = excluded.name, endpoint = excluded.endpoint,
      ca_cert = excluded.ca_cert, xnachweis_endpoint = excluded.xnachweis_endpoint`;
}

async function insertRoutes(tx: Queryable, rows: readonly Route[]): Promise<void> {
  await tx.sql`insert into routes (id, evidence_type, region_key, provider_id)
    select * from unnest(${column(rows, (r) => r.id)}::text[],
      ${column(rows, (r) => r.evidenceType)}::text[], ${column(rows, (r) => r.regionKey)}::text[],
      ${column(rows, (r) => r.providerId)}::text[])
    on conflict (id) do update set evidence_type = excluded.evidence_type,
      region_key = excluded.region_key, provider_id = excluded.provider_id`;
}

// unnest() flattens a two-dimensional array, and rows' role lists differ in length, so
// per-row arrays and JSON travel as JSON text and are unpacked in SQL. Booleans travel as
// text too: postgres.js types a JS boolean array as a scalar boolean parameter.
async function insertClients(tx: Queryable, rows: readonly Client[]): Promise<void> {
  await tx.sql`insert into clients (id, name, roles, jwks)
    select t.id, t.name, array(select jsonb_array_elements_text(t.roles::jsonb)), t.jwks::jsonb
    from unnest(${column(rows, (r) => r.id)}::text[], ${column(rows, (r) => r.name)}::text[],
      ${column(rows, (r) => JSON.stringify(r.roles))}::text[],
      ${column(rows, (r) => JSON.stringify(r.jwks))}::text[]) as t(id, name, roles, jwks)
    on conflict (id) do update set name = excluded.name, roles = excluded.roles,
      jwks = excluded.jwks`;
}

async function insertPermissions(tx: Queryable, rows: readonly Permission[]): Promise<void> {
  await tx.sql`insert into permissions (id, consumer_id, evidence_type, provider_id,
      purposes, legal_bases, idnr_allowed, valid_from, valid_until, on_behalf_of)
    select t.id, t.consumer_id, t.evidence_type, t.provider_id,
      array(select jsonb_array_elements_text(t.purposes::jsonb)),
      array(select jsonb_array_elements_text(t.legal_bases::jsonb)),
      t.idnr_allowed::boolean, t.valid_from::timestamptz, t.valid_until::timestamptz,
      case when t.on_behalf_of is null then null
        else array(select jsonb_array_elements_text(t.on_behalf_of::jsonb)) end
    from unnest(${column(rows, (r) => r.id)}::text[],
      ${column(rows, (r) => r.consumerId)}::text[],
      ${column(rows, (r) => r.evidenceType)}::text[],
      ${column(rows, (r) => r.providerId)}::text[],
      ${column(rows, (r) => JSON.stringify(r.purposes))}::text[],
      ${column(rows, (r) => JSON.stringify(r.legalBases))}::text[],
      ${column(rows, (r) => String(r.idnrAllowed))}::text[],
      ${column(rows, (r) => r.validFrom)}::text[],
      ${column(rows, (r) => r.validUntil)}::text[],
      ${column(rows, (r) => r.onBehalfOf ? JSON.stringify(r.onBehalfOf) : null)}::text[])
      as t(id, consumer_id, evidence_type, provider_id, purposes, legal_bases, idnr_allowed,
        valid_from, valid_until, on_behalf_of)
    on conflict (id) do update set consumer_id = excluded.consumer_id,
      evidence_type = excluded.evidence_type, provider_id = excluded.provider_id,
      purposes = excluded.purposes, legal_bases = excluded.legal_bases,
      idnr_allowed = excluded.idnr_allowed, valid_from = excluded.valid_from,
      valid_until = excluded.valid_until, on_behalf_of = excluded.on_behalf_of`;
}

async function insertChunk(
  tx: Queryable,
  table: TableName,
  rows: readonly unknown[],
  replace: boolean,
): Promise<void> {
  switch (table) {
    case "regions":
      return await insertRegions(tx, rows as Region[]);
    case "postcodes":
      return await insertPostcodes(tx, rows as Postcode[], replace);
    case "evidence-types":
      return await insertEvidenceTypes(tx, rows as EvidenceType[]);
    case "providers":
      return await insertProviders(tx, rows as Provider[]);
    case "routes":
      return await insertRoutes(tx, rows as Route[]);
    case "clients":
      return await insertClients(tx, rows as Client[]);
    case "permissions":
      return await insertPermissions(tx, rows as Permission[]);
  }
}

/**
 * Writes the given tables in one transaction (all or nothing) and bumps each written
 * table's version once, so a running Lotse reloads each table once, at commit.
 *
 * With `replace`, the given tables are emptied first (children before parents), so a table
 * that other, not given tables still point at (regions under postcodes, providers under
 * routes, …) cannot be replaced on its own: the foreign key refuses it.
 *
 * @example
 * ```ts
 * await seedTables(db, { routes: newRoutes }, { replace: true });
 * ```
 */
export async function seedTables(
  db: Db,
  tables: Partial<Tables>,
  options: SeedOptions = {},
): Promise<SeedResult> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  if (!(Number.isInteger(chunkSize) && chunkSize > 0)) {
    throw new RangeError(`Cannot seed with chunk size "${chunkSize}": expected a positive integer`);
  }
  const given = ORDER.filter(([, key]) => tables[key] !== undefined);
  const replace = options.replace ?? false;
  return await db.transaction(async (tx) => {
    if (replace) {
      for (const [name] of [...given].reverse()) await deleteAll(tx, name);
    }
    const rows: Partial<Record<TableName, number>> = {};
    const versions: Partial<Record<TableName, number>> = {};
    for (const [name, key] of given) {
      // An array, or a table store's route list (iterable, not indexable).
      const source: Iterable<unknown> = tables[key]!;
      const all = Array.isArray(source) ? source : [...source];
      for (const chunk of chunks(all, chunkSize)) await insertChunk(tx, name, chunk, replace);
      rows[name] = all.length;
      versions[name] = await bump(tx, name);
    }
    // Emptying clients cascades to their permissions: announce that change too.
    if (replace && tables.clients !== undefined && tables.permissions === undefined) {
      versions.permissions = await bump(tx, "permissions");
    }
    return { rows, versions };
  });
}
