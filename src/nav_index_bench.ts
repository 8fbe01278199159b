/**
 * Navigation index benchmarks on full-scale generated tables (docs/targets.md P3 and P7).
 *
 * Lookup benches run {@linkcode BATCH} lookups per iteration over a fixed random sample, so
 * lookups/s = BATCH / (time per iteration). Build benches measure building the index from
 * tables already in memory, at full scale (~130k routes) and with 1 M routes.
 *
 * Run: `deno bench --allow-all src/nav_index_bench.ts`
 *
 * @module
 */

import { generateTables } from "../tools/generate.ts";
import { buildNavIndex } from "./nav_index.ts";
import { Rng } from "../tools/rng.ts";

const BATCH = 1024;

const tables = generateTables({ seed: 1 });
const index = buildNavIndex(tables);
const million = generateTables({ seed: 1, minRoutes: 1_000_000 });

// Seeded, so the sample is the same in every run.
const rng = new Rng(42);
const next = (n: number) => rng.int(n);
// Fresh string objects, like keys parsed from a request, not the table's own strings.
const fresh = (s: string) => [...s].join("");
const agsSample: string[] = [];
const arsSample: string[] = [];
const typeSample: string[] = [];
for (let i = 0; i < BATCH; i++) {
  const region = tables.regions[next(tables.regions.length)]!;
  agsSample.push(fresh(region.ags));
  arsSample.push(fresh(region.ars ?? ""));
  typeSample.push(fresh(tables.evidenceTypes[next(tables.evidenceTypes.length)]!.id));
}
const plzSample: string[] = [];
const ortSample: string[] = [];
for (let i = 0; i < BATCH; i++) {
  const pc = tables.postcodes[next(tables.postcodes.length)]!;
  const place = pc.places[next(pc.places.length)]!;
  plzSample.push(fresh(pc.plz));
  // Every other Ort in capitals, to take the normalising path too.
  ortSample.push(i % 2 === 0 ? fresh(place.ort) : place.ort.toUpperCase());
}
const reference = new Map(tables.regions.map((r) => [r.ags, r]));

let sink = 0;

Deno.bench({
  name: `Map.get by AGS (reference), ${BATCH} lookups`,
  group: "lookup",
  baseline: true,
  fn() {
    for (let i = 0; i < BATCH; i++) {
      if (reference.get(agsSample[i]!) !== undefined) sink++;
    }
  },
});

Deno.bench({
  name: `lookupAgs + resolve, ${BATCH} lookups`,
  group: "lookup",
  fn() {
    for (let i = 0; i < BATCH; i++) {
      const ags = agsSample[i]!;
      if (
        index.lookupAgs(ags).kind === "found" &&
        index.resolve(typeSample[i]!, ags).kind === "resolved"
      ) {
        sink++;
      }
    }
  },
});

Deno.bench({
  name: `lookupArs, ${BATCH} lookups`,
  group: "lookup",
  fn() {
    for (let i = 0; i < BATCH; i++) {
      if (index.lookupArs(arsSample[i]!).kind === "found") sink++;
    }
  },
});

Deno.bench({
  name: `lookupPlz with Ort, ${BATCH} lookups`,
  group: "lookup",
  fn() {
    for (let i = 0; i < BATCH; i++) {
      if (index.lookupPlz(plzSample[i]!, ortSample[i]!).kind === "found") sink++;
    }
  },
});

Deno.bench({
  name: `searchRegions (3-letter prefix, 20 results), ${BATCH} lookups`,
  group: "lookup",
  fn() {
    for (let i = 0; i < BATCH; i++) {
      sink += index.searchRegions(ortSample[i]!.slice(0, 3)).length;
    }
  },
});

Deno.bench({
  name: `buildNavIndex, full scale (${tables.routes.length} routes)`,
  group: "build",
  baseline: true,
  n: 10,
  warmup: 2,
  fn() {
    sink += buildNavIndex(tables).counts.routes;
  },
});

Deno.bench({
  name: `buildNavIndex, ${million.routes.length} routes`,
  group: "build",
  n: 5,
  warmup: 1,
  fn() {
    sink += buildNavIndex(million).counts.routes;
  },
});

globalThis.addEventListener("unload", () => {
  // Keeps the lookups observable so the compiler cannot drop them.
  if (sink === -1) console.log(sink);
});
