import assert from "node:assert/strict";
import { freshPostgres } from "../tests/pg.ts";
import { generateTables } from "../tools/generate.ts";
import { openPglite } from "./pglite.ts";
import { migrate } from "./migrate.ts";
import { loadRoutes, loadTable, loadTables, putRow, readVersions } from "./tables.ts";
import { seedTables } from "./seed.ts";
import { DEMO_CLIENTS, DEMO_PERMISSIONS } from "../demo/clients.ts";
import type { Route, Tables } from "../src/model.ts";
import type { Db } from "./types.ts";

/**
 * A consistent slice of the full-scale tables: one Land's Gemeinden, their PLZ, and the
 * routes (with providers) that reach them. Small enough for a test, real enough in shape.
 */
function smallTables(land: string, seed = 1): Tables & { readonly routes: readonly Route[] } {
  const all = generateTables({ seed });
  const regions = all.regions.filter((r) => r.ags.startsWith(land));
  const postcodes = all.postcodes.filter((p) => p.places.every((x) => x.ags.startsWith(land)));
  const routes = all.routes.filter((r) => r.regionKey === "" || r.regionKey.startsWith(land));
  const used = new Set(routes.map((r) => r.providerId));
  return {
    regions,
    postcodes,
    evidenceTypes: all.evidenceTypes,
    providers: all.providers.filter((p) => used.has(p.id)),
    routes,
    clients: DEMO_CLIENTS,
    // The demo's own evidence types (identitaetsdaten) are not in the generated catalogue.
    permissions: DEMO_PERMISSIONS.filter((p) =>
      all.evidenceTypes.some((e) => e.id === p.evidenceType) &&
      (p.providerId === null || used.has(p.providerId))
    ),
  };
}

function sortedIds<T>(rows: Iterable<T>, id: (row: T) => string): string[] {
  return [...rows].map(id).sort();
}

async function counts(db: Db): Promise<Record<string, number>> {
  const [row] = await db.sql<Record<string, number>>`select
    (select count(*)::int from regions) as regions,
    (select count(*)::int from postcode_places) as places,
    (select count(distinct plz)::int from postcode_places) as postcodes,
    (select count(*)::int from evidence_types) as evidence_types,
    (select count(*)::int from providers) as providers,
    (select count(*)::int from routes) as routes,
    (select count(*)::int from clients) as clients,
    (select count(*)::int from permissions) as permissions`;
  return row!;
}

function expectedCounts(t: Tables): Record<string, number> {
  return {
    regions: t.regions.length,
    places: t.postcodes.reduce((n, p) => n + p.places.length, 0),
    postcodes: t.postcodes.length,
    evidence_types: t.evidenceTypes.length,
    providers: t.providers.length,
    routes: t.routes.length,
    clients: t.clients.length,
    permissions: t.permissions.length,
  };
}

async function seedsAndReplaces(db: Db): Promise<void> {
  const small = smallTables("10");
  assert.ok(small.regions.length > 10 && small.routes.length > 100);
  const before = await readVersions(db);

  // A chunk size below the table sizes, so several chunks per table are exercised.
  const first = await seedTables(db, small, { replace: true, chunkSize: 37 });
  assert.deepEqual(await counts(db), expectedCounts(small));
  assert.equal(first.rows.routes, small.routes.length);
  const after = await readVersions(db);
  for (const name of Object.keys(before) as (keyof typeof before)[]) {
    assert.equal(after[name], before[name] + 1, `version of ${name} bumped once`);
  }

  // What Lotse loads back is what was written, nulls and per-row arrays included.
  const loaded = (await loadTables(db)).tables;
  assert.deepEqual(sortedIds(loaded.routes, (r) => r.id), sortedIds(small.routes, (r) => r.id));
  // Through COPY where the driver streams it (postgres.js), in pages (here of 7 rows) where
  // not: every route once, whole, either way.
  const byId = (a: Route, b: Route) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  const written = small.routes.map((r) => ({ ...r })).sort(byId);
  if (db.copyOut) assert.deepEqual([...await loadRoutes(db)].sort(byId), written);
  assert.deepEqual(await loadRoutes({ sql: db.sql.bind(db) }, 7), written);
  // Providers too, nulls and a shared CA certificate included.
  const cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  for (const id of ["with-ca-1", "with-ca-2"]) {
    await putRow(db, "providers", {
      id,
      name: `Register ${id}`,
      endpoint: `https://${id}.example/`,
      caCert: cert,
      xnachweisEndpoint: id === "with-ca-1" ? `https://${id}.example/xn` : null,
    });
  }
  const providers = (await loadTable(db, "providers")).sort((a, b) => a.id < b.id ? -1 : 1);
  assert.deepEqual(
    providers,
    (await loadTable({ sql: db.sql.bind(db) }, "providers")).sort((a, b) => a.id < b.id ? -1 : 1),
  );
  assert.equal(providers.filter((p) => p.caCert === cert).length, 2);
  assert.equal(providers.find((p) => p.id === "with-ca-2")!.xnachweisEndpoint, null);
  assert.ok(providers.some((p) => p.caCert === null));
  assert.deepEqual(
    loaded.permissions.find((p) => p.id === DEMO_PERMISSIONS[0]!.id),
    { onBehalfOf: null, ...DEMO_PERMISSIONS[0] },
  );
  assert.deepEqual(loaded.clients.find((c) => c.id === DEMO_CLIENTS[0]!.id), DEMO_CLIENTS[0]);
  const region = small.regions.find((r) => r.ars === null) ?? small.regions[0]!;
  assert.deepEqual(loaded.regions.find((r) => r.ags === region.ags), region);

  // Re-seeding with another Land replaces: nothing of the first set stays.
  const other = smallTables("04");
  await seedTables(db, other, { replace: true });
  assert.deepEqual(await counts(db), expectedCounts(other));
  const [stale] = await db.sql<{ n: number }>`
    select count(*)::int as n from regions where ags like '10%'`;
  assert.equal(stale!.n, 0);

  // Without replace, rows are created or replaced by id and the others stay.
  const renamed = other.routes.slice(0, 5).map((r) => ({
    ...r,
    providerId: other.providers[0]!.id,
  }));
  await seedTables(db, { routes: renamed });
  const [moved] = await db.sql<{ n: number }>`
    select count(*)::int as n from routes where provider_id = ${other.providers[0]!.id}
      and id = any(${renamed.map((r) => r.id)}::text[])`;
  assert.equal(moved!.n, 5);
  assert.equal((await counts(db)).routes, other.routes.length);
}

Deno.test("seedTables() loads generated tables into PostgreSQL and re-seeding replaces them", async () => {
  const db = await freshPostgres();
  try {
    await seedsAndReplaces(db);
  } finally {
    await db.close();
  }
});

Deno.test("seedTables() loads generated tables into PGlite and re-seeding replaces them", async () => {
  const db = await openPglite(null);
  try {
    await migrate(db);
    await seedsAndReplaces(db);
  } finally {
    await db.close();
  }
});

Deno.test("seedTables() writes nothing when one row is bad", async () => {
  const db = await freshPostgres();
  try {
    const small = smallTables("10");
    const bad = [...small.routes, { ...small.routes[0]!, id: "Not A Slug" }];
    await assert.rejects(seedTables(db, { ...small, routes: bad }, { replace: true }));
    assert.equal((await counts(db)).regions, 0);
    assert.equal((await readVersions(db)).routes, 0);
  } finally {
    await db.close();
  }
});
