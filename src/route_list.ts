/**
 * The route table as the table store holds it: an immutable list in chunks of 4,096 routes,
 * each with the hashes of its ids. A one-row change copies the list of chunks and the chunk
 * it touches (about 40 KB at a million routes), not the million: copying a flat array and
 * its hashes left 12 MB of garbage per change, which V8 collects only in a full collection,
 * so a burst of twenty changes grew an instance by 300 MB.
 *
 * A table read whole in columns (db/route_columns.ts) becomes ranges of those columns: no
 * object per route is made until a change writes to a chunk, which then becomes an array.
 *
 * Readers use it like a read-only array (`length`, `for … of`, `find`, `some`, `map`,
 * `filter`): see {@linkcode RouteRows}.
 *
 * @example
 * ```ts
 * const list = RouteList.from(routes);
 * const { list: next, removed } = list.withChanges(["r-1"], [{ ...route, providerId: "p" }]);
 * ```
 *
 * @module
 */
import { runToEnd, type Steps } from "./_slices.ts";
import type { Route, RouteRows } from "./model.ts";
import { idHash, IteratedRoutes, RouteColumns } from "../db/route_columns.ts";

const CHUNK = 4096;

/** Routes `[from, from + length)` of the list's base columns, made into objects when read. */
export interface RouteRange {
  readonly from: number;
  readonly length: number;
}

/** A chunk: routes as objects, or a range of the base columns (a table read whole, unchanged). */
type Chunk = readonly Route[] | RouteRange;

/** A list of routes that shares every chunk a change does not touch with its predecessor. */
export class RouteList extends IteratedRoutes {
  /** The columns the ranges among the chunks are of (db/route_columns.ts), or null. */
  readonly #base: RouteColumns | null;
  readonly #chunks: readonly Chunk[];
  /** Per chunk, the hash of each route's id: a change scans these 4 bytes each in a row. */
  readonly #hashes: readonly Int32Array[];
  readonly length: number;

  private constructor(
    base: RouteColumns | null,
    chunks: readonly Chunk[],
    hashes: readonly Int32Array[],
  ) {
    super();
    this.#base = base;
    this.#chunks = chunks;
    this.#hashes = hashes;
    this.length = chunks.reduce((sum, c) => sum + c.length, 0);
  }

  /** The columns the list's unchanged ranges are of, or null when it holds objects only. */
  get base(): RouteColumns | null {
    return this.#base;
  }

  /**
   * The list's chunks in order: arrays of routes, and ranges of {@linkcode RouteList.base}
   * (what the navigation index reads without making an object per route).
   */
  chunks(): readonly Chunk[] {
    return this.#chunks;
  }

  /** Route `i` of chunk `chunk` (made from the base columns for a range). */
  #at(chunk: Chunk, i: number): Route {
    return Array.isArray(chunk)
      ? (chunk as readonly Route[])[i]!
      : this.#base!.route((chunk as RouteRange).from + i);
  }

  /** The id of route `i` of chunk `chunk`. */
  #idAt(chunk: Chunk, i: number): string {
    return Array.isArray(chunk)
      ? (chunk as readonly Route[])[i]!.id
      : this.#base!.id((chunk as RouteRange).from + i);
  }

  /** The routes of `rows` in their order (the list itself when it is one already). */
  static from(rows: RouteRows): RouteList {
    return runToEnd(RouteList.steps(rows));
  }

  /** {@linkcode RouteList.from} as steps (src/_slices.ts), a pause possible after each chunk. */
  static *steps(rows: RouteRows): Steps<RouteList> {
    if (rows instanceof RouteList) return rows;
    if (rows instanceof RouteColumns) {
      // Ranges of the columns, their hashes views of the columns' own: nothing per route.
      const ranges: RouteRange[] = [];
      const views: Int32Array[] = [];
      for (let from = 0; from < rows.length; from += CHUNK) {
        const length = Math.min(CHUNK, rows.length - from);
        ranges.push({ from, length });
        views.push(rows.idHashes.subarray(from, from + length));
      }
      return new RouteList(rows, ranges, views);
    }
    const chunks: Route[][] = [];
    const hashes: Int32Array[] = [];
    let chunk: Route[] = [];
    let hash = new Int32Array(CHUNK);
    for (const route of rows) {
      hash[chunk.length] = idHash(route.id);
      chunk.push(route);
      if (chunk.length === CHUNK) {
        chunks.push(chunk);
        hashes.push(hash);
        chunk = [];
        hash = new Int32Array(CHUNK);
        yield;
      }
    }
    if (chunk.length > 0) {
      chunks.push(chunk);
      hashes.push(hash.slice(0, chunk.length));
    }
    return new RouteList(null, chunks, hashes);
  }

  *[Symbol.iterator](): Iterator<Route> {
    for (const chunk of this.#chunks) {
      for (let i = 0; i < chunk.length; i++) yield this.#at(chunk, i);
    }
  }

  /**
   * The list with the routes `ids` taken out and `rows` put in, and the routes taken out.
   * Changed rows take the places of the old ones; the rest are appended, or the gaps closed
   * from the end.
   */
  withChanges(
    ids: readonly string[],
    rows: readonly Route[],
  ): { list: RouteList; removed: Route[] } {
    return runToEnd(this.changeSteps(ids, rows));
  }

  /**
   * {@linkcode RouteList.withChanges} as steps (src/_slices.ts), a pause possible after each
   * chunk: an import's preview of a million rows, applied while the instance serves.
   */
  *changeSteps(
    ids: readonly string[],
    rows: readonly Route[],
  ): Steps<{ list: RouteList; removed: Route[] }> {
    const at = yield* this.#find(ids);
    const chunks = this.#chunks.slice() as Chunk[];
    const copied = new Set<number>();
    // A chunk the change writes to becomes an array of its own (routes made from a range).
    const own = (c: number): Route[] => {
      if (c === chunks.length) chunks.push([]);
      else if (!copied.has(c)) {
        const chunk = chunks[c]!;
        chunks[c] = Array.from({ length: chunk.length }, (_, i) => this.#at(chunk, i));
      }
      copied.add(c);
      return chunks[c] as Route[];
    };
    const get = (p: number) => this.#at(chunks[Math.floor(p / CHUNK)]!, p % CHUNK);
    const set = (p: number, route: Route) => {
      own(Math.floor(p / CHUNK))[p % CHUNK] = route;
    };
    const removed = at.map(get);
    let n = 0;
    for (; n < at.length && n < rows.length; n++) {
      set(at[n]!, rows[n]!);
      if (n % CHUNK === CHUNK - 1) yield;
    }
    let length = this.length;
    for (let k = n; k < rows.length; k++, length++) {
      own(Math.floor(length / CHUNK)).push(rows[k]!);
      if (k % CHUNK === CHUNK - 1) yield;
    }
    for (let k = at.length - 1; k >= n; k--) {
      length--;
      const last = own(Math.floor(length / CHUNK)).pop()!;
      if (at[k]! < length) set(at[k]!, last);
    }
    while (chunks.length > 0 && chunks[chunks.length - 1]!.length === 0) chunks.pop();
    const hashes = this.#hashes.slice(0, chunks.length);
    for (const c of copied) {
      if (c < chunks.length) hashes[c] = Int32Array.from(chunks[c] as Route[], (r) => idHash(r.id));
      yield;
    }
    return { list: new RouteList(this.#base, chunks, hashes), removed };
  }

  /** Positions of the routes with these ids, found by their hashes first. */
  *#find(ids: readonly string[]): Steps<number[]> {
    const at: number[] = [];
    if (ids.length === 0 || this.length === 0) return at;
    const one = ids.length === 1 ? ids[0]! : null;
    const h = one === null ? 0 : idHash(one);
    const wanted = one === null ? new Set<number>() : null;
    const gone = one === null ? new Set<string>() : null;
    if (one === null) {
      for (let i = 0; i < ids.length; i++) {
        wanted!.add(idHash(ids[i]!));
        gone!.add(ids[i]!);
        if (i % CHUNK === CHUNK - 1) yield;
      }
    }
    for (let c = 0; c < this.#hashes.length; c++) {
      yield;
      const hashes = this.#hashes[c]!;
      const chunk = this.#chunks[c]!;
      if (one !== null) {
        // The runtime's own search of the 4-byte hashes; an id compared only where one matches.
        for (let i = hashes.indexOf(h); i !== -1; i = hashes.indexOf(h, i + 1)) {
          if (this.#idAt(chunk, i) === one) at.push(c * CHUNK + i);
        }
        continue;
      }
      for (let i = 0; i < hashes.length; i++) {
        if (wanted!.has(hashes[i]!) && gone!.has(this.#idAt(chunk, i))) at.push(c * CHUNK + i);
      }
    }
    return at;
  }
}
