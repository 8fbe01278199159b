import assert from "node:assert/strict";
import {
  DEMO_AMBIGUOUS_PLZ,
  DEMO_EVIDENCE_TYPES,
  DEMO_PLACES,
  DEMO_PROVIDER_IDS,
  demoTables,
} from "./tables.ts";
import { buildNavIndex, type ResolveResult } from "../src/nav_index.ts";

const BASE = "http://127.0.0.1:8081";
const tables = demoTables(`${BASE}/`);
const index = buildNavIndex(tables);

function answer(result: ResolveResult): [string, string] | [string] {
  return result.kind === "resolved" ? [result.matchedLevel, result.provider.id] : [result.kind];
}

function agsOfPlz(plz: string, ort?: string): string {
  const found = index.lookupPlz(plz, ort);
  assert.equal(found.kind, "found", `${plz} ${ort ?? ""}`);
  return found.kind === "found" ? found.region.ags : "";
}

Deno.test("demoTables() is consistent: keys well-formed, nothing dangling", () => {
  for (const region of tables.regions) {
    assert.match(region.ags, /^\d{8}$/);
    if (region.ars !== null) assert.equal(region.ars.slice(0, 5) + region.ars.slice(9), region.ags);
  }
  assert.equal(index.counts.danglingRoutes, 0);
  assert.equal(index.counts.invalidRoutes, 0);
  assert.equal(index.counts.danglingPlaces, 0);
  assert.equal(index.counts.regions, Object.keys(DEMO_PLACES).length);
  for (const id of Object.values(DEMO_PROVIDER_IDS)) assert.ok(index.provider(id), id);
  for (const id of Object.values(DEMO_EVIDENCE_TYPES)) assert.ok(index.evidenceType(id), id);
});

Deno.test("demoTables() points every provider at the demo provider server", () => {
  for (const p of tables.providers) assert.equal(p.endpoint, `${BASE}/providers/${p.id}`);
});

Deno.test("every demo place is found by its AGS, its ARS and its PLZ with Ort", () => {
  for (const place of Object.values(DEMO_PLACES)) {
    assert.equal(index.region(place.ags)?.name, place.name);
    if (place.ars !== null) {
      const byArs = index.lookupArs(place.ars);
      assert.equal(byArs.kind === "found" && byArs.region.ags, place.ags);
    }
    assert.equal(agsOfPlz(place.plz, place.ort), place.ags);
  }
  assert.equal(agsOfPlz("70174"), DEMO_PLACES.stuttgart.ags);
  assert.equal(agsOfPlz("80333", "MUENCHEN"), DEMO_PLACES.muenchen.ags);
});

Deno.test("Bewohnerparkausweis: KBA answers for vehicle data in every demo Gemeinde", () => {
  for (const place of Object.values(DEMO_PLACES)) {
    assert.deepEqual(
      answer(index.resolve(DEMO_EVIDENCE_TYPES.fahrzeugzulassung, place.ags)),
      ["bund", DEMO_PROVIDER_IDS.kba],
      place.name,
    );
  }
  const viaPlz = agsOfPlz("80331", "München");
  const r = index.resolve(DEMO_EVIDENCE_TYPES.fahrzeugzulassung, viaPlz);
  assert.equal(r.kind === "resolved" && r.provider.endpoint, `${BASE}/providers/kba-zfzr`);
});

Deno.test("Gewerbeanmeldung: the Gemeinde's Gewerberegister answers, else no provider", () => {
  const { stuttgart, garching, taufkirchen } = DEMO_PLACES;
  assert.deepEqual(
    answer(index.resolve(DEMO_EVIDENCE_TYPES.gewerberegisterauszug, stuttgart.ags)),
    ["gemeinde", DEMO_PROVIDER_IDS.gewerberegisterStuttgart],
  );
  assert.deepEqual(
    answer(index.resolve(DEMO_EVIDENCE_TYPES.gewerberegisterauszug, garching.ags)),
    ["gemeinde", "gewerberegister-09184119"],
  );
  assert.deepEqual(
    answer(index.resolve(DEMO_EVIDENCE_TYPES.gewerberegisterauszug, taufkirchen.ags)),
    ["no-responsible-provider"],
  );
});

Deno.test("Gewerbeanmeldung: the Handelsregister answers per Regierungsbezirk or Land", () => {
  const hr = (ags: string) => answer(index.resolve(DEMO_EVIDENCE_TYPES.handelsregisterauszug, ags));
  const p = DEMO_PLACES;
  assert.deepEqual(hr(p.stuttgart.ags), [
    "regierungsbezirk",
    DEMO_PROVIDER_IDS.handelsregisterStuttgart,
  ]);
  assert.deepEqual(hr(p.ludwigsburg.ags), [
    "regierungsbezirk",
    DEMO_PROVIDER_IDS.handelsregisterStuttgart,
  ]);
  assert.deepEqual(hr(p.freiburg.ags), ["regierungsbezirk", "handelsregister-ag-freiburg"]);
  assert.deepEqual(hr(p.garching.ags), ["land", DEMO_PROVIDER_IDS.handelsregisterBayern]);
  assert.deepEqual(hr(p.koeln.ags), ["land", "handelsregister-nw"]);
  assert.deepEqual(hr(p.badHomburg.ags), ["land", "handelsregister-he"]);
  assert.deepEqual(hr(p.berlin.ags), ["land", "handelsregister-ag-charlottenburg"]);
  assert.deepEqual(hr(p.hamburg.ags), ["land", "handelsregister-ag-hamburg"]);
});

Deno.test("Meldebescheinigung: Garching's own route beats the Landkreis München route", () => {
  const mb = (ags: string) => answer(index.resolve(DEMO_EVIDENCE_TYPES.meldebescheinigung, ags));
  assert.deepEqual(mb(DEMO_PLACES.garching.ags), [
    "gemeinde",
    DEMO_PROVIDER_IDS.melderegisterGarching,
  ]);
  assert.deepEqual(mb(DEMO_PLACES.taufkirchen.ags), [
    "kreis",
    DEMO_PROVIDER_IDS.melderegisterLandkreisMuenchen,
  ]);
  assert.deepEqual(mb(DEMO_PLACES.berlin.ags), ["gemeinde", "melderegister-11000000"]);
});

Deno.test("the ambiguous demo PLZ needs an Ort to decide", () => {
  assert.deepEqual(index.lookupPlz(DEMO_AMBIGUOUS_PLZ), {
    kind: "ambiguous",
    candidates: [
      { ags: DEMO_PLACES.garching.ags, name: DEMO_PLACES.garching.name },
      { ags: DEMO_PLACES.taufkirchen.ags, name: DEMO_PLACES.taufkirchen.name },
    ],
  });
  assert.equal(agsOfPlz(DEMO_AMBIGUOUS_PLZ, "Taufkirchen"), DEMO_PLACES.taufkirchen.ags);
  assert.equal(agsOfPlz(DEMO_AMBIGUOUS_PLZ, "garching b muenchen"), DEMO_PLACES.garching.ags);
  assert.equal(index.lookupPlz(DEMO_AMBIGUOUS_PLZ, "Unterhaching").kind, "ambiguous");
});
