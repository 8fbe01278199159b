import assert from "node:assert/strict";
import { buildNavIndex, type NavIndex } from "./nav_index.ts";
import { generateTables } from "../tools/generate.ts";
import type { Route } from "./model.ts";

function answers(index: NavIndex, types: readonly string[], agsList: readonly string[]): string[] {
  const out: string[] = [];
  for (const type of types) {
    for (const ags of agsList) {
      const r = index.resolve(type, ags);
      out.push(r.kind === "resolved" ? `${r.route.id}/${r.matchedLevel}` : r.kind);
    }
  }
  return out;
}

// A small deterministic random source, so a failure can be replayed.
function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

Deno.test("withRouteChanges() answers exactly like a full build after random changes", () => {
  const tables = generateTables({ seed: 3 });
  const random = rng(7);
  const types = tables.evidenceTypes.map((t) => t.id);
  const agsList = tables.regions.map((r) => r.ags);
  const providers = tables.providers.map((p) => p.id);
  let routes: Route[] = [...tables.routes];
  let index = buildNavIndex({ ...tables, routes });
  for (let round = 0; round < 8; round++) {
    const removed: Route[] = [];
    const added: Route[] = [];
    const taken = new Set(routes.map((r) => `${r.evidenceType}|${r.regionKey}`));
    for (let n = 0; n < 1 + Math.floor(random() * 4); n++) {
      const pick = routes[Math.floor(random() * routes.length)]!;
      const what = random();
      if (what < 0.4 && !removed.includes(pick)) {
        removed.push(pick); // delete
      } else if (what < 0.7 && !removed.includes(pick)) {
        removed.push(pick); // change of provider, same key
        added.push({ ...pick, providerId: providers[Math.floor(random() * providers.length)]! });
      } else {
        // a new route at Land, Kreis, Gemeinde or Bund level
        const ags = agsList[Math.floor(random() * agsList.length)]!;
        const key = ["", ags.slice(0, 2), ags.slice(0, 5), ags][Math.floor(random() * 4)]!;
        const type = types[Math.floor(random() * types.length)]!;
        if (taken.has(`${type}|${key}`)) continue;
        taken.add(`${type}|${key}`);
        added.push({
          id: `new-${round}-${n}`,
          evidenceType: type,
          regionKey: key,
          providerId: providers[Math.floor(random() * providers.length)]!,
        });
      }
    }
    const gone = new Set(removed.map((r) => r.id));
    routes = routes.filter((r) => !gone.has(r.id)).concat(added);
    const next = index.withRouteChanges(removed, added);
    assert.ok(next, `round ${round}`);
    index = next;
    const full = buildNavIndex({ ...tables, routes });
    const sample = agsList.filter((_, i) => i % 23 === round % 23);
    assert.deepEqual(answers(index, types, sample), answers(full, types, sample), `round ${round}`);
    assert.equal(index.counts.routes, full.counts.routes);
    for (const r of [...removed, ...added]) {
      assert.equal(
        index.serves(r.providerId, r.evidenceType),
        full.serves(r.providerId, r.evidenceType),
      );
    }
    // The route for all of Germany, against a walk of the type's routes.
    for (const type of types) {
      const walked = full.routes(type).find((r) => r.route.regionKey === "");
      assert.equal(index.federal(type)?.route.id, walked?.route.id, `${type} ${round}`);
    }
    // A provider's evidence types (the catalogue's), against one scan of the routes.
    const scanned = new Map<string, Set<string>>(providers.map((p) => [p, new Set()]));
    for (const r of routes) scanned.get(r.providerId)?.add(r.evidenceType);
    for (const [provider, set] of scanned) {
      assert.deepEqual(index.evidenceTypesServedBy(provider), [...set].sort(), provider);
    }
  }
  assert.deepEqual(index.evidenceTypesServedBy("no-such-provider"), []);
});

Deno.test("withRouteChanges() leaves the old index as it was and refuses a dangling route", () => {
  const tables = generateTables({ seed: 3 });
  const before = buildNavIndex(tables);
  const route = tables.routes.find((r) => r.regionKey.length === 8)!;
  const agsAnswer = before.resolve(route.evidenceType, route.regionKey);
  const after = before.withRouteChanges([route], [])!;
  assert.equal(before.resolve(route.evidenceType, route.regionKey), agsAnswer);
  const moved = after.resolve(route.evidenceType, route.regionKey);
  assert.ok(moved.kind !== "resolved" || moved.route.id !== route.id);
  assert.equal(before.withRouteChanges([], [{ ...route, providerId: "nobody" }]), null);
});

Deno.test("a build that takes over another index's region and provider parts answers like a fresh one", () => {
  const tables = generateTables({ seed: 3 });
  const before = buildNavIndex(tables);
  // Every third route gone, the rest moved to other providers: a whole new routes table.
  const providers = tables.providers.map((p) => p.id);
  const routes = tables.routes.filter((_, i) => i % 3 !== 0).map((r, i) => ({
    ...r,
    providerId: providers[(i * 31) % providers.length]!,
  }));
  const reused = buildNavIndex({ ...tables, routes }, {
    regionsFrom: before,
    providersFrom: before,
  });
  const fresh = buildNavIndex({ ...tables, routes });
  const types = tables.evidenceTypes.map((t) => t.id);
  const agsList = tables.regions.map((r) => r.ags).filter((_, i) => i % 7 === 0);
  assert.notDeepEqual(answers(reused, types, agsList), answers(before, types, agsList));
  assert.deepEqual(answers(reused, types, agsList), answers(fresh, types, agsList));
  assert.deepEqual(reused.counts, fresh.counts);
  const plz = tables.postcodes[0]!.plz;
  assert.deepEqual(reused.lookupPlz(plz), fresh.lookupPlz(plz));
  assert.deepEqual(reused.searchRegions("a"), fresh.searchRegions("a"));
  // And the one after a change in place keeps them too.
  const next = reused.withRouteChanges([routes[0]!], [])!;
  const again = buildNavIndex({ ...tables, routes: routes.slice(1) }, { regionsFrom: next });
  assert.deepEqual(
    answers(again, types, agsList),
    answers(buildNavIndex({ ...tables, routes: routes.slice(1) }), types, agsList),
  );
});
