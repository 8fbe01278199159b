/**
 * The route table as the table store holds it: an immutable list in chunks of 4,096 routes,
 * each with the hashes of its ids. A one-row change copies the list of chunks and the chunk
 * it touches (about 40 KB at a million routes), not the million: copying a flat array and
 * its hashes left 12 MB of garbage per change, which V8 collects only in a full collection,
 * so a burst of twenty changes grew an instance by 300 MB.
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

const CHUNK = 4096;

/** FNV-1a of a route id (32 bits). */
function idHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** A list of routes that shares every chunk a change does not touch with its predecessor. */
export class RouteList implements RouteRows {
  readonly #chunks: readonly (readonly Route[])[];
  /** Per chunk, the hash of each route's id: a change scans these 4 bytes each in a row. */
  readonly #hashes: readonly Int32Array[];
  readonly length: number;

  private constructor(chunks: readonly (readonly Route[])[], hashes: readonly Int32Array[]) {
    this.#chunks = chunks;
    this.#hashes = hashes;
    this.length = chunks.reduce((sum, c) => sum + c.length, 0);
  }

  /** The routes of `rows` in their order (the list itself when it is one already). */
  static from(rows: RouteRows): RouteList {
    return runToEnd(RouteList.steps(rows));
  }

  /** {@linkcode RouteList.from} as steps (src/_slices.ts), a pause possible after each chunk. */
  static *steps(rows: RouteRows): Steps<RouteList> {
    if (rows instanceof RouteList) return rows;
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
    return new RouteList(chunks, hashes);
  }

  *[Symbol.iterator](): Iterator<Route> {
    for (const chunk of this.#chunks) yield* chunk;
  }

  find(predicate: (route: Route) => boolean): Route | undefined {
    for (const chunk of this.#chunks) {
      for (const route of chunk) if (predicate(route)) return route;
    }
    return undefined;
  }

  some(predicate: (route: Route) => boolean): boolean {
    return this.find(predicate) !== undefined;
  }

  map<T>(fn: (route: Route) => T): T[] {
    const out: T[] = [];
    for (const chunk of this.#chunks) for (const route of chunk) out.push(fn(route));
    return out;
  }

  filter(predicate: (route: Route) => boolean): Route[] {
    const out: Route[] = [];
    for (const chunk of this.#chunks) {
      for (const route of chunk) if (predicate(route)) out.push(route);
    }
    return out;
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
    const at = this.#find(ids);
    const chunks = this.#chunks.slice() as Route[][];
    const copied = new Set<number>();
    const own = (c: number) => {
      if (c === chunks.length) chunks.push([]);
      else if (!copied.has(c)) chunks[c] = chunks[c]!.slice();
      copied.add(c);
      return chunks[c]!;
    };
    const get = (p: number) => chunks[Math.floor(p / CHUNK)]![p % CHUNK]!;
    const set = (p: number, route: Route) => {
      own(Math.floor(p / CHUNK))[p % CHUNK] = route;
    };
    const removed = at.map(get);
    let n = 0;
    for (; n < at.length && n < rows.length; n++) set(at[n]!, rows[n]!);
    let length = this.length;
    for (let k = n; k < rows.length; k++, length++) own(Math.floor(length / CHUNK)).push(rows[k]!);
    for (let k = at.length - 1; k >= n; k--) {
      length--;
      const last = own(Math.floor(length / CHUNK)).pop()!;
      if (at[k]! < length) set(at[k]!, last);
    }
    while (chunks.length > 0 && chunks[chunks.length - 1]!.length === 0) chunks.pop();
    const hashes = this.#hashes.slice(0, chunks.length);
    for (const c of copied) {
      if (c < chunks.length) hashes[c] = Int32Array.from(chunks[c]!, (r) => idHash(r.id));
    }
    return { list: new RouteList(chunks, hashes), removed };
  }

  /** Positions of the routes with these ids, found by their hashes first. */
  #find(ids: readonly string[]): number[] {
    const at: number[] = [];
    if (ids.length === 0 || this.length === 0) return at;
    const one = ids.length === 1 ? ids[0]! : null;
    const h = one === null ? 0 : idHash(one);
    const wanted = one === null ? new Set(ids.map(idHash)) : null;
    const gone = one === null ? new Set(ids) : null;
    for (let c = 0; c < this.#hashes.length; c++) {
      const hashes = this.#hashes[c]!;
      const chunk = this.#chunks[c]!;
      for (let i = 0; i < hashes.length; i++) {
        const hit = one !== null
          ? hashes[i] === h && chunk[i]!.id === one
          : wanted!.has(hashes[i]!) && gone!.has(chunk[i]!.id);
        if (hit) at.push(c * CHUNK + i);
      }
    }
    return at;
  }
}
