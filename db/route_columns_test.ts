import assert from "node:assert/strict";
import { buildNavIndex, type NavIndex } from "../src/nav_index.ts";
import type { Route } from "../src/model.ts";
import { idHash, RouteColumns, RouteColumnsBuilder } from "./route_columns.ts";
import { RouteList } from "../src/route_list.ts";
import { generateTables } from "../tools/generate.ts";
import { Rng } from "../tools/rng.ts";

/** `routes` in columns, as the COPY reader makes them (db/tables.ts, decodeRouteColumns). */
function columnsOf(
  routes: readonly Route[],
  expect?: ConstructorParameters<typeof RouteColumnsBuilder>[0],
): RouteColumns {
  const encoder = new TextEncoder();
  const lists = [[], [], []] as string[][];
  const ordinals = [new Map(), new Map(), new Map()] as Map<string, number>[];
  const ordinal = (column: number, value: string) => {
    let at = ordinals[column]!.get(value);
    if (at === undefined) {
      ordinals[column]!.set(value, at = lists[column]!.length);
      lists[column]!.push(value);
    }
    return at;
  };
  const builder = new RouteColumnsBuilder(expect);
  for (const r of routes) {
    // The id amid other bytes, as in a COPY chunk.
    const id = encoder.encode(`<<${r.id}>>`);
    builder.add(
      id,
      2,
      id.length - 2,
      ordinal(0, r.evidenceType),
      ordinal(1, r.regionKey),
      ordinal(2, r.providerId),
    );
  }
  return builder.finish(lists[0]!, lists[1]!, lists[2]!);
}

Deno.test("RouteColumns gives back every route, its id hash, and reads like an array", () => {
  // Ids of odd and even lengths, empty, and not ASCII (two- and three-byte UTF-8), over enough
  // rows to grow the builder's arrays several times.
  const routes: Route[] = Array.from({ length: 5000 }, (_, i) => ({
    id: [i === 0 ? "" : `${i}`, `a${i}`, `ab-${i}`, `r-${i}`, `straße-${i}`, `€${i}`][i % 6]!,
    evidenceType: `type-${i % 7}`,
    regionKey: ["", "08", "081", "08111", "08111000"][i % 5]!,
    providerId: `p-${i % 11}`,
  }));
  const columns = columnsOf(routes);
  assert.equal(columns.length, routes.length);
  assert.deepEqual([...columns], routes);
  for (let i = 0; i < routes.length; i++) {
    assert.equal(columns.idHashes[i], idHash(routes[i]!.id), routes[i]!.id);
    assert.deepEqual(columns.route(i), routes[i]);
  }
  assert.deepEqual(columns.find((r) => r.id === "straße-4"), routes[4]);
  assert.equal(columns.find((r) => r.id === "nowhere"), undefined);
  assert.equal(columns.some((r) => r.id === "€5"), true);
  assert.deepEqual(columns.map((r) => r.id), routes.map((r) => r.id));
  assert.deepEqual(
    columns.filter((r) => r.providerId === "p-3"),
    routes.filter((r) => r.providerId === "p-3"),
  );
  // A route list of the columns reads the same, and its changes find routes by id.
  const list = RouteList.from(columns);
  assert.equal(list.base, columns);
  assert.deepEqual([...list], routes);
  const { list: next, removed } = list.withChanges(
    ["straße-4", "€5", "missing"],
    [{ ...routes[4]!, providerId: "p-new" }],
  );
  assert.deepEqual(removed, [routes[4], routes[5]]);
  assert.equal(next.length, routes.length - 1);
  assert.deepEqual(next.find((r) => r.id === "straße-4")?.providerId, "p-new");
  assert.equal(next.some((r) => r.id === "€5"), false);
  assert.deepEqual([...list], routes, "the old list is unchanged");
});

Deno.test("RouteColumnsBuilder gives the same routes whatever size it was told to expect", () => {
  const routes: Route[] = Array.from({ length: 3000 }, (_, i) => ({
    id: `route-${i}`,
    evidenceType: `type-${i % 3}`,
    regionKey: String(i % 97).padStart(5, "0"),
    providerId: `p-${i % 5}`,
  }));
  const bytes = routes.reduce((sum, r) => sum + r.id.length, 0);
  // Too small (grown on the way), exact, a little over (kept), far over (trimmed).
  for (const [n, b] of [[10, 10], [3000, bytes], [3060, bytes * 1.02], [100_000, 4_000_000]]) {
    const columns = columnsOf(routes, { routes: n!, idBytes: b! });
    assert.equal(columns.length, routes.length);
    assert.equal(columns.idByteLength, bytes);
    assert.deepEqual([...columns], routes, `expecting ${n} routes`);
    // What is kept is at most an eighth more than the routes need.
    for (const array of [columns.types, columns.regions, columns.providers, columns.idHashes]) {
      assert.ok(array.buffer.byteLength <= routes.length * 4 * 1.125, `expecting ${n} routes`);
    }
  }
});

Deno.test("routes whose ids share a hash are told apart by their ids", () => {
  // Two ids of one 32-bit hash (found by solving the hash's last step for the second half).
  const [a, b] = ["coll", "aa\u048a\u13d2"];
  assert.equal(idHash(a), idHash(b));
  const tables = generateTables({ seed: 5 });
  const [first, second] = tables.routes.filter((r) => r.regionKey.length === 8);
  const routes = [
    ...tables.routes.filter((r) => r !== first && r !== second),
    { ...first!, id: a },
    { ...second!, id: b, evidenceType: first!.evidenceType },
  ];
  const columns = columnsOf(routes);
  assert.equal(columns.idHashes[routes.length - 1], columns.idHashes[routes.length - 2]);
  const list = RouteList.from(columns);
  const index = buildNavIndex({ ...tables, routes: list });
  const changed = list.withChanges([a], []);
  assert.deepEqual(changed.removed.map((r) => r.id), [a]);
  assert.equal(changed.list.some((r) => r.id === b), true);
  const next = index.withRouteChanges(changed.removed, [])!;
  const listed = next.routes(first!.evidenceType).map((r) => r.route.id);
  assert.equal(listed.includes(a), false);
  assert.equal(listed.includes(b), true);
  assert.equal(next.hasRoute(first!.evidenceType, second!.regionKey), true);
  assert.equal(next.hasRoute(first!.evidenceType, first!.regionKey), false);
});

/** Every answer of an index that a route can give, as text to compare. */
function everything(index: NavIndex, types: readonly string[], agsList: readonly string[]) {
  const out: string[] = [];
  for (const type of types) {
    for (const ags of agsList) {
      const held = ["", ags.slice(0, 2), ags.slice(0, 5), ags].map((k) => index.hasRoute(type, k));
      out.push(`${type} ${ags} has ${held}`);
      const r = index.resolve(type, ags);
      out.push(
        r.kind === "resolved"
          ? `${type} ${ags} ${JSON.stringify(r.route)} ${r.matchedLevel} ${r.provider.id}`
          : `${type} ${ags} ${r.kind}`,
      );
    }
    // The routes of a type in the table's order, which a change may move: sorted.
    const listed = index.routes(type).map((r) => r.route).sort(byId);
    out.push(`${type} routes ${JSON.stringify(listed)}`);
    out.push(`${type} federal ${JSON.stringify(index.federal(type)?.route)}`);
  }
  out.push(`counts ${JSON.stringify(index.counts)}`);
  out.push(`dangling ${JSON.stringify(index.danglingRouteIds)}`);
  return out;
}

Deno.test("An index built from route columns answers exactly like one built from objects, before and after changes", () => {
  const tables = generateTables({ seed: 5 });
  const agsList = tables.regions.map((r) => r.ags);
  const types = [...tables.evidenceTypes.map((t) => t.id), "no-such-type"];
  const first = tables.routes[0]!;
  const gemeinde = tables.routes.find((r) => r.regionKey.length === 8)!;
  const kreis = tables.routes.find((r) => r.regionKey.length === 5)!;
  let routes: Route[] = [
    ...tables.routes,
    // Two routes for one key: the smaller id wins, whether it comes first or last.
    { ...gemeinde, id: `0${gemeinde.id}`, providerId: first.providerId },
    { ...gemeinde, id: `${gemeinde.id}-z`, providerId: kreis.providerId },
    { ...kreis, id: `0${kreis.id}`, providerId: first.providerId },
    { ...kreis, id: `${kreis.id}-z`, providerId: gemeinde.providerId },
    // Dangling (no such provider, no such type), a malformed key, a Gemeinde not in the table.
    { ...first, id: "dangling-provider", providerId: "no-such-provider" },
    { ...first, id: "dangling-type", evidenceType: "no-such-type" },
    { ...first, id: "bad-key", regionKey: "0811" },
    { ...first, id: "unknown-gemeinde", regionKey: "99999999" },
  ];
  const sample = [
    ...agsList.filter((_, i) => i % 7 === 0),
    gemeinde.regionKey,
    ...agsList.filter((ags) => ags.startsWith(kreis.regionKey)),
    "99999999",
    "0811100",
  ];
  const plain = buildNavIndex({ ...tables, routes });
  const columns = columnsOf(routes);
  assert.deepEqual(
    everything(buildNavIndex({ ...tables, routes: columns }), types, sample),
    everything(plain, types, sample),
  );
  let list = RouteList.from(columns);
  let index = buildNavIndex({ ...tables, routes: list });
  assert.deepEqual(everything(index, types, sample), everything(plain, types, sample));
  assert.ok(index.serves(first.providerId, first.evidenceType));
  assert.deepEqual(
    index.evidenceTypesServedBy(first.providerId),
    plain.evidenceTypesServedBy(first.providerId),
  );

  // Changes applied in place to an index of columns, against a full build from objects. The
  // routes table holds one route per key, each naming a provider and type that exist
  // (db/migrations/001_tables.sql): so do the changes.
  // The repository's seeded PRNG, so a failure can be replayed.
  const rng = new Rng(11);
  const providers = tables.providers.map((p) => p.id);
  const special = new Set([
    gemeinde.id,
    kreis.id,
    ...routes.slice(tables.routes.length).map((r) => r.id),
  ]);
  const taken = new Set(routes.map((r) => `${r.evidenceType}|${r.regionKey}`));
  for (let round = 0; round < 6; round++) {
    const ids: string[] = [];
    const rows: Route[] = [];
    for (let n = 0; n < 1 + rng.int(5); n++) {
      const pick = rng.pick(routes);
      if (special.has(pick.id) || ids.includes(pick.id)) continue;
      ids.push(pick.id);
      // Deleted, or given another provider.
      if (rng.chance(0.5)) {
        rows.push({ ...pick, providerId: rng.pick(providers) });
      } else taken.delete(`${pick.evidenceType}|${pick.regionKey}`);
    }
    // A new route at Bund, Land, Kreis or Gemeinde level.
    for (;;) {
      const ags = rng.pick(agsList);
      const key = rng.pick(["", ags.slice(0, 2), ags.slice(0, 5), ags]);
      const type = types[rng.int(types.length - 1)]!;
      if (taken.has(`${type}|${key}`)) continue;
      taken.add(`${type}|${key}`);
      ids.push(`added-${round}`);
      rows.push({
        id: `added-${round}`,
        evidenceType: type,
        regionKey: key,
        providerId: providers[round]!,
      });
      break;
    }
    const changed = list.withChanges(ids, rows);
    const next = index.withRouteChanges(changed.removed, rows);
    assert.ok(next, `round ${round}`);
    const gone = new Set(ids);
    routes = routes.filter((r) => !gone.has(r.id)).concat(rows);
    list = changed.list;
    index = next;
    const full = buildNavIndex({ ...tables, routes });
    assert.deepEqual(
      everything(index, types, sample),
      everything(full, types, sample),
      `round ${round}`,
    );
    assert.deepEqual([...list].sort(byId), [...routes].sort(byId), `round ${round}`);
    // A full build over the changed list (arrays and ranges of the columns) answers alike.
    assert.deepEqual(
      everything(buildNavIndex({ ...tables, routes: list }), types, sample),
      everything(full, types, sample),
    );
  }
});

const byId = (a: Route, b: Route) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
