/**
 * The navigation index (Registerdatennavigation): finds regions by AGS, ARS, PLZ/Ort or name
 * prefix, and the provider responsible for an evidence type in a region.
 *
 * Built once from the tables and never changed; a table change builds a new index and the
 * caller swaps the reference. Every region answer is an object made at build time; a
 * provider answer ({@linkcode Resolution}) is made on its first lookup and kept, so repeated
 * lookups allocate nothing while a million routes do not each hold one from the start.
 * Misses return result objects instead of throwing.
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

import { runToEnd, type Steps } from "./_slices.ts";
import type { EvidenceType, NavTables, Provider, Region, Route } from "./model.ts";
import { normalizeOrt } from "./ort.ts";
import { idHash, RouteColumns } from "../db/route_columns.ts";
import { RouteList, type RouteRange } from "./route_list.ts";

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

/**
 * A route as the index holds it: an object, or its position in the index's base columns (a
 * table read whole, db/route_columns.ts), so that a million routes are not a million objects.
 * The same route is always the same reference within an index.
 */
type RouteRef = Route | number;

/** The id of `ref`; `base` holds the routes a number is a position of. */
function refId(base: RouteColumns | null, ref: RouteRef): string {
  return typeof ref === "number" ? base!.id(ref) : ref.id;
}

function refKey(base: RouteColumns | null, ref: RouteRef): string {
  return typeof ref === "number" ? base!.regionKey(ref) : ref.regionKey;
}

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
  /** The responsible route per Gemeinde ordinal, fall-back included. */
  readonly byGemeinde: readonly (RouteRef | undefined)[];
  /** Routes above Gemeinde level, and Gemeinde routes for AGS not in the regions table. */
  readonly byKey: ReadonlyMap<string, RouteRef>;
  /**
   * The answers made so far (a memo, not state): per Gemeinde ordinal, and per key for the
   * routes of `byKey`, so that a fall-back route's Gemeinden share one answer.
   */
  readonly answers: Answers;
}

interface Answers {
  byGemeinde: (Resolution | undefined)[] | null;
  readonly byKey: Map<string, Resolution>;
  list: readonly Resolution[] | null;
}

function noAnswers(): Answers {
  return { byGemeinde: null, byKey: new Map(), list: null };
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

/**
 * Which of two routes for the same key wins: the smaller id, so the order of rows never
 * matters. `base` holds the routes a number is a position of.
 */
function wins(
  candidate: RouteRef,
  holder: RouteRef | undefined,
  base: RouteColumns | null,
): boolean {
  return holder === undefined || refId(base, candidate) < refId(base, holder);
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
 * Per evidence type, the ordinals of the providers its routes name, sorted, once per route:
 * 4 bytes a route. (A map per type from provider to count held a million entries, 40 MB,
 * at a million routes to ten thousand providers.)
 */
type ProviderCounts = ReadonlyMap<string, Int32Array>;

/** Whether the sorted `list` holds `ordinal`. */
function holds(list: Int32Array, ordinal: number): boolean {
  return list[lowerBound(list, ordinal)] === ordinal;
}

/** Where `value` is or would go in the sorted `list`. */
function lowerBound(list: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** `list` with `removed` taken out (once each) and `added` put in, still sorted. */
function withOrdinals(
  list: Int32Array | undefined,
  removed: readonly number[],
  added: readonly number[],
): Int32Array {
  const out = Array.from(list ?? []);
  for (const o of removed) {
    const at = lowerBound(out, o);
    if (out[at] === o) out.splice(at, 1);
  }
  for (const o of added) out.splice(lowerBound(out, o), 0, o);
  return Int32Array.from(out);
}

/** The parts an index was built from (set in {@linkcode NavIndex}'s static block). */
let partsOf: (index: NavIndex) => { regions: RegionParts; providers: ProviderParts };

/** The immutable navigation index. Create it with {@linkcode buildNavIndex}. */
export class NavIndex {
  #types: ReadonlyMap<string, TypeEntry>;
  #evidenceTypeList: readonly EvidenceType[];
  #serving: ProviderCounts;
  #danglingRouteIds: readonly string[];
  #counts: NavIndexCounts;
  #routesByType: ReadonlyMap<string, readonly RouteRef[]>;
  /** The columns the numbers among the route references are positions in, or null. */
  readonly #base: RouteColumns | null;
  /**
   * What the regions and postcodes made (Gemeinden by AGS, sorted by ordinal, by ARS and by
   * name; postcodes) and the providers (by ordinal: what `#serving` counts); the next build
   * may take them over.
   */
  readonly #regionParts: RegionParts;
  readonly #providerParts: ProviderParts;

  static {
    // Module-private: buildNavIndex takes these parts over after a change of the routes alone.
    partsOf = (index) => ({ regions: index.#regionParts, providers: index.#providerParts });
  }

  /** @internal Use {@linkcode buildNavIndex}. */
  constructor(parts: {
    regions: RegionParts;
    providers: ProviderParts;
    types: ReadonlyMap<string, TypeEntry>;
    evidenceTypeList: readonly EvidenceType[];
    serving: ProviderCounts;
    danglingRouteIds: readonly string[];
    counts: NavIndexCounts;
    routesByType: ReadonlyMap<string, readonly RouteRef[]>;
    base: RouteColumns | null;
  }) {
    this.#regionParts = parts.regions;
    this.#providerParts = parts.providers;
    this.#types = parts.types;
    this.#evidenceTypeList = parts.evidenceTypeList;
    this.#serving = parts.serving;
    this.#danglingRouteIds = parts.danglingRouteIds;
    this.#counts = parts.counts;
    this.#routesByType = parts.routesByType;
    this.#base = parts.base;
  }

  /** Every valid route of an evidence type with its provider (the DSD lists them). */
  routes(evidenceType: string): readonly Resolution[] {
    const type = this.#types.get(evidenceType);
    if (type === undefined) return [];
    const answers = type.answers;
    if (answers.list === null) {
      answers.list = Object.freeze(
        (this.#routesByType.get(evidenceType) ?? []).map((route) => this.#answer(type, route)),
      );
    }
    return answers.list;
  }

  /**
   * The answer of the route for all of Germany (region key `""`) of an evidence type, or
   * `undefined` when it has none: one lookup, not a walk of {@linkcode NavIndex.routes}.
   */
  federal(evidenceType: string): Resolution | undefined {
    const type = this.#types.get(evidenceType);
    const route = type?.byKey.get("");
    return route === undefined ? undefined : this.#answer(type!, route);
  }

  /**
   * The answer naming `route` for its evidence type, made once: per Gemeinde ordinal for a
   * Gemeinde's own route (`at`), per key for a route above Gemeinde level.
   */
  #answer(type: TypeEntry, route: RouteRef, at?: number): Resolution {
    const key = refKey(this.#base, route);
    const answers = type.answers;
    if (key.length === 8) {
      const ordinal = at ?? this.#regionParts.gemeinden.get(key)?.ordinal;
      if (ordinal !== undefined && type.byGemeinde[ordinal] === route) {
        const memo = answers.byGemeinde ??= new Array(type.byGemeinde.length).fill(undefined);
        return memo[ordinal] ??= this.#resolution(type, route);
      }
    }
    if (type.byKey.get(key) !== route) return this.#resolution(type, route);
    let made = answers.byKey.get(key);
    if (made === undefined) answers.byKey.set(key, made = this.#resolution(type, route));
    return made;
  }

  #resolution(type: TypeEntry, ref: RouteRef): Resolution {
    // A position's route made into an object once, for the answer that keeps it.
    const route = typeof ref === "number" ? this.#base!.route(ref) : ref;
    return Object.freeze({
      kind: "resolved",
      evidenceType: type.evidenceType,
      provider: this.#providerParts.list[this.#providerParts.ordinals.get(route.providerId)!]!,
      matchedLevel: LEVEL_BY_KEY_LENGTH[route.regionKey.length]!,
      route,
    });
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
      this.#providerParts.ordinals.has(r.providerId);
    if (!removed.every(usable) || !added.every(usable)) return null;
    const types = new Map(this.#types);
    const touched = new Map<
      string,
      { gem: (RouteRef | undefined)[]; byKey: Map<string, RouteRef> }
    >();
    const base = this.#base;
    const sameId = (ref: RouteRef | undefined, id: string) =>
      ref !== undefined && refId(base, ref) === id;
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
      const ordinal = key.length === 8 ? this.#regionParts.gemeinden.get(key)?.ordinal : undefined;
      if (ordinal !== undefined) {
        if (sameId(t.gem[ordinal], route.id)) {
          t.gem[ordinal] = undefined;
          mark(route.evidenceType, key);
        }
      } else if (sameId(t.byKey.get(key), route.id)) {
        t.byKey.delete(key);
        mark(route.evidenceType, key);
      }
    }
    for (const route of added) {
      const t = edit(route.evidenceType);
      const key = route.regionKey;
      const ordinal = key.length === 8 ? this.#regionParts.gemeinden.get(key)?.ordinal : undefined;
      if (ordinal !== undefined) {
        const holder = t.gem[ordinal];
        // A fall-back sitting there gives way to the Gemeinde's own route.
        if (
          holder === undefined || refKey(base, holder).length !== 8 || wins(route, holder, base)
        ) {
          t.gem[ordinal] = route;
        }
      } else if (wins(route, t.byKey.get(key), base)) {
        t.byKey.set(key, route);
        mark(route.evidenceType, key);
      }
    }
    for (const [id, t] of touched) {
      for (const prefix of refill.get(id) ?? []) {
        const [from, to] = this.#range(prefix);
        for (let i = from; i < to; i++) {
          const own = t.gem[i];
          if (own !== undefined && refKey(base, own).length === 8) continue;
          const ags = this.#regionParts.ordinals[i]!.ags;
          t.gem[i] = t.byKey.get(ags.slice(0, 5)) ?? t.byKey.get(ags.slice(0, 3)) ??
            t.byKey.get(ags.slice(0, 2)) ?? t.byKey.get("");
        }
      }
      const old = this.#types.get(id)!;
      types.set(
        id,
        Object.freeze({
          evidenceType: old.evidenceType,
          byGemeinde: t.gem,
          byKey: t.byKey,
          answers: noAnswers(),
        }),
      );
    }
    // Which providers serve which evidence type: the touched types' lists, copied.
    const serving = new Map(this.#serving);
    const moved = new Map<string, { removed: number[]; added: number[] }>();
    const move = (r: Route) => {
      let m = moved.get(r.evidenceType);
      if (m === undefined) moved.set(r.evidenceType, m = { removed: [], added: [] });
      return m;
    };
    for (const r of removed) move(r).removed.push(this.#providerParts.ordinals.get(r.providerId)!);
    for (const r of added) move(r).added.push(this.#providerParts.ordinals.get(r.providerId)!);
    for (const [id, m] of moved) {
      serving.set(id, withOrdinals(this.#serving.get(id), m.removed, m.added));
    }
    // The DSD's list of routes per evidence type, for the touched types only.
    const routesByType = new Map(this.#routesByType);
    const gone = new Set(removed.map((r) => r.id));
    // A position's id is made only where its hash is one of a removed route's.
    const goneHashes = new Set(removed.map((r) => idHash(r.id)));
    const keeps = (r: RouteRef) =>
      typeof r === "number"
        ? !goneHashes.has(base!.idHashes[r]!) || !gone.has(base!.id(r))
        : !gone.has(r.id);
    for (const id of touched.keys()) {
      const kept = (this.#routesByType.get(id) ?? []).filter(keeps);
      for (const route of added) if (route.evidenceType === id) kept.push(route);
      routesByType.set(id, kept);
    }
    return new NavIndex({
      serving,
      routesByType,
      regions: this.#regionParts,
      providers: this.#providerParts,
      types,
      evidenceTypeList: this.#evidenceTypeList,
      danglingRouteIds: this.#danglingRouteIds,
      base: this.#base,
      counts: Object.freeze({
        ...this.#counts,
        routes: this.#counts.routes - removed.length + added.length,
      }),
    });
  }

  /** Ordinals `[from, to)` of the Gemeinden whose AGS starts with `prefix`. */
  #range(prefix: string): [number, number] {
    const list = this.#regionParts.ordinals;
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
    const ordinal = this.#providerParts.ordinals.get(providerId);
    const list = this.#serving.get(evidenceType);
    return ordinal !== undefined && list !== undefined && holds(list, ordinal);
  }

  /**
   * The evidence types `providerId` is on a route for, sorted: one look per evidence type,
   * not a scan of the routes, so it stays cheap at a million routes.
   */
  evidenceTypesServedBy(providerId: string): string[] {
    const ordinal = this.#providerParts.ordinals.get(providerId);
    if (ordinal === undefined) return [];
    const types: string[] = [];
    for (const [type, list] of this.#serving) {
      if (holds(list, ordinal)) types.push(type);
    }
    return types.sort();
  }

  /**
   * Whether a route of `evidenceType` has exactly the region key `key` (not a fall-back above
   * it): one look, not a walk of the routes.
   */
  hasRoute(evidenceType: string, key: string): boolean {
    const type = this.#types.get(evidenceType);
    if (type === undefined) return false;
    const ordinal = key.length === 8 ? this.#regionParts.gemeinden.get(key)?.ordinal : undefined;
    if (ordinal === undefined) return type.byKey.has(key);
    const route = type.byGemeinde[ordinal];
    return route !== undefined && refKey(this.#base, route) === key;
  }

  /** The region with this AGS, or `undefined`. */
  region(ags: string): Region | undefined {
    return this.#regionParts.gemeinden.get(ags)?.found.region;
  }

  /** Region by 8-digit AGS: `found`, `unknown`, or `invalid` for a malformed key. */
  lookupAgs(ags: string): RegionLookup {
    const entry = this.#regionParts.gemeinden.get(ags);
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
    const hit = this.#regionParts.byArs.get(ars);
    if (hit !== undefined) return hit;
    if (!isDigits(ars, 12)) {
      return { kind: "invalid", detail: `Cannot parse ARS "${ars}": expected 12 digits` };
    }
    const ags = ars.slice(0, 5) + ars.slice(9);
    const region = this.#regionParts.gemeinden.get(ags)?.found.region;
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
    const entry = this.#regionParts.postcodes.get(plz);
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
    return this.#regionParts.postcodes.get(plz)?.regions ?? [];
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
    const list = this.#regionParts.byName;
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
    const entry = this.#regionParts.gemeinden.get(ags);
    if (entry !== undefined) {
      const ordinal = entry.ordinal;
      const made = type.answers.byGemeinde?.[ordinal];
      if (made !== undefined) return made;
      const route = type.byGemeinde[ordinal];
      if (route === undefined) return NO_PROVIDER;
      const answer = this.#answer(type, route, ordinal);
      const memo = type.answers.byGemeinde ??= new Array(type.byGemeinde.length).fill(undefined);
      memo[ordinal] = answer;
      return answer;
    }
    if (!isDigits(ags, 8)) {
      return { kind: "invalid", detail: `Cannot parse AGS "${ags}": expected 8 digits` };
    }
    const byKey = type.byKey;
    const route = byKey.get(ags) ?? byKey.get(ags.slice(0, 5)) ?? byKey.get(ags.slice(0, 3)) ??
      byKey.get(ags.slice(0, 2)) ?? byKey.get("");
    return route === undefined ? NO_PROVIDER : this.#answer(type, route);
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
    const ordinal = this.#providerParts.ordinals.get(id);
    return ordinal === undefined ? undefined : this.#providerParts.list[ordinal];
  }

  /** Ids of routes whose provider or evidence type does not exist, sorted. */
  get danglingRouteIds(): readonly string[] {
    return this.#danglingRouteIds;
  }

  get counts(): NavIndexCounts {
    return this.#counts;
  }
}

/** What {@linkcode buildNavIndex} gathers per evidence type from the routes. */
interface TypeBuild {
  readonly et: EvidenceType;
  readonly gem: (RouteRef | undefined)[];
  readonly byKey: Map<string, RouteRef>;
  readonly routes: RouteRef[];
  /** The ordinal of each route's provider. */
  readonly serving: number[];
}

/** Options for {@linkcode buildNavIndex}. */
export interface BuildNavIndexOptions {
  /** An index built from the same regions and postcodes: their parts are taken over. */
  regionsFrom?: NavIndex;
  /** An index built from the same providers: their maps are taken over. */
  providersFrom?: NavIndex;
}

/** Builds the navigation index from the tables. Malformed or dangling rows are skipped and counted. */
export function buildNavIndex(tables: NavTables, options: BuildNavIndexOptions = {}): NavIndex {
  return runToEnd(navIndexSteps(tables, options));
}

/** Routes indexed between two points where the build may pause. */
const ROUTES_PER_STEP = 4096;

/**
 * {@linkcode buildNavIndex} as steps (src/_slices.ts): run in slices, an instance that rebuilds
 * the index of a million routes goes on answering meanwhile.
 */
export function* navIndexSteps(
  tables: NavTables,
  options: BuildNavIndexOptions = {},
): Steps<NavIndex> {
  const providersPart = options.providersFrom
    ? partsOf(options.providersFrom).providers
    : providerParts(tables.providers);
  const providerOrdinals = providersPart.ordinals;
  const regionsPart = options.regionsFrom
    ? partsOf(options.regionsFrom).regions
    : regionParts(tables);
  const { ordinals, gemeinden, kreisKeys, kreisOf } = regionsPart;

  const sortedTypes = [...tables.evidenceTypes].sort((a, b) =>
    a.id < b.id ? -1 : a.id > b.id ? 1 : 0
  );
  // Per evidence type, everything its routes go into: one lookup per run of routes of one
  // type (a table load brings them grouped), not one per map per route.
  const building = new Map<string, TypeBuild>();
  for (const et of sortedTypes) {
    if (building.has(et.id)) continue;
    building.set(et.id, {
      et,
      gem: new Array<RouteRef | undefined>(ordinals.length).fill(undefined),
      byKey: new Map(),
      routes: [],
      serving: [],
    });
  }

  const dangling: string[] = [];
  let invalidRoutes = 0;
  // A table read whole comes in columns (db/route_columns.ts), as such or as the unchanged
  // ranges of a route list: the index holds their positions, and each distinct evidence type,
  // region key and provider is looked up once, not once per route.
  const routes = tables.routes;
  const base = routes instanceof RouteList
    ? routes.base
    : routes instanceof RouteColumns
    ? routes
    : null;
  const runs: readonly (Iterable<Route> | RouteRange)[] = routes instanceof RouteList
    ? routes.chunks()
    : routes instanceof RouteColumns
    ? [{ from: 0, length: routes.length }]
    : [routes];
  // Per distinct value of the base columns: its evidence type's build, its Gemeinde ordinal
  // (-1: another valid key; -2: not a region key), its provider ordinal (-1: none).
  const typeOf = base?.typeValues.map((id) => building.get(id)) ?? [];
  const placeOf = Int32Array.from(
    base?.regionValues ?? [],
    (key) => gemeinden.get(key)?.ordinal ?? (isRegionKey(key) ? -1 : -2),
  );
  const providerOf = Int32Array.from(
    base?.providerValues ?? [],
    (id) => providerOrdinals.get(id) ?? -1,
  );
  let type: TypeBuild | undefined;
  // The last route's provider: routes come grouped by type, not by provider, so no object per
  // change of provider.
  let providerId = "";
  let providerOrdinal: number | undefined;
  let step = 0;
  for (const run of runs) {
    if (!(Symbol.iterator in run)) {
      const { types, regions, providers, regionValues } = base!;
      for (let p = run.from, end = run.from + run.length; p < end; p++) {
        if (++step === ROUTES_PER_STEP) {
          step = 0;
          yield;
        }
        const at = placeOf[regions[p]!]!;
        if (at === -2) {
          invalidRoutes++;
          continue;
        }
        const t = typeOf[types[p]!];
        const provider = providerOf[providers[p]!]!;
        if (t === undefined || provider < 0) {
          dangling.push(base!.id(p));
          continue;
        }
        t.serving.push(provider);
        t.routes.push(p);
        if (at >= 0) {
          if (wins(p, t.gem[at], base)) t.gem[at] = p;
        } else {
          const key = regionValues[regions[p]!]!;
          if (wins(p, t.byKey.get(key), base)) t.byKey.set(key, p);
        }
      }
      continue;
    }
    for (const route of run) {
      if (++step === ROUTES_PER_STEP) {
        step = 0;
        yield;
      }
      const key = route.regionKey;
      // A Gemeinde of the regions table is a valid key: no digit check for most routes.
      const at = key.length === 8 ? gemeinden.get(key)?.ordinal : undefined;
      if (at === undefined && !isRegionKey(key)) {
        invalidRoutes++;
        continue;
      }
      if (type?.et.id !== route.evidenceType) type = building.get(route.evidenceType);
      if (providerId !== route.providerId) {
        providerId = route.providerId;
        providerOrdinal = providerOrdinals.get(providerId);
      }
      if (type === undefined || providerOrdinal === undefined) {
        dangling.push(route.id);
        continue;
      }
      type.serving.push(providerOrdinal);
      type.routes.push(route);
      if (at !== undefined) {
        if (wins(route, type.gem[at], base)) type.gem[at] = route;
      } else if (wins(route, type.byKey.get(key), base)) {
        type.byKey.set(key, route);
      }
    }
  }
  const serving = new Map<string, Int32Array>();
  const routesByType = new Map<string, RouteRef[]>();
  for (const [id, t] of building) {
    if (t.routes.length === 0) continue;
    serving.set(id, Int32Array.from(t.serving).sort());
    routesByType.set(id, t.routes);
    yield;
  }

  const types = new Map<string, TypeEntry>();
  const kreisRoute = new Array<RouteRef | undefined>(kreisKeys.length);
  for (const [id, { et, gem, byKey }] of building) {
    if (byKey.size > 0) {
      for (let k = 0; k < kreisKeys.length; k++) {
        const k5 = kreisKeys[k]!;
        kreisRoute[k] = byKey.get(k5) ?? byKey.get(k5.slice(0, 3)) ??
          byKey.get(k5.slice(0, 2)) ?? byKey.get("");
      }
      for (let i = 0; i < gem.length; i++) {
        if (gem[i] === undefined) gem[i] = kreisRoute[kreisOf[i]!];
      }
    }
    types.set(
      id,
      Object.freeze({ evidenceType: et, byGemeinde: gem, byKey, answers: noAnswers() }),
    );
    yield;
  }

  return new NavIndex({
    regions: regionsPart,
    providers: providersPart,
    types,
    evidenceTypeList: Object.freeze([...types.values()].map((t) => t.evidenceType)),
    serving,
    danglingRouteIds: Object.freeze(dangling.sort()),
    routesByType,
    base,
    counts: Object.freeze({
      regions: ordinals.length,
      postcodes: regionsPart.postcodes.size,
      postcodePlaces: regionsPart.postcodePlaces,
      evidenceTypes: types.size,
      providers: providerOrdinals.size,
      routes: tables.routes.length,
      danglingRoutes: dangling.length,
      invalidRoutes,
      invalidRegions: regionsPart.invalidRegions,
      danglingPlaces: regionsPart.danglingPlaces,
    }),
  });
}

/** The parts of an index made from the regions and postcodes alone. */
interface RegionParts {
  readonly ordinals: readonly Region[];
  readonly gemeinden: ReadonlyMap<string, GemeindeEntry>;
  readonly byArs: ReadonlyMap<string, RegionLookup>;
  readonly kreisKeys: readonly string[];
  readonly kreisOf: Int32Array;
  readonly postcodes: ReadonlyMap<string, PostcodeEntry>;
  readonly postcodePlaces: number;
  readonly danglingPlaces: number;
  readonly invalidRegions: number;
  readonly byName: readonly { readonly key: string; readonly region: Region }[];
}

/** The parts of an index made from the providers alone. */
interface ProviderParts {
  /** The providers by ordinal: their position in the table, the first of a duplicated id. */
  readonly list: readonly Provider[];
  readonly ordinals: ReadonlyMap<string, number>;
}

function providerParts(rows: readonly Provider[]): ProviderParts {
  const list: Provider[] = [];
  const ordinals = new Map<string, number>();
  for (const p of rows) {
    let ordinal = ordinals.get(p.id);
    if (ordinal === undefined) ordinals.set(p.id, ordinal = list.length);
    // A later row of the same id replaces the provider, as a map keyed by id would.
    list[ordinal] = p;
  }
  return { list, ordinals };
}

function regionParts(tables: Pick<NavTables, "regions" | "postcodes">): RegionParts {
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

  return {
    ordinals,
    gemeinden,
    byArs,
    kreisKeys,
    kreisOf,
    postcodes,
    postcodePlaces,
    danglingPlaces,
    invalidRegions: tables.regions.length - validRegions.length,
    byName: Object.freeze(byName),
  };
}
