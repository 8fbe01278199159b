import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { generateTables } from "./generate.ts";
import { buildNavIndex } from "../src/nav_index.ts";
import { normalizeOrt } from "../src/ort.ts";

const tables = generateTables({ seed: 1 });
const index = buildNavIndex(tables);

function digest(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex");
}

Deno.test("generateTables() makes tables at Germany's scale", () => {
  const laender = new Set(tables.regions.map((r) => r.ags.slice(0, 2)));
  const kreise = new Set(tables.regions.map((r) => r.ags.slice(0, 5)));
  assert.deepEqual(
    [...laender].sort(),
    Array.from({ length: 16 }, (_, i) => String(i + 1).padStart(2, "0")),
  );
  assert.equal(kreise.size, 401);
  assert.ok(tables.regions.length >= 10_000 && tables.regions.length <= 11_500, "Gemeinden");
  assert.ok(tables.postcodes.length >= 7_800 && tables.postcodes.length <= 8_600, "PLZ");
  assert.ok(tables.evidenceTypes.length >= 45 && tables.evidenceTypes.length <= 60, "types");
  assert.ok(tables.routes.length >= 100_000, "routes");
  assert.ok(tables.providers.length > 1_000, "providers");
});

Deno.test("generateTables() uses the real Land codes and Kreis keys", () => {
  const name = (id: string) => index.provider(id)?.name;
  assert.equal(name("handelsregister-01"), "Handelsregister Schleswig-Holstein");
  assert.equal(name("handelsregister-09"), "Handelsregister Bayern");
  assert.equal(name("handelsregister-16"), "Handelsregister Thüringen");
  assert.equal(index.region("08111000")?.name, "Stuttgart");
  assert.equal(index.region("09162000")?.name, "München");
  assert.equal(index.region("11000000")?.name, "Berlin");
  assert.equal(index.region("02000000")?.name, "Hamburg");
  assert.equal(name("bauaufsicht-05315"), "Untere Bauaufsicht Köln");
});

Deno.test("generateTables() writes well-formed, unique keys with ARS consistent with AGS", () => {
  const ags = new Set<string>();
  for (const r of tables.regions) {
    assert.match(r.ags, /^\d{8}$/);
    assert.ok(r.ars !== null && /^\d{12}$/.test(r.ars), r.ags);
    assert.equal(r.ars.slice(0, 5) + r.ars.slice(9), r.ags);
    assert.ok(!ags.has(r.ags), `duplicate AGS ${r.ags}`);
    ags.add(r.ags);
  }
  const plz = new Set<string>();
  for (const p of tables.postcodes) {
    assert.match(p.plz, /^\d{5}$/);
    assert.ok(!plz.has(p.plz), `duplicate PLZ ${p.plz}`);
    plz.add(p.plz);
  }
  assert.equal(new Set(tables.routes.map((r) => r.id)).size, tables.routes.length);
  assert.equal(new Set(tables.providers.map((p) => p.id)).size, tables.providers.length);
});

Deno.test("generateTables() gives a kreisfreie Stadt exactly one Gemeinde xxxxx000", () => {
  for (const kreis of ["08111", "09162", "05315", "11000", "02000", "04011"]) {
    const inKreis = tables.regions.filter((r) => r.ags.startsWith(kreis));
    assert.deepEqual(inKreis.map((r) => r.ags), [`${kreis}000`]);
    assert.equal(inKreis[0]!.ars, `${kreis}0000000`);
  }
});

Deno.test("generateTables() links every postcode place, route and provider to what exists", () => {
  const ags = new Set(tables.regions.map((r) => r.ags));
  const providers = new Set(tables.providers.map((p) => p.id));
  const types = new Set(tables.evidenceTypes.map((t) => t.id));
  for (const p of tables.postcodes) {
    assert.ok(p.places.length > 0, p.plz);
    for (const place of p.places) assert.ok(ags.has(place.ags), `${p.plz} → ${place.ags}`);
  }
  for (const r of tables.routes) {
    assert.ok(providers.has(r.providerId), r.id);
    assert.ok(types.has(r.evidenceType), r.id);
    assert.match(r.regionKey, /^(\d{2}|\d{3}|\d{5}|\d{8})?$/, r.id);
  }
  for (const p of tables.providers) {
    assert.equal(p.endpoint, `https://providers.lotse.example/providers/${p.id}`);
  }
  assert.equal(index.counts.danglingRoutes, 0);
  assert.equal(index.counts.danglingPlaces, 0);
});

Deno.test("generateTables() makes PLZ and Gemeinden many-to-many", () => {
  const single = tables.postcodes.filter((p) => p.places.length === 1).length;
  const several = tables.postcodes.length - single;
  assert.ok(single > tables.postcodes.length / 2, "most PLZ cover one Gemeinde");
  assert.ok(several > 500, "some PLZ cover several");
  const plzPerGemeinde = new Map<string, number>();
  for (const p of tables.postcodes) {
    for (const place of p.places) {
      plzPerGemeinde.set(place.ags, (plzPerGemeinde.get(place.ags) ?? 0) + 1);
    }
  }
  assert.equal(plzPerGemeinde.size, tables.regions.length, "every Gemeinde has a PLZ");
  assert.ok((plzPerGemeinde.get("11000000") ?? 0) > 50, "Berlin has many PLZ");
  assert.ok([...plzPerGemeinde.values()].filter((n) => n > 1).length > 300);
});

Deno.test("generateTables() names every Ort after its Gemeinde", () => {
  for (const p of tables.postcodes) {
    for (const place of p.places) {
      const name = normalizeOrt(index.region(place.ags)!.name);
      assert.ok(name.startsWith(normalizeOrt(place.ort)), `${p.plz} ${place.ort}`);
    }
  }
});

Deno.test("generateTables() puts Regierungsbezirk routes only where Regierungsbezirke exist", () => {
  const keys = tables.routes.filter((r) => r.evidenceType === "berufsanerkennung")
    .map((r) => r.regionKey);
  const withRb = new Set(keys.filter((k) => k.length === 3).map((k) => k.slice(0, 2)));
  assert.deepEqual([...withRb].sort(), ["05", "06", "08", "09"]);
  assert.equal(keys.filter((k) => k.length === 2).length, 12);
});

Deno.test("generateTables() is deterministic for a seed", () => {
  assert.equal(digest(generateTables({ seed: 1 })), digest(tables));
  assert.notEqual(digest(generateTables({ seed: 2 }).regions), digest(tables.regions));
});

Deno.test("every Gemeinde reaches a provider for every federal evidence type", () => {
  const federal = tables.routes.filter((r) => r.regionKey === "").map((r) => r.evidenceType);
  assert.ok(federal.length >= 10);
  for (const type of federal) {
    for (const region of tables.regions) {
      const r = index.resolve(type, region.ags);
      assert.ok(r.kind === "resolved" && r.matchedLevel === "bund", `${type} @ ${region.ags}`);
    }
  }
});

Deno.test("every Gemeinde reaches a provider for every type claimed to cover everywhere", () => {
  const everywhere = Object.entries(tables.coverage).filter(([, c]) => c === "everywhere")
    .map(([id]) => id);
  assert.ok(everywhere.length >= 40);
  const levels = new Set<string>();
  for (const type of everywhere) {
    for (const region of tables.regions) {
      const r = index.resolve(type, region.ags);
      assert.equal(r.kind, "resolved", `${type} @ ${region.ags}`);
      if (r.kind === "resolved") levels.add(r.matchedLevel);
    }
  }
  assert.deepEqual([...levels].sort(), ["bund", "gemeinde", "kreis", "land", "regierungsbezirk"]);
});

Deno.test("a type claimed to cover only part of Germany leaves some Gemeinden without provider", () => {
  const partial = Object.entries(tables.coverage).filter(([, c]) => c === "partial");
  assert.ok(partial.length > 0);
  for (const [type] of partial) {
    const kinds = new Set(tables.regions.map((r) => index.resolve(type, r.ags).kind));
    assert.deepEqual([...kinds].sort(), ["no-responsible-provider", "resolved"], type);
  }
});

Deno.test("generateTables() scales the route count exactly and keeps the base tables", () => {
  const big = generateTables({
    seed: 1,
    minRoutes: 200_000,
    providerBaseUrl: "http://127.0.0.1:9/",
  });
  assert.equal(big.routes.length, 200_000);
  assert.equal(digest(big.routes.slice(0, tables.routes.length)), digest(tables.routes));
  assert.equal(digest(big.regions), digest(tables.regions));
  assert.ok(big.providers.every((p) => p.endpoint.startsWith("http://127.0.0.1:9/providers/")));
  const bigIndex = buildNavIndex(big);
  assert.equal(bigIndex.counts.danglingRoutes, 0);
  const extra = Object.keys(big.coverage).filter((id) => !(id in tables.coverage));
  assert.ok(extra.length >= 6);
  assert.equal(big.coverage[extra.at(-1)!], "partial");
  for (const type of extra.filter((id) => big.coverage[id] === "everywhere")) {
    for (const region of big.regions) {
      assert.equal(bigIndex.resolve(type, region.ags).kind, "resolved", `${type} @ ${region.ags}`);
    }
  }
});
