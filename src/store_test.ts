import assert from "node:assert/strict";
import { applyRouteChanges, buildSnapshot, buildSnapshotInSlices, routePlan } from "./store.ts";
import { generateTables } from "../tools/generate.ts";
import type { Route, Tables } from "./model.ts";
import type { TableVersions } from "../db/tables.ts";

const VERSIONS: TableVersions = {
  "regions": 1,
  "postcodes": 1,
  "evidence-types": 1,
  "providers": 1,
  "routes": 1,
  "clients": 1,
  "permissions": 1,
};

Deno.test("applyRouteChanges() deletes, replaces and adds routes like a full load", () => {
  const generated = generateTables({ seed: 5 });
  const tables = { ...generated, clients: [], permissions: [] } satisfies Tables;
  const before = buildSnapshot(tables, VERSIONS);
  const routes = tables.routes;
  const deleted = [routes[3]!, routes[routes.length - 1]!, routes[1000]!];
  const changed = [routes[0]!, routes[500]!].map((r) => ({
    ...r,
    providerId: tables.providers[7]!.id,
  }));
  const type = tables.evidenceTypes[0]!.id;
  const taken = new Set(routes.filter((r) => r.evidenceType === type).map((r) => r.regionKey));
  const free = tables.regions.map((r) => r.ags).filter((ags) => !taken.has(ags)).slice(0, 3);
  assert.equal(free.length, 3);
  const added: Route[] = free.map((ags, i) => ({
    id: `neu-${i}`,
    evidenceType: type,
    regionKey: ags,
    providerId: tables.providers[2]!.id,
  }));
  const ids = [...deleted, ...changed, ...added].map((r) => r.id);
  const rows = [...changed, ...added];
  const after = applyRouteChanges(before, ids, rows, { ...VERSIONS, routes: 2 });
  assert.ok(after !== null);

  const gone = new Set(ids);
  const expected = [...routes.filter((r) => !gone.has(r.id)), ...rows];
  const key = (r: Route) => `${r.id}|${r.evidenceType}|${r.regionKey}|${r.providerId}`;
  assert.deepEqual(after.tables.routes.map(key).sort(), expected.map(key).sort());
  assert.equal(before.tables.routes.length, routes.length, "the old snapshot is unchanged");
  // The list stays in step with its id hashes: a second change finds what the first moved.
  const again = applyRouteChanges(after, [added[0]!.id, routes[2]!.id], [], VERSIONS);
  assert.ok(again !== null);
  assert.equal(again.tables.routes.length, after.tables.routes.length - 2);
  assert.ok(!again.tables.routes.some((r) => r.id === added[0]!.id || r.id === routes[2]!.id));
  const full = buildSnapshot({ ...tables, routes: expected }, VERSIONS);
  assert.equal(after.nav.counts.routes, full.nav.counts.routes);
  for (const route of [...deleted, ...changed, ...added]) {
    for (const ags of tables.regions.slice(0, 50).map((r) => r.ags).concat(free)) {
      assert.deepEqual(
        after.nav.resolve(route.evidenceType, ags),
        full.nav.resolve(route.evidenceType, ags),
      );
    }
    for (const provider of [route.providerId, tables.providers[7]!.id]) {
      assert.equal(
        after.nav.serves(provider, route.evidenceType),
        full.nav.serves(provider, route.evidenceType),
      );
    }
  }
});

Deno.test("routePlan() reads rows after an import's preview only when the preview comes first", () => {
  const log = (...keys: [number, string][]) => keys.map(([version, key]) => ({ version, key }));
  // No log (a bulk write without a preview, or pruned): the table is read whole.
  assert.equal(routePlan(null), null);
  // Rows changed one by one: each id once.
  assert.deepEqual(routePlan(log([4, "r-1"], [5, "r-2"], [6, "r-1"])), {
    preview: null,
    ids: ["r-1", "r-2"],
  });
  // A preview first, then rows written after the import: the preview, then those rows.
  assert.deepEqual(routePlan(log([4, "@preview:17"], [5, "r-9"])), {
    preview: 17,
    ids: ["r-9"],
  });
  assert.deepEqual(routePlan(log([4, "@preview:17"])), { preview: 17, ids: [] });
  // A row changed before the import's commit: the preview was built on an older snapshot.
  assert.equal(routePlan(log([4, "r-1"], [5, "@preview:17"])), null);
  // Two imports with previews: only the first could have been built on this snapshot.
  assert.equal(routePlan(log([4, "@preview:17"], [5, "@preview:18"])), null);
});

Deno.test("buildSnapshotInSlices() builds what buildSnapshot() builds, on a snapshot before too", async () => {
  const generated = generateTables({ seed: 6 });
  const tables = { ...generated, clients: [], permissions: [] } satisfies Tables;
  const whole = buildSnapshot(tables, VERSIONS);
  const sliced = await buildSnapshotInSlices(tables, VERSIONS);
  const moved = tables.routes.map((r, i) =>
    i % 3 === 0 ? { ...r, providerId: tables.providers[1]!.id } : r
  );
  const changed = { snapshot: whole, changed: new Set(["routes"] as const) };
  const next = buildSnapshot({ ...tables, routes: moved }, { ...VERSIONS, routes: 2 }, changed);
  const nextSliced = await buildSnapshotInSlices(
    { ...tables, routes: moved },
    { ...VERSIONS, routes: 2 },
    changed,
  );
  for (const [a, b] of [[whole, sliced], [next, nextSliced]] as const) {
    assert.equal(b.version, a.version);
    assert.deepEqual(b.nav.counts, a.nav.counts);
    assert.deepEqual([...b.tables.routes], [...a.tables.routes]);
    for (const route of [...a.tables.routes].slice(0, 200)) {
      for (const ags of tables.regions.slice(0, 20).map((r) => r.ags)) {
        assert.deepEqual(
          b.nav.resolve(route.evidenceType, ags),
          a.nav.resolve(route.evidenceType, ags),
        );
      }
    }
  }
});
