/**
 * The navigation index (Registerdatennavigation): finds regions by AGS, ARS, PLZ/Ort or name
 * prefix, and the provider responsible for an evidence type in a region.
 *
 * Built once from the tables and never changed; a table change builds a new index and the
 * caller swaps the reference. Every answer the hot path gives is an object made at build
 * time, so lookups allocate nothing; misses return result objects instead of throwing.
 *
 * Responsibility is a longest-prefix match of the Gemeinde's AGS over the route keys
 * (8 digits Gemeinde, 5 Kreis, 3 Regierungsbezirk, 2 Land, `""` Bund). It is resolved for
 * every (evidence type, Gemeinde) pair at build time.
 *
 * @example
 * ```ts
 * const index = buildNavIndex(tables);
 * const found = index.lookupAgs("08111000");
 * const answer = index.resolve("fahrzeugzulassung", "08111000");
 * if (answer.kind === "resolved") console.log(answer.provider.endpoint, answer.matchedLevel);
 * ```
 *
 * @module
 */

import type { EvidenceType, NavTables, Provider, Region, Route } from "./model.ts";
import { normalizeOrt } from "./ort.ts";

export type { NavTables } from "./model.ts";

export type MatchedLevel = "gemeinde" | "kreis" | "regierungsbezirk" | "land" | "bund";

/** One of several Gemeinden a PLZ (with or without Ort) may mean. */
export interface RegionCandidate {
  readonly ags: string;
  readonly name: string;
}

/** The answer to a region lookup by AGS, ARS or PLZ/Ort. */
export type RegionLookup =
  | { readonly kind: "found"; readonly region: Region }
  | { readonly kind: "ambiguous"; readonly candidates: readonly RegionCandidate[] }
  /** `detail` says why when the key exists but does not match (an ARS that disagrees). */
  | { readonly kind: "unknown"; readonly detail: string | null }
  | { readonly kind: "invalid"; readonly detail: string };

/** A responsible provider found for (evidence type, region). */
export interface Resolution {
  readonly kind: "resolved";
  readonly evidenceType: EvidenceType;
  readonly provider: Provider;
  readonly matchedLevel: MatchedLevel;
  readonly route: Route;
}

export type ResolveResult =
  | Resolution
  | { readonly kind: "unknown-evidence-type" }
  | { readonly kind: "no-responsible-provider" }
  | { readonly kind: "invalid"; readonly detail: string };

/** Sizes for `/admin/v1/tables`; routes that cannot take effect are counted apart. */
export interface NavIndexCounts {
  readonly regions: number;
  readonly postcodes: number;
  readonly postcodePlaces: number;
  readonly evidenceTypes: number;
  readonly providers: number;
  /** Every route in the tables. */
  readonly routes: number;
  /** Routes whose provider or evidence type does not exist: treated as absent. */
  readonly danglingRoutes: number;
  /** Routes whose region key is not "", 2, 3, 5 or 8 digits: ignored. */
  readonly invalidRoutes: number;
  /** Regions with a malformed AGS, and postcode places naming an unknown AGS: ignored. */
  readonly invalidRegions: number;
  readonly danglingPlaces: number;
}

export interface SearchRegionsOptions {
  /** At most this many results (1 to {@linkcode MAX_SEARCH_RESULTS}); default 20. */
  readonly limit?: number;
}

export const MAX_SEARCH_RESULTS = 100;
const DEFAULT_SEARCH_RESULTS = 20;

const UNKNOWN_REGION: RegionLookup = Object.freeze({ kind: "unknown", detail: null });
const UNKNOWN_EVIDENCE_TYPE: ResolveResult = Object.freeze({ kind: "unknown-evidence-type" });
const NO_PROVIDER: ResolveResult = Object.freeze({ kind: "no-responsible-provider" });

const LEVEL_BY_KEY_LENGTH: readonly (MatchedLevel | undefined)[] = [
  "bund",
  undefined,
  "land",
  "regierungsbezirk",
  undefined,
  "kreis",
  undefined,
  undefined,
  "gemeinde",
];

interface GemeindeEntry {
  readonly found: RegionLookup & { kind: "found" };
  readonly ordinal: number;
}

interface PostcodeEntry {
  readonly all: RegionLookup;
  /** Per normalised Ort; `null` when the PLZ covers one Gemeinde and the Ort cannot matter. */
  readonly byOrt: ReadonlyMap<string, RegionLookup> | null;
  readonly regions: readonly Region[];
}

interface TypeEntry {
  readonly evidenceType: EvidenceType;
  /** Resolution per Gemeinde ordinal, fall-back included. */
  readonly byGemeinde: readonly (Resolution | undefined)[];
  /** Routes above Gemeinde level, and Gemeinde routes for AGS not in the regions table. */
  readonly byKey: ReadonlyMap<string, Resolution>;
}

/** Whether `s` is exactly `length` ASCII digits; no regex, no allocation. */
function isDigits(s: string, length: number): boolean {
  if (s.length !== length) return false;
  for (let i = 0; i < length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function isRegionKey(key: string): boolean {
  return LEVEL_BY_KEY_LENGTH[key.length] !== undefined && isDigits(key, key.length);
}

/** Which of two routes for the same key wins: the smaller id, so the order of rows never matters. */
function wins(candidate: Resolution, holder: Resolution | undefined): boolean {
  return holder === undefined || candidate.route.id < holder.route.id;
}

function lookupFor(
  regions: readonly Region[],
  gemeinden: ReadonlyMap<string, GemeindeEntry>,
): RegionLookup {
  if (regions.length === 1) return gemeinden.get(regions[0]!.ags)!.found;
  return Object.freeze({
    kind: "ambiguous",
    candidates: Object.freeze(regions.map((r) => Object.freeze({ ags: r.ags, name: r.name }))),
  });
}

function distinctSortedRegions(
  agsList: Iterable<string>,
  gemeinden: ReadonlyMap<string, GemeindeEntry>,
): Region[] {
  const out: Region[] = [];
  for (const ags of new Set(agsList)) {
    const entry = gemeinden.get(ags);
    if (entry) out.push(entry.found.region);
  }
  return out.sort((a, b) => (a.ags < b.ags ? -1 : a.ags > b.ags ? 1 : 0));
}

/**
 * Per evidence type, how many of its routes name each provider. Counts, not pairs: a route
 * change adjusts one number, and no string is made per (type, provider) pair (a million
 * routes to ten thousand providers made a million such strings).
 */
type ProviderCounts = ReadonlyMap<string, ReadonlyMap<string, number>>;

/** The immutable navigation index. Create it with {@linkcode buildNavIndex}. */
export class NavIndex {
  #gemeinden: ReadonlyMap<string, GemeindeEntry>;
  #byArs: ReadonlyMap<string, RegionLookup>;
  #postcodes: ReadonlyMap<string, PostcodeEntry>;
  #types: ReadonlyMap<string, TypeEntry>;
  #evidenceTypeList: readonly EvidenceType[];
  #providers: ReadonlyMap<string, Provider>;
  #serving: ProviderCounts;
  #byName: readonly { readonly key: string; readonly region: Region }[];
  #danglingRouteIds: readonly string[];
  #counts: NavIndexCounts;
  /** Gemeinden sorted by AGS: position = ordinal. */
  #ordinals: readonly Region[];
  #routesByType: ReadonlyMap<string, readonly Resolution[]>;

  /** @internal Use {@linkcode buildNavIndex}. */
  constructor(parts: {
    ordinals: readonly Region[];
    gemeinden: ReadonlyMap<string, GemeindeEntry>;
    byArs: ReadonlyMap<string, RegionLookup>;
    postcodes: ReadonlyMap<string, PostcodeEntry>;
    types: ReadonlyMap<string, TypeEntry>;
    evidenceTypeList: readonly EvidenceType[];
    providers: ReadonlyMap<string, Provider>;
    serving: ProviderCounts;
    byName: readonly { readonly key: string; readonly region: Region }[];
    danglingRouteIds: readonly string[];
    counts: NavIndexCounts;
    routesByType?: ReadonlyMap<string, readonly Resolution[]>;
  }) {
    this.#gemeinden = parts.gemeinden;
    this.#byArs = parts.byArs;
    this.#postcodes = parts.postcodes;
    this.#types = parts.types;
    this.#evidenceTypeList = parts.evidenceTypeList;
    this.#providers = parts.providers;
    this.#serving = parts.serving;
    this.#byName = parts.byName;
    this.#danglingRouteIds = parts.danglingRouteIds;
    this.#counts = parts.counts;
    this.#ordinals = parts.ordinals;
    this.#routesByType = parts.routesByType ?? new Map();
  }

  /** Every valid route of an evidence type with its provider (the DSD lists them). */
  routes(evidenceType: string): readonly Resolution[] {
    return this.#routesByType.get(evidenceType) ?? [];
  }

  /**
   * A new index with `removed` routes taken out and `added` routes put in, sharing every
   * part the change does not touch: a one-route change at a million routes copies one
   * evidence type's arrays, not the index. Returns null when the change needs a full build
   * (a route that is dangling or malformed, before or after).
   */
  withRouteChanges(removed: readonly Route[], added: readonly Route[]): NavIndex | null {
    const usable = (r: Route) =>
      isRegionKey(r.regionKey) && this.#types.has(r.evidenceType) &&
      this.#providers.has(r.providerId);
    if (!removed.every(usable) || !added.every(usable)) return null;
    const types = new Map(this.#types);
    const touched = new Map<
      string,
      { gem: (Resolution | undefined)[]; byKey: Map<string, Resolution> }
    >();
    const edit = (id: string) => {
      let t = touched.get(id);
      if (!t) {
        const old = this.#types.get(id)!;
        t = { gem: [...old.byGemeinde], byKey: new Map(old.byKey) };
        touched.set(id, t);
      }
      return t;
    };
    // Per type: the prefixes whose Gemeinden must take their fall-back again.
    const refill = new Map<string, Set<string>>();
    const mark = (type: string, prefix: string) => {
      let set = refill.get(type);
      if (!set) refill.set(type, set = new Set());
      set.add(prefix);
    };
    for (const route of removed) {
      const t = edit(route.evidenceType);
      const key = route.regionKey;
      const ordinal = key.length === 8 ? this.#gemeinden.get(key)?.ordinal : undefined;
      if (ordinal !== undefined) {
        if (t.gem[ordinal]?.route.id === route.id) {
          t.gem[ordinal] = undefined;
          mark(route.evidenceType, key);
        }
      } else if (t.byKey.get(key)?.route.id === route.id) {
        t.byKey.delete(key);
        mark(route.evidenceType, key);
      }
    }
    for (const route of added) {
      const t = edit(route.evidenceType);
      const key = route.regionKey;
      const resolution: Resolution = Object.freeze({
        kind: "resolved",
        evidenceType: this.#types.get(route.evidenceType)!.evidenceType,
        provider: this.#providers.get(route.providerId)!,
        matchedLevel: LEVEL_BY_KEY_LENGTH[key.length]!,
        route,
      });
      const ordinal = key.length === 8 ? this.#gemeinden.get(key)?.ordinal : undefined;
      if (ordinal !== undefined) {
        const holder = t.gem[ordinal];
        // A fall-back sitting there gives way to the Gemeinde's own route.
        if (
          holder === undefined || holder.route.regionKey.length !== 8 || wins(resolution, holder)
        ) {
          t.gem[ordinal] = resolution;
        }
      } else if (wins(resolution, t.byKey.get(key))) {
        t.byKey.set(key, resolution);
        mark(route.evidenceType, key);
      }
    }
    for (const [id, t] of touched) {
      for (const prefix of refill.get(id) ?? []) {
        const [from, to] = this.#range(prefix);
        for (let i = from; i < to; i++) {
          const own = t.gem[i];
          if (own !== undefined && own.route.regionKey.length === 8) continue;
          const ags = this.#ordinals[i]!.ags;
          t.gem[i] = t.byKey.get(ags.slice(0, 5)) ?? t.byKey.get(ags.slice(0, 3)) ??
            t.byKey.get(ags.slice(0, 2)) ?? t.byKey.get("");
        }
      }
      const old = this.#types.get(id)!;
      types.set(
        id,
        Object.freeze({ evidenceType: old.evidenceType, byGemeinde: t.gem, byKey: t.byKey }),
      );
    }
    // Which providers serve which evidence type: one count per (type, provider) moved, and
    // only the touched types' counts copied.
    const serving = new Map(this.#serving);
    const counted = new Map<string, Map<string, number>>();
    const count = (r: Route, by: number) => {
      let counts = counted.get(r.evidenceType);
      if (counts === undefined) {
        counts = new Map(this.#serving.get(r.evidenceType));
        counted.set(r.evidenceType, counts);
        serving.set(r.evidenceType, counts);
      }
      const n = (counts.get(r.providerId) ?? 0) + by;
      if (n > 0) counts.set(r.providerId, n);
      else counts.delete(r.providerId);
    };
    for (const r of removed) count(r, -1);
    for (const r of added) count(r, 1);
    // The DSD's list of routes per evidence type, for the touched types only.
    const routesByType = new Map(this.#routesByType);
    const gone = new Set(removed.map((r) => r.id));
    for (const id of touched.keys()) {
      const kept = (this.#routesByType.get(id) ?? []).filter((r) => !gone.has(r.route.id));
      for (const route of added) {
        if (route.evidenceType !== id) continue;
        kept.push(Object.freeze({
          kind: "resolved" as const,
          evidenceType: this.#types.get(id)!.evidenceType,
          provider: this.#providers.get(route.providerId)!,
          matchedLevel: LEVEL_BY_KEY_LENGTH[route.regionKey.length]!,
          route,
        }));
      }
      routesByType.set(id, kept);
    }
    return new NavIndex({
      serving,
      routesByType,
      ordinals: this.#ordinals,
      gemeinden: this.#gemeinden,
      byArs: this.#byArs,
      postcodes: this.#postcodes,
      types,
      evidenceTypeList: this.#evidenceTypeList,
      providers: this.#providers,
      byName: this.#byName,
      danglingRouteIds: this.#danglingRouteIds,
      counts: Object.freeze({
        ...this.#counts,
        routes: this.#counts.routes - removed.length + added.length,
      }),
    });
  }

  /** Ordinals `[from, to)` of the Gemeinden whose AGS starts with `prefix`. */
  #range(prefix: string): [number, number] {
    const list = this.#ordinals;
    const lower = (key: string) => {
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (list[mid]!.ags < key) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    if (prefix === "") return [0, list.length];
    // The first AGS past the prefix: the prefix padded with "9"s, then one past it.
    return [lower(prefix), lower(prefix.padEnd(8, "9") + "\u0000")];
  }

  /**
   * Whether `providerId` is on a route for `evidenceType` somewhere: only such a provider
   * may be named directly (`providerId=`), whatever a permission's wildcard says.
   */
  serves(providerId: string, evidenceType: string): boolean {
    return (this.#serving.get(evidenceType)?.get(providerId) ?? 0) > 0;
  }

  /** The region with this AGS, or `undefined`. */
  region(ags: string): Region | undefined {
    return this.#gemeinden.get(ags)?.found.region;
  }

  /** Region by 8-digit AGS: `found`, `unknown`, or `invalid` for a malformed key. */
  lookupAgs(ags: string): RegionLookup {
    const entry = this.#gemeinden.get(ags);
    if (entry !== undefined) return entry.found;
    if (!isDigits(ags, 8)) {
      return { kind: "invalid", detail: `Cannot parse AGS "${ags}": expected 8 digits` };
    }
    return UNKNOWN_REGION;
  }

  /**
   * Region by 12-digit ARS. Its AGS is the first 5 and last 3 digits; the region must hold
   * this very ARS, so an ARS with a wrong Gemeindeverband part is `unknown` (with a detail).
   */
  lookupArs(ars: string): RegionLookup {
    const hit = this.#byArs.get(ars);
    if (hit !== undefined) return hit;
    if (!isDigits(ars, 12)) {
      return { kind: "invalid", detail: `Cannot parse ARS "${ars}": expected 12 digits` };
    }
    const ags = ars.slice(0, 5) + ars.slice(9);
    const region = this.#gemeinden.get(ags)?.found.region;
    if (region === undefined) return UNKNOWN_REGION;
    return {
      kind: "unknown",
      detail: region.ars === null
        ? `ARS "${ars}" cannot be checked: region "${ags}" has no ARS on record`
        : `ARS "${ars}" does not match region "${ags}": its ARS is "${region.ars}"`,
    };
  }

  /**
   * Region by PLZ, optionally narrowed by Ort. The Ort is compared normalised (case, spaces,
   * punctuation and umlaut spellings ignored). If no place of the PLZ has that Ort, the Ort
   * does not decide and every place stays. One Gemeinde left: `found`; several: `ambiguous`
   * with candidates sorted by AGS.
   */
  lookupPlz(plz: string, ort?: string): RegionLookup {
    const entry = this.#postcodes.get(plz);
    if (entry === undefined) {
      if (!isDigits(plz, 5)) {
        return { kind: "invalid", detail: `Cannot parse PLZ "${plz}": expected 5 digits` };
      }
      return UNKNOWN_REGION;
    }
    if (ort === undefined || entry.byOrt === null) return entry.all;
    return entry.byOrt.get(normalizeOrt(ort)) ?? entry.all;
  }

  /** Every Gemeinde the PLZ covers, sorted by AGS; empty for an unknown PLZ. */
  postcodeRegions(plz: string): readonly Region[] {
    return this.#postcodes.get(plz)?.regions ?? [];
  }

  /**
   * Regions whose name starts with `q`, both normalised like an Ort; ordered by normalised
   * name, then AGS. A query that normalises to nothing matches nothing.
   */
  searchRegions(q: string, options: SearchRegionsOptions = {}): Region[] {
    const limit = Math.max(
      1,
      Math.min(MAX_SEARCH_RESULTS, Math.trunc(options.limit ?? DEFAULT_SEARCH_RESULTS)),
    );
    const key = normalizeOrt(q);
    if (key === "") return [];
    const list = this.#byName;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid]!.key < key) lo = mid + 1;
      else hi = mid;
    }
    const out: Region[] = [];
    for (let i = lo; i < list.length && out.length < limit; i++) {
      const item = list[i]!;
      if (!item.key.startsWith(key)) break;
      out.push(item.region);
    }
    return out;
  }

  /**
   * The provider responsible for `evidenceType` at `ags`: the route with the longest
   * region key that is a prefix of the AGS. Works for AGS not in the regions table too
   * (slower, allocating path).
   */
  resolve(evidenceType: string, ags: string): ResolveResult {
    const type = this.#types.get(evidenceType);
    if (type === undefined) return UNKNOWN_EVIDENCE_TYPE;
    const entry = this.#gemeinden.get(ags);
    if (entry !== undefined) return type.byGemeinde[entry.ordinal] ?? NO_PROVIDER;
    if (!isDigits(ags, 8)) {
      return { kind: "invalid", detail: `Cannot parse AGS "${ags}": expected 8 digits` };
    }
    const byKey = type.byKey;
    return byKey.get(ags) ?? byKey.get(ags.slice(0, 5)) ?? byKey.get(ags.slice(0, 3)) ??
      byKey.get(ags.slice(0, 2)) ?? byKey.get("") ?? NO_PROVIDER;
  }

  /** The evidence type with this id, or `undefined`. */
  evidenceType(id: string): EvidenceType | undefined {
    return this.#types.get(id)?.evidenceType;
  }

  /** The whole catalogue, sorted by id. */
  evidenceTypes(): readonly EvidenceType[] {
    return this.#evidenceTypeList;
  }

  #byClassification: Map<string, EvidenceType> | null = null;

  /** The evidence type with this EU classification URI (XNachweis), or `undefined`. */
  evidenceTypeByClassification(classification: string): EvidenceType | undefined {
    if (this.#byClassification === null) {
      this.#byClassification = new Map(
        this.#evidenceTypeList.filter((t) => t.classification).map((t) => [t.classification!, t]),
      );
    }
    return this.#byClassification.get(classification);
  }

  /** The provider with this id, or `undefined`. */
  provider(id: string): Provider | undefined {
    return this.#providers.get(id);
  }

  /** Ids of routes whose provider or evidence type does not exist, sorted. */
  get danglingRouteIds(): readonly string[] {
    return this.#danglingRouteIds;
  }

  get counts(): NavIndexCounts {
    return this.#counts;
  }
}

/** Builds the navigation index from the tables. Malformed or dangling rows are skipped and counted. */
export function buildNavIndex(tables: NavTables): NavIndex {
  const providers = new Map<string, Provider>();
  for (const p of tables.providers) providers.set(p.id, p);

  // Gemeinden sorted by AGS; their ordinal indexes the per-type resolution arrays.
  const validRegions = tables.regions.filter((r) => isDigits(r.ags, 8));
  validRegions.sort((a, b) => (a.ags < b.ags ? -1 : a.ags > b.ags ? 1 : 0));
  const gemeinden = new Map<string, GemeindeEntry>();
  const byArs = new Map<string, RegionLookup>();
  const ordinals: Region[] = [];
  for (const region of validRegions) {
    if (gemeinden.has(region.ags)) continue;
    const found = Object.freeze({ kind: "found" as const, region });
    gemeinden.set(region.ags, Object.freeze({ found, ordinal: ordinals.length }));
    ordinals.push(region);
    const ars = region.ars;
    if (
      ars !== null && isDigits(ars, 12) && ars.slice(0, 5) + ars.slice(9) === region.ags
    ) byArs.set(ars, found);
  }

  // Kreis of every Gemeinde, so the fall-back above Gemeinde level is worked out once per Kreis.
  const kreisKeys: string[] = [];
  const kreisOf = new Int32Array(ordinals.length);
  for (let i = 0; i < ordinals.length; i++) {
    const k5 = ordinals[i]!.ags.slice(0, 5);
    if (kreisKeys[kreisKeys.length - 1] !== k5) kreisKeys.push(k5);
    kreisOf[i] = kreisKeys.length - 1;
  }

  const sortedTypes = [...tables.evidenceTypes].sort((a, b) =>
    a.id < b.id ? -1 : a.id > b.id ? 1 : 0
  );
  const building = new Map<
    string,
    { et: EvidenceType; gem: (Resolution | undefined)[]; byKey: Map<string, Resolution> }
  >();
  for (const et of sortedTypes) {
    if (building.has(et.id)) continue;
    building.set(et.id, {
      et,
      gem: new Array<Resolution | undefined>(ordinals.length).fill(undefined),
      byKey: new Map(),
    });
  }

  const dangling: string[] = [];
  const routesByType = new Map<string, Resolution[]>();
  const serving = new Map<string, Map<string, number>>();
  let invalidRoutes = 0;
  for (const route of tables.routes) {
    const key = route.regionKey;
    if (!isRegionKey(key)) {
      invalidRoutes++;
      continue;
    }
    const type = building.get(route.evidenceType);
    const provider = providers.get(route.providerId);
    if (type === undefined || provider === undefined) {
      dangling.push(route.id);
      continue;
    }
    let counts = serving.get(route.evidenceType);
    if (counts === undefined) serving.set(route.evidenceType, counts = new Map());
    counts.set(route.providerId, (counts.get(route.providerId) ?? 0) + 1);
    const resolution: Resolution = Object.freeze({
      kind: "resolved",
      evidenceType: type.et,
      provider,
      matchedLevel: LEVEL_BY_KEY_LENGTH[key.length]!,
      route,
    });
    const listed = routesByType.get(route.evidenceType);
    if (listed === undefined) routesByType.set(route.evidenceType, [resolution]);
    else listed.push(resolution);
    const ordinal = key.length === 8 ? gemeinden.get(key)?.ordinal : undefined;
    if (ordinal !== undefined) {
      if (wins(resolution, type.gem[ordinal])) type.gem[ordinal] = resolution;
    } else if (wins(resolution, type.byKey.get(key))) {
      type.byKey.set(key, resolution);
    }
  }

  const types = new Map<string, TypeEntry>();
  const kreisResolution = new Array<Resolution | undefined>(kreisKeys.length);
  for (const [id, { et, gem, byKey }] of building) {
    if (byKey.size > 0) {
      for (let k = 0; k < kreisKeys.length; k++) {
        const k5 = kreisKeys[k]!;
        kreisResolution[k] = byKey.get(k5) ?? byKey.get(k5.slice(0, 3)) ??
          byKey.get(k5.slice(0, 2)) ?? byKey.get("");
      }
      for (let i = 0; i < gem.length; i++) {
        if (gem[i] === undefined) gem[i] = kreisResolution[kreisOf[i]!];
      }
    }
    types.set(id, Object.freeze({ evidenceType: et, byGemeinde: gem, byKey }));
  }

  const postcodes = new Map<string, PostcodeEntry>();
  let postcodePlaces = 0;
  let danglingPlaces = 0;
  for (const pc of tables.postcodes) {
    if (!isDigits(pc.plz, 5) || postcodes.has(pc.plz)) continue;
    const places = pc.places.filter((p) => gemeinden.has(p.ags));
    postcodePlaces += places.length;
    danglingPlaces += pc.places.length - places.length;
    if (places.length === 0) continue;
    const regions = Object.freeze(distinctSortedRegions(places.map((p) => p.ags), gemeinden));
    let byOrt: Map<string, RegionLookup> | null = null;
    if (regions.length > 1) {
      const agsByOrt = new Map<string, string[]>();
      for (const p of places) {
        const key = normalizeOrt(p.ort);
        const list = agsByOrt.get(key);
        if (list) list.push(p.ags);
        else agsByOrt.set(key, [p.ags]);
      }
      byOrt = new Map();
      for (const [key, agsList] of agsByOrt) {
        if (key === "") continue;
        byOrt.set(key, lookupFor(distinctSortedRegions(agsList, gemeinden), gemeinden));
      }
    }
    postcodes.set(pc.plz, Object.freeze({ all: lookupFor(regions, gemeinden), byOrt, regions }));
  }

  const byName = ordinals.map((region) => Object.freeze({ key: normalizeOrt(region.name), region }))
    .sort((a, b) =>
      a.key < b.key
        ? -1
        : a.key > b.key
        ? 1
        : a.region.ags < b.region.ags
        ? -1
        : a.region.ags > b.region.ags
        ? 1
        : 0
    );

  return new NavIndex({
    ordinals,
    gemeinden,
    byArs,
    postcodes,
    types,
    evidenceTypeList: Object.freeze([...types.values()].map((t) => t.evidenceType)),
    providers,
    serving,
    byName: Object.freeze(byName),
    danglingRouteIds: Object.freeze(dangling.sort()),
    routesByType,
    counts: Object.freeze({
      regions: ordinals.length,
      postcodes: postcodes.size,
      postcodePlaces,
      evidenceTypes: types.size,
      providers: providers.size,
      routes: tables.routes.length,
      danglingRoutes: dangling.length,
      invalidRoutes,
      invalidRegions: tables.regions.length - validRegions.length,
      danglingPlaces,
    }),
  });
}
