/**
 * A routes table read whole, held in columns: each route's id as bytes in one arena, its
 * evidence type, region key and provider as ordinals into lists of the distinct values, and
 * the hash of its id (src/route_list.ts). A million routes are then a dozen typed arrays, not
 * a million route objects and a million id strings: V8's young-generation collector copied
 * those objects out of the nursery at every reload (~0.4 s of a million-route swap), and the
 * index was built from Map lookups per route instead of one per distinct value
 * (BENCHMARKS.md, "Session 14, P7").
 *
 * A route is made into an object only when a reader asks for it ({@linkcode RouteColumns.route},
 * iteration): the same route asked twice is two equal objects, never the same one.
 *
 * @example
 * ```ts
 * const builder = new RouteColumnsBuilder();
 * builder.add(idBytes, 0, idBytes.length, 0, 0, 0);
 * const routes = builder.finish(["fahrzeugzulassung"], ["08111000"], ["kba"]);
 * routes.route(0); // { id: "…", evidenceType: "fahrzeugzulassung", … }
 * ```
 *
 * @module
 */
import { grown, utf8Text } from "./_bytes.ts";
import type { Route, RouteRows } from "../src/model.ts";

/**
 * A 32-bit hash of a route id, compared for equality only: FNV-1a's step over two UTF-16 code
 * units at a time, half the multiplications of one per unit.
 */
export function idHash(id: string): number {
  let h = 0x811c9dc5 ^ id.length;
  let i = 0;
  for (const end = id.length - 1; i < end; i += 2) {
    h = Math.imul(h ^ (id.charCodeAt(i) | id.charCodeAt(i + 1) << 16), 0x01000193);
  }
  if (i < id.length) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h;
}

/**
 * {@linkcode idHash} of the id whose UTF-8 bytes are `bytes[from, to)`, without making the
 * string: for ASCII a byte is a code unit. NaN when the bytes are not all ASCII.
 */
function asciiIdHash(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5 ^ (to - from);
  let ascii = 0;
  let i = from;
  for (const end = to - 1; i < end; i += 2) {
    const a = bytes[i]!;
    const b = bytes[i + 1]!;
    ascii |= a | b;
    h = Math.imul(h ^ (a | b << 16), 0x01000193);
  }
  if (i < to) {
    ascii |= bytes[i]!;
    h = Math.imul(h ^ bytes[i]!, 0x01000193);
  }
  return ascii < 0x80 ? h : NaN;
}

/**
 * A list of routes read through its iterator: `find`, `some`, `map` and `filter` of
 * {@linkcode RouteRows} for the route columns and for the route list (src/route_list.ts).
 */
export abstract class IteratedRoutes implements RouteRows {
  abstract readonly length: number;
  abstract [Symbol.iterator](): Iterator<Route>;

  find(predicate: (route: Route) => boolean): Route | undefined {
    for (const route of this) if (predicate(route)) return route;
    return undefined;
  }

  some(predicate: (route: Route) => boolean): boolean {
    return this.find(predicate) !== undefined;
  }

  map<T>(fn: (route: Route) => T): T[] {
    const out: T[] = [];
    for (const route of this) out.push(fn(route));
    return out;
  }

  filter(predicate: (route: Route) => boolean): Route[] {
    const out: Route[] = [];
    for (const route of this) if (predicate(route)) out.push(route);
    return out;
  }
}

/** Routes in columns, read-only; made by {@linkcode RouteColumnsBuilder}. */
export class RouteColumns extends IteratedRoutes {
  readonly length: number;
  /** Route `i`'s id is the UTF-8 `#idBytes[#idStarts[i], #idStarts[i + 1])`. */
  readonly #idBytes: Uint8Array;
  readonly #idStarts: Int32Array;
  /** How many bytes the ids take: a size for the builder of the next read of the table. */
  readonly idByteLength: number;
  /** {@linkcode idHash} of each route's id. */
  readonly idHashes: Int32Array;
  /** Per route, the ordinal of its evidence type in {@linkcode RouteColumns.typeValues}. */
  readonly types: Int32Array;
  /** Per route, the ordinal of its region key in {@linkcode RouteColumns.regionValues}. */
  readonly regions: Int32Array;
  /** Per route, the ordinal of its provider in {@linkcode RouteColumns.providerValues}. */
  readonly providers: Int32Array;
  readonly typeValues: readonly string[];
  readonly regionValues: readonly string[];
  readonly providerValues: readonly string[];

  /** @internal Use {@linkcode RouteColumnsBuilder}. */
  constructor(parts: {
    length: number;
    idBytes: Uint8Array;
    idStarts: Int32Array;
    idHashes: Int32Array;
    types: Int32Array;
    regions: Int32Array;
    providers: Int32Array;
    typeValues: readonly string[];
    regionValues: readonly string[];
    providerValues: readonly string[];
  }) {
    super();
    this.length = parts.length;
    this.#idBytes = parts.idBytes;
    this.#idStarts = parts.idStarts;
    this.idByteLength = parts.idStarts[parts.length]!;
    this.idHashes = parts.idHashes;
    this.types = parts.types;
    this.regions = parts.regions;
    this.providers = parts.providers;
    this.typeValues = parts.typeValues;
    this.regionValues = parts.regionValues;
    this.providerValues = parts.providerValues;
  }

  /** The id of route `i` (a new string each time). */
  id(i: number): string {
    return utf8Text(this.#idBytes, this.#idStarts[i]!, this.#idStarts[i + 1]!);
  }

  regionKey(i: number): string {
    return this.regionValues[this.regions[i]!]!;
  }

  /** Route `i` as an object (a new one each time). */
  route(i: number): Route {
    return {
      id: this.id(i),
      evidenceType: this.typeValues[this.types[i]!]!,
      regionKey: this.regionValues[this.regions[i]!]!,
      providerId: this.providerValues[this.providers[i]!]!,
    };
  }

  *[Symbol.iterator](): Iterator<Route> {
    for (let i = 0; i < this.length; i++) yield this.route(i);
  }
}

/** How many routes, and how many bytes of ids, a builder makes room for at once. */
export interface RouteColumnsSize {
  readonly routes: number;
  readonly idBytes: number;
}

/**
 * Gathers routes row by row into {@linkcode RouteColumns}. Given the size to expect (the
 * table's size when it was read last), it makes its arrays that size at once: grown by
 * doubling and trimmed at the end, the arrays of a million routes were ~200 ms of a reload,
 * most of it the system's faults on fresh pages (BENCHMARKS.md, "Session 14, P7").
 */
export class RouteColumnsBuilder {
  #length = 0;
  #idBytes: Uint8Array;
  #idStarts: Int32Array;
  #idHashes: Int32Array;
  #types: Int32Array;
  #regions: Int32Array;
  #providers: Int32Array;

  constructor(expect: RouteColumnsSize = { routes: 0, idBytes: 0 }) {
    const routes = Math.max(2048, Math.ceil(expect.routes));
    this.#idBytes = new Uint8Array(Math.max(1 << 16, Math.ceil(expect.idBytes)));
    this.#idStarts = new Int32Array(routes + 1);
    this.#idHashes = new Int32Array(routes);
    this.#types = new Int32Array(routes);
    this.#regions = new Int32Array(routes);
    this.#providers = new Int32Array(routes);
  }

  /**
   * Adds a route: its id's UTF-8 bytes `bytes[from, to)` and the ordinals of its evidence
   * type, region key and provider in the value lists given to
   * {@linkcode RouteColumnsBuilder.finish}.
   */
  add(bytes: Uint8Array, from: number, to: number, type: number, region: number, provider: number) {
    const i = this.#length;
    if (i === this.#types.length) {
      this.#idStarts = grown(this.#idStarts, i * 2 + 1);
      this.#idHashes = grown(this.#idHashes, i * 2);
      this.#types = grown(this.#types, i * 2);
      this.#regions = grown(this.#regions, i * 2);
      this.#providers = grown(this.#providers, i * 2);
    }
    const start = this.#idStarts[i]!;
    const end = start + to - from;
    if (end > this.#idBytes.length) {
      this.#idBytes = grown(this.#idBytes, Math.max(end, this.#idBytes.length * 2));
    }
    // Byte by byte: a subarray() per route was an object per route again.
    const idBytes = this.#idBytes;
    for (let k = from, j = start; k < to; k++, j++) idBytes[j] = bytes[k]!;
    this.#idStarts[i + 1] = end;
    const hash = asciiIdHash(bytes, from, to);
    this.#idHashes[i] = Number.isNaN(hash) ? idHash(utf8Text(bytes, from, to)) : hash;
    this.#types[i] = type;
    this.#regions[i] = region;
    this.#providers[i] = provider;
    this.#length = i + 1;
  }

  /** The routes added, with the value lists their ordinals index. */
  finish(
    typeValues: readonly string[],
    regionValues: readonly string[],
    providerValues: readonly string[],
  ): RouteColumns {
    const n = this.#length;
    // Trimmed to size where more than an eighth is empty (a doubled array, a table that
    // shrank); a view of the rest.
    const fit = <T extends Uint8Array | Int32Array>(array: T, length: number): T =>
      (array.length - length > array.length / 8
        ? array.slice(0, length)
        : array.subarray(0, length)) as T;
    return new RouteColumns({
      length: n,
      idBytes: fit(this.#idBytes, this.#idStarts[n]!),
      idStarts: fit(this.#idStarts, n + 1),
      idHashes: fit(this.#idHashes, n),
      types: fit(this.#types, n),
      regions: fit(this.#regions, n),
      providers: fit(this.#providers, n),
      typeValues,
      regionValues,
      providerValues,
    });
  }
}
