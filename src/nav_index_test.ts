import assert from "node:assert/strict";
import {
  buildNavIndex,
  MAX_SEARCH_RESULTS,
  type NavTables,
  type ResolveResult,
} from "./nav_index.ts";
import { normalizeOrt } from "./ort.ts";
import type { Postcode, Provider, Region, Route } from "./model.ts";

// A small fixture: two Länder (08, 09), Regierungsbezirke 081 and 082, Kreise 08111, 08115,
// 08212, 09162, 09184. Keys are shaped like real ones; not all of them are real.
const REGIONS: readonly Region[] = [
  { ags: "08111000", ars: "081110000000", name: "Stuttgart" },
  { ags: "08115001", ars: "081155001001", name: "Aidlingen" },
  { ags: "08115003", ars: "081150003003", name: "Böblingen" },
  { ags: "08115050", ars: null, name: "Altdorf" },
  { ags: "08212000", ars: "082120000000", name: "Karlsruhe" },
  { ags: "09162000", ars: "091620000000", name: "München" },
  { ags: "09184119", ars: "091840119119", name: "Garching b. München" },
  { ags: "09184145", ars: null, name: "Taufkirchen" },
  { ags: "09184999", ars: null, name: "Altdorf" },
  { ags: "09184200", ars: null, name: "Groß-Süßen" },
];

const POSTCODES: readonly Postcode[] = [
  { plz: "70173", places: [{ ags: "08111000", ort: "Stuttgart" }] },
  {
    plz: "85000",
    places: [
      { ags: "09184145", ort: "Taufkirchen" },
      { ags: "09184119", ort: "Garching b. München" },
      { ags: "09184145", ort: "Taufkirchen-Nord" },
      { ags: "09184200", ort: "Groß-Süßen" },
    ],
  },
  {
    plz: "71000",
    places: [
      { ags: "08115050", ort: "Altdorf" },
      { ags: "08115001", ort: "Altdorf" },
      { ags: "08115003", ort: "Böblingen" },
    ],
  },
  { plz: "99999", places: [{ ags: "01001000", ort: "Nirgendwo" }] },
];

function provider(id: string): Provider {
  return { id, name: `Provider ${id}`, endpoint: `https://dp.example/${id}`, caCert: null };
}

function route(evidenceType: string, regionKey: string, providerId: string, id?: string): Route {
  return {
    id: id ?? `${evidenceType}-${regionKey || "bund"}`,
    evidenceType,
    regionKey,
    providerId,
  };
}

/** Every level for "register": Gemeinde Aidlingen, Kreis 08115, RB 081, Land 08, Bund. */
const LEVEL_ROUTES: readonly Route[] = [
  route("register", "", "p-bund"),
  route("register", "08", "p-land-08"),
  route("register", "081", "p-rb-081"),
  route("register", "08115", "p-kreis-08115"),
  route("register", "08115001", "p-gemeinde-08115001"),
];

function tables(overrides: Partial<NavTables> = {}): NavTables {
  const routes = overrides.routes ?? LEVEL_ROUTES;
  return {
    regions: REGIONS,
    postcodes: POSTCODES,
    evidenceTypes: [
      { id: "register", name: "Register", description: null },
      { id: "empty", name: "Without routes", description: null },
      { id: "another", name: "Another", description: "second" },
    ],
    providers: [...new Set(routes.map((r) => r.providerId))].map(provider),
    routes,
    ...overrides,
  };
}

function resolvedProvider(result: ResolveResult): string {
  assert.equal(result.kind, "resolved", `expected a resolution, got ${result.kind}`);
  return result.kind === "resolved" ? result.provider.id : "";
}

Deno.test("normalizeOrt() ignores case, spaces, punctuation and umlaut spellings", () => {
  const munich = normalizeOrt("München");
  assert.equal(munich, "muenchen");
  assert.equal(normalizeOrt("MUENCHEN"), munich);
  assert.equal(normalizeOrt("MÜNCHEN"), munich);
  assert.equal(normalizeOrt("Mu\u0308nchen"), munich); // decomposed ü
  assert.equal(normalizeOrt("Groß-Süßen"), normalizeOrt("GROSS SUESSEN"));
  assert.equal(normalizeOrt("Garching b. München"), "garchingbmuenchen");
  assert.equal(normalizeOrt("Île-de-Ré"), "iledere");
  assert.equal(normalizeOrt(" ,.- "), "");
  assert.equal(
    normalizeOrt(normalizeOrt("Bad Homburg v.d. Höhe")),
    normalizeOrt("Bad Homburg v.d. Höhe"),
  );
});

Deno.test("lookupAgs() finds a region by AGS, and tells unknown from malformed", () => {
  const index = buildNavIndex(tables());
  const found = index.lookupAgs("08111000");
  assert.equal(found.kind, "found");
  assert.equal(found.kind === "found" && found.region.name, "Stuttgart");
  assert.equal(index.lookupAgs("08111000"), found, "answers are built once, not per call");
  assert.deepEqual(index.lookupAgs("08111999"), { kind: "unknown", detail: null });
  assert.deepEqual(index.lookupAgs("0811"), {
    kind: "invalid",
    detail: 'Cannot parse AGS "0811": expected 8 digits',
  });
  assert.equal(index.lookupAgs("0811100a").kind, "invalid");
  assert.equal(index.region("09162000")?.name, "München");
  assert.equal(index.region("09162001"), undefined);
});

Deno.test("lookupArs() finds the region whose AGS is the ARS's first 5 and last 3 digits", () => {
  const index = buildNavIndex(tables());
  const found = index.lookupArs("091840119119");
  assert.equal(found.kind === "found" && found.region.ags, "09184119");
  assert.equal(index.lookupArs("081155001001").kind, "found");
});

Deno.test("lookupArs() refuses an ARS whose Gemeindeverband part does not match the region", () => {
  const index = buildNavIndex(tables());
  const mismatch = index.lookupArs("081155002001");
  assert.equal(mismatch.kind, "unknown");
  assert.match(
    mismatch.kind === "unknown" && mismatch.detail || "",
    /does not match region "08115001"/,
  );
  const noArs = index.lookupArs("091840145145");
  assert.equal(noArs.kind, "unknown");
  assert.match(noArs.kind === "unknown" && noArs.detail || "", /has no ARS on record/);
  assert.deepEqual(index.lookupArs("091849999998"), { kind: "unknown", detail: null });
  assert.deepEqual(index.lookupArs("08111000"), {
    kind: "invalid",
    detail: 'Cannot parse ARS "08111000": expected 12 digits',
  });
});

Deno.test("lookupArs() ignores a stored ARS that contradicts its own AGS", () => {
  const index = buildNavIndex(tables({
    regions: [{ ags: "08111000", ars: "081120000000", name: "Broken" }],
  }));
  assert.equal(index.lookupArs("081120000000").kind, "unknown");
  assert.equal(index.lookupAgs("08111000").kind, "found");
});

Deno.test("lookupPlz() finds the one Gemeinde of a PLZ, whatever the Ort", () => {
  const index = buildNavIndex(tables());
  for (const ort of [undefined, "Stuttgart", "Berlin", ""]) {
    const found = index.lookupPlz("70173", ort);
    assert.equal(found.kind === "found" && found.region.ags, "08111000", `ort ${ort}`);
  }
});

Deno.test("lookupPlz() without Ort is ambiguous for a PLZ covering several Gemeinden", () => {
  const index = buildNavIndex(tables());
  assert.deepEqual(index.lookupPlz("85000"), {
    kind: "ambiguous",
    candidates: [
      { ags: "09184119", name: "Garching b. München" },
      { ags: "09184145", name: "Taufkirchen" },
      { ags: "09184200", name: "Groß-Süßen" },
    ],
  });
});

Deno.test("lookupPlz() lets the Ort decide, in any umlaut spelling", () => {
  const index = buildNavIndex(tables());
  const agsOf = (ort: string) => {
    const r = index.lookupPlz("85000", ort);
    return r.kind === "found" ? r.region.ags : r.kind;
  };
  assert.equal(agsOf("Taufkirchen"), "09184145");
  assert.equal(agsOf("taufkirchen nord"), "09184145");
  assert.equal(agsOf("Garching b. Muenchen"), "09184119");
  assert.equal(agsOf("GARCHING-B-MÜNCHEN"), "09184119");
  assert.equal(agsOf("gross suessen"), "09184200");
});

Deno.test("lookupPlz() keeps every place when the Ort matches none of them", () => {
  const index = buildNavIndex(tables());
  const result = index.lookupPlz("85000", "Hamburg");
  assert.equal(result.kind, "ambiguous");
  assert.equal(result.kind === "ambiguous" && result.candidates.length, 3);
  assert.deepEqual(index.lookupPlz("85000", "Hamburg"), index.lookupPlz("85000"));
});

Deno.test("lookupPlz() stays ambiguous when the Ort names several Gemeinden", () => {
  const index = buildNavIndex(tables());
  assert.deepEqual(index.lookupPlz("71000", "ALTDORF"), {
    kind: "ambiguous",
    candidates: [
      { ags: "08115001", name: "Aidlingen" },
      { ags: "08115050", name: "Altdorf" },
    ],
  });
  const boeblingen = index.lookupPlz("71000", "Boeblingen");
  assert.equal(boeblingen.kind === "found" && boeblingen.region.ags, "08115003");
});

Deno.test("lookupPlz() reports an unknown or malformed PLZ", () => {
  const index = buildNavIndex(tables());
  assert.deepEqual(index.lookupPlz("12345"), { kind: "unknown", detail: null });
  // A PLZ whose only place names an AGS outside the regions table is unknown as well.
  assert.deepEqual(index.lookupPlz("99999", "Nirgendwo"), { kind: "unknown", detail: null });
  assert.deepEqual(index.lookupPlz("7017"), {
    kind: "invalid",
    detail: 'Cannot parse PLZ "7017": expected 5 digits',
  });
  assert.equal(index.counts.danglingPlaces, 1);
});

Deno.test("postcodeRegions() lists a PLZ's distinct Gemeinden sorted by AGS", () => {
  const index = buildNavIndex(tables());
  assert.deepEqual(index.postcodeRegions("85000").map((r) => r.ags), [
    "09184119",
    "09184145",
    "09184200",
  ]);
  assert.deepEqual(index.postcodeRegions("00000"), []);
});

Deno.test("searchRegions() matches normalised name prefixes in a fixed order", () => {
  const index = buildNavIndex(tables());
  const names = (q: string, limit?: number) =>
    index.searchRegions(q, { limit }).map((r) => `${r.name} ${r.ags}`);
  assert.deepEqual(names("alt"), ["Altdorf 08115050", "Altdorf 09184999"]);
  assert.deepEqual(names("Mün"), ["München 09162000"]);
  assert.deepEqual(names("MUEN"), ["München 09162000"]);
  assert.deepEqual(names("a"), ["Aidlingen 08115001", "Altdorf 08115050", "Altdorf 09184999"]);
  assert.deepEqual(names("a", 2), ["Aidlingen 08115001", "Altdorf 08115050"]);
  assert.deepEqual(names("garching b"), ["Garching b. München 09184119"]);
  assert.deepEqual(names("gross-s"), ["Groß-Süßen 09184200"]);
  assert.deepEqual(names("zzz"), []);
  assert.deepEqual(names(" - "), []);
  assert.equal(index.searchRegions("a", { limit: 0 }).length, 1, "limit is at least 1");
  assert.ok(MAX_SEARCH_RESULTS >= 20);
});

Deno.test("resolve() falls back from Gemeinde to Kreis, Regierungsbezirk, Land and Bund", () => {
  const index = buildNavIndex(tables());
  const level = (ags: string) => {
    const r = index.resolve("register", ags);
    return r.kind === "resolved" ? [r.matchedLevel, r.provider.id] : [r.kind];
  };
  assert.deepEqual(level("08115001"), ["gemeinde", "p-gemeinde-08115001"]);
  assert.deepEqual(level("08115003"), ["kreis", "p-kreis-08115"]);
  assert.deepEqual(level("08111000"), ["regierungsbezirk", "p-rb-081"]);
  assert.deepEqual(level("08212000"), ["land", "p-land-08"]);
  assert.deepEqual(level("09162000"), ["bund", "p-bund"]);
});

Deno.test("hasRoute() knows a route by its exact key, not by a fall-back", () => {
  const index = buildNavIndex(tables({
    routes: [...LEVEL_ROUTES, route("register", "09999999", "p-bund", "outside")],
  }));
  for (const key of ["", "08", "081", "08115", "08115001", "09999999"]) {
    assert.equal(index.hasRoute("register", key), true, `"${key}"`);
  }
  // Served by a fall-back only, or not at all.
  for (const key of ["08115003", "09", "082", "08212", "09162000"]) {
    assert.equal(index.hasRoute("register", key), false, `"${key}"`);
  }
  assert.equal(index.hasRoute("another", ""), false);
  assert.equal(index.hasRoute("no-such-type", ""), false);
});

Deno.test("resolve() returns the evidence type and the route that decided", () => {
  const index = buildNavIndex(tables());
  const r = index.resolve("register", "08115003");
  assert.equal(r.kind, "resolved");
  if (r.kind !== "resolved") return;
  assert.equal(r.evidenceType.id, "register");
  assert.deepEqual(r.route, route("register", "08115", "p-kreis-08115"));
  assert.equal(r.provider.endpoint, "https://dp.example/p-kreis-08115");
  assert.equal(index.resolve("register", "08115003"), r, "answers are built once, not per call");
});

Deno.test("resolve() lets the longest prefix win whatever the order of the routes", () => {
  const forward = buildNavIndex(tables());
  const backward = buildNavIndex(tables({ routes: [...LEVEL_ROUTES].reverse() }));
  for (const region of REGIONS) {
    assert.deepEqual(
      forward.resolve("register", region.ags),
      backward.resolve("register", region.ags),
      region.ags,
    );
  }
  assert.equal(resolvedProvider(backward.resolve("register", "08115001")), "p-gemeinde-08115001");
});

Deno.test("resolve() picks the route with the smaller id when two share a key", () => {
  const routes = [
    route("register", "08", "p-second", "b-route"),
    route("register", "08", "p-first", "a-route"),
    route("register", "08111000", "p-x", "z-city"),
    route("register", "08111000", "p-y", "y-city"),
  ];
  for (const order of [routes, [...routes].reverse()]) {
    const index = buildNavIndex(tables({ routes: order }));
    assert.equal(resolvedProvider(index.resolve("register", "08212000")), "p-first");
    assert.equal(resolvedProvider(index.resolve("register", "08111000")), "p-y");
  }
});

Deno.test("resolve() tells an unknown evidence type from a missing provider", () => {
  const index = buildNavIndex(tables({ routes: [route("register", "08", "p-land-08")] }));
  assert.deepEqual(index.resolve("nope", "08111000"), { kind: "unknown-evidence-type" });
  assert.deepEqual(index.resolve("empty", "08111000"), { kind: "no-responsible-provider" });
  assert.deepEqual(index.resolve("register", "09162000"), { kind: "no-responsible-provider" });
  assert.equal(resolvedProvider(index.resolve("register", "08111000")), "p-land-08");
});

Deno.test("resolve() treats a route to a missing provider as absent and counts it", () => {
  const routes = [
    ...LEVEL_ROUTES,
    route("another", "", "p-gone"),
    route("ghost-type", "", "p-bund"),
  ];
  const index = buildNavIndex({
    ...tables({ routes }),
    providers: ["p-bund", "p-land-08", "p-rb-081", "p-kreis-08115"].map(provider),
  });
  // The Gemeinde route's provider is missing: the Kreis route answers instead.
  const r = index.resolve("register", "08115001");
  assert.equal(r.kind === "resolved" && r.matchedLevel, "kreis");
  assert.deepEqual(index.resolve("another", "08111000"), { kind: "no-responsible-provider" });
  assert.deepEqual(index.resolve("ghost-type", "08111000"), { kind: "unknown-evidence-type" });
  assert.equal(index.counts.danglingRoutes, 3);
  assert.deepEqual(index.danglingRouteIds, [
    "another-bund",
    "ghost-type-bund",
    "register-08115001",
  ]);
});

Deno.test("resolve() ignores routes with malformed region keys and counts them", () => {
  const index = buildNavIndex(tables({
    routes: [
      route("register", "0811", "p-bad"),
      route("register", "08x", "p-bad2"),
      ...LEVEL_ROUTES,
    ],
  }));
  assert.equal(index.counts.invalidRoutes, 2);
  assert.equal(resolvedProvider(index.resolve("register", "08111000")), "p-rb-081");
});

Deno.test("resolve() matches prefixes for a well-formed AGS outside the regions table", () => {
  const index = buildNavIndex(tables({
    routes: [...LEVEL_ROUTES, route("register", "08115777", "p-new-gemeinde")],
  }));
  assert.equal(resolvedProvider(index.resolve("register", "08115777")), "p-new-gemeinde");
  const r = index.resolve("register", "08115778");
  assert.equal(r.kind === "resolved" && r.matchedLevel, "kreis");
  assert.equal(resolvedProvider(index.resolve("register", "09999999")), "p-bund");
  assert.deepEqual(index.resolve("register", "081"), {
    kind: "invalid",
    detail: 'Cannot parse AGS "081": expected 8 digits',
  });
  assert.equal(index.lookupAgs("08115777").kind, "unknown");
});

Deno.test("evidenceTypes() is sorted by id and single lookups find types and providers", () => {
  const index = buildNavIndex(tables());
  assert.deepEqual(index.evidenceTypes().map((t) => t.id), ["another", "empty", "register"]);
  assert.equal(index.evidenceType("another")?.description, "second");
  assert.equal(index.evidenceType("missing"), undefined);
  assert.equal(index.provider("p-bund")?.name, "Provider p-bund");
  assert.equal(index.provider("p-missing"), undefined);
});

Deno.test("counts report the sizes of the tables", () => {
  const index = buildNavIndex(tables({
    regions: [...REGIONS, { ags: "123", ars: null, name: "Malformed" }],
  }));
  assert.deepEqual(index.counts, {
    regions: REGIONS.length,
    postcodes: 3,
    postcodePlaces: 8,
    evidenceTypes: 3,
    providers: 5,
    routes: 5,
    danglingRoutes: 0,
    invalidRoutes: 0,
    invalidRegions: 1,
    danglingPlaces: 1,
  });
});

Deno.test("a new index leaves the one built before it unchanged", () => {
  const before = buildNavIndex(tables());
  const after = buildNavIndex(tables({ routes: [route("register", "", "p-other")] }));
  assert.equal(resolvedProvider(before.resolve("register", "08115001")), "p-gemeinde-08115001");
  assert.equal(resolvedProvider(after.resolve("register", "08115001")), "p-other");
});

Deno.test("evidenceTypeByClassification() finds an evidence type by its EU classification", () => {
  const uri = "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/abc";
  const index = buildNavIndex({
    regions: [],
    postcodes: [],
    evidenceTypes: [
      { id: "with", name: "With", description: null, classification: uri },
      { id: "without", name: "Without", description: null, classification: null },
    ],
    providers: [],
    routes: [],
  });
  assert.equal(index.evidenceTypeByClassification(uri)?.id, "with");
  assert.equal(index.evidenceTypeByClassification(uri + "x"), undefined);
});
