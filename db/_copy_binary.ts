/**
 * Rows of text columns from PostgreSQL's binary `COPY … TO STDOUT` stream, decoded from the
 * bytes: no driver row objects, no string for a value already seen in an interned column.
 * postgres.js hands a fresh string for every cell and a row object for every row; at a
 * million routes that decoding, and pooling the repeated names afterwards, was most of a
 * table load (BENCHMARKS.md, "Session 5, P7 and P8").
 *
 * The stream may be cut anywhere (the driver passes one COPY message per row, but a
 * generic stream need not): a tuple cut in two is carried over to the next chunk.
 *
 * With `arrays`, every column of a tuple is a one-dimensional `text[]` of one length and each
 * element index is a row: a COPY of `array_agg()`s over a few thousand rows at a time
 * (db/tables.ts). The driver's work per COPY message (a message header parsed, a `Buffer`
 * view, a stream push and event) is then paid per thousands of rows, not per row
 * (BENCHMARKS.md, "Session 9, P8").
 *
 * @example
 * ```ts
 * const decoder = new CopyTextRows(4, [1, 2, 3], (cells) => rows.push(cells.slice()));
 * for (const chunk of stream) decoder.push(chunk);
 * decoder.end();
 * ```
 *
 * @module
 */

import { grown, utf8Text } from "./_bytes.ts";

const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00];

/** Thrown when the stream is not a binary COPY of the expected shape. */
export class CopyFormatError extends Error {
  override name = "CopyFormatError";
}

/**
 * The distinct values of one column: an open-addressing table of FNV-1a hashes over their
 * bytes (typed arrays, no object per lookup), growing as values arrive. The bytes of every
 * value sit in one growing arena: no typed array per distinct value (a million routes name
 * tens of thousands of providers).
 */
class InternTable {
  #slots = new Int32Array(1024);
  #hashes = new Int32Array(512);
  /** Value `i`'s bytes are `#arena[#starts[i], #starts[i + 1])`. */
  #starts = new Int32Array(513);
  #arena = new Uint8Array(8192);
  #values: string[] = [];
  /** The value last asked for: a column often repeats it row after row. */
  #last = -1;

  /** Whether value `held` has the bytes `bytes[from, to)`. */
  #same(held: number, bytes: Uint8Array, from: number, to: number): boolean {
    const start = this.#starts[held]!;
    if (this.#starts[held + 1]! - start !== to - from) return false;
    const arena = this.#arena;
    for (let i = from, j = start; i < to; i++, j++) if (arena[j] !== bytes[i]) return false;
    return true;
  }

  /** The distinct values so far, in the order of their first sight. */
  get values(): readonly string[] {
    return this.#values;
  }

  /** The string for `bytes[from, to)`, made on its first sight. */
  get(bytes: Uint8Array, from: number, to: number): string {
    return this.#values[this.index(bytes, from, to)]!;
  }

  /** The ordinal in {@linkcode InternTable.values} of `bytes[from, to)`, added on its first sight. */
  index(bytes: Uint8Array, from: number, to: number): number {
    let hash = 0x811c9dc5;
    for (let i = from; i < to; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
    const last = this.#last;
    if (last >= 0 && this.#hashes[last] === hash && this.#same(last, bytes, from, to)) {
      return last;
    }
    const mask = this.#slots.length - 1;
    for (let slot = hash & mask;; slot = (slot + 1) & mask) {
      const held = this.#slots[slot]! - 1;
      if (held < 0) break;
      if (this.#hashes[held] !== hash || !this.#same(held, bytes, from, to)) continue;
      this.#last = held;
      return held;
    }
    this.#add(hash, bytes, from, to, utf8Text(bytes, from, to));
    return this.#last = this.#values.length - 1;
  }

  #add(hash: number, bytes: Uint8Array, from: number, to: number, value: string): void {
    const index = this.#values.length;
    if (index === this.#hashes.length) {
      this.#hashes = grown(this.#hashes, index * 2);
      this.#starts = grown(this.#starts, index * 2 + 1);
    }
    const start = this.#starts[index]!;
    const end = start + to - from;
    if (end > this.#arena.length) {
      this.#arena = grown(this.#arena, Math.max(end, this.#arena.length * 2));
    }
    this.#arena.set(bytes.subarray(from, to), start);
    this.#starts[index + 1] = end;
    this.#hashes[index] = hash;
    this.#values.push(value);
    // At most half full; grown by rehashing what is held.
    if (this.#values.length * 2 > this.#slots.length) {
      this.#slots = new Int32Array(this.#slots.length * 2);
      for (let i = 0; i < index; i++) this.#place(this.#hashes[i]!, i);
    }
    this.#place(hash, index);
  }

  #place(hash: number, index: number): void {
    const mask = this.#slots.length - 1;
    let slot = hash & mask;
    while (this.#slots[slot] !== 0) slot = (slot + 1) & mask;
    this.#slots[slot] = index + 1;
  }
}

/** The big-endian signed 32-bit integer at `at` (no DataView per row). */
function int32(bytes: Uint8Array, at: number): number {
  return bytes[at]! << 24 | bytes[at + 1]! << 16 | bytes[at + 2]! << 8 | bytes[at + 3]!;
}

/**
 * Where the cells of one row are, for {@linkcode CopyTextRowsOptions.raw}: the same object for
 * every row, valid during the call.
 */
export interface RawRow {
  /** The bytes the cells are in. */
  bytes: Uint8Array;
  /** Per column, where its value starts and ends in `bytes`; -1 for SQL NULL. */
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  /** Per interned column, its value's ordinal in {@linkcode CopyTextRows.values}; -1 for NULL. */
  readonly ordinals: Int32Array;
}

/** Options for {@linkcode CopyTextRows}. */
export interface CopyTextRowsOptions {
  /** Every column is a one-dimensional text array of one length per tuple: a row per element. */
  arrays?: boolean;
  /**
   * Called for every row instead of `onRow`, with where its cells are instead of strings: no
   * string is made but one per distinct value of an interned column.
   */
  raw?: (row: RawRow) => void;
}

/**
 * Decodes a binary COPY stream of `columns` text columns and calls `onRow` with each row's
 * cells, null for SQL NULL (the same array every time: copy what is kept). The columns listed in
 * `interned` repeat few values: each distinct value becomes one string, shared by every
 * row that holds it.
 */
export class CopyTextRows {
  readonly #columns: number;
  readonly #onRow: (cells: (string | null)[]) => void;
  readonly #cells: (string | null)[];
  /** Per column, its table of distinct values when it is interned. */
  readonly #pools: (InternTable | null)[];
  /** Per column, where its next array element starts, and where its field ends (`arrays`). */
  readonly #elements: Int32Array | null;
  readonly #fieldEnds: Int32Array | null;
  readonly #raw: RawRow | null;
  readonly #onRaw: ((row: RawRow) => void) | null;
  #carry: Uint8Array | null = null;
  #headerDone = false;
  #ended = false;

  constructor(
    columns: number,
    interned: readonly number[],
    onRow: (cells: (string | null)[]) => void,
    options: CopyTextRowsOptions = {},
  ) {
    this.#columns = columns;
    this.#onRow = onRow;
    this.#cells = new Array<string | null>(columns).fill(null);
    this.#pools = Array.from(
      { length: columns },
      (_, i) => interned.includes(i) ? new InternTable() : null,
    );
    this.#elements = options.arrays ? new Int32Array(columns) : null;
    this.#fieldEnds = options.arrays ? new Int32Array(columns) : null;
    this.#onRaw = options.raw ?? null;
    this.#raw = options.raw === undefined ? null : {
      bytes: new Uint8Array(0),
      starts: new Int32Array(columns),
      ends: new Int32Array(columns),
      ordinals: new Int32Array(columns).fill(-1),
    };
  }

  /** The distinct values of interned column `c` so far, by ordinal (empty for another column). */
  values(c: number): readonly string[] {
    return this.#pools[c]?.values ?? [];
  }

  /** Hands the row just decoded on. */
  #emit(): void {
    if (this.#onRaw !== null) this.#onRaw(this.#raw!);
    else this.#onRow(this.#cells);
  }

  /** Decodes what `chunk` completes; keeps a cut tuple for the next chunk. */
  push(chunk: Uint8Array): void {
    // Read as it comes (postgres.js hands a Node Buffer per row): no view made per chunk.
    let bytes = chunk;
    if (this.#carry !== null) {
      bytes = new Uint8Array(this.#carry.length + chunk.length);
      bytes.set(this.#carry);
      bytes.set(chunk, this.#carry.length);
      this.#carry = null;
    }
    let at = 0;
    if (!this.#headerDone) {
      const end = this.#header(bytes);
      if (end < 0) {
        this.#carry = bytes === chunk ? new Uint8Array(chunk) : bytes;
        return;
      }
      at = end;
      this.#headerDone = true;
    }
    const length = bytes.length;
    const columns = this.#columns;
    if (this.#raw !== null) this.#raw.bytes = bytes;
    while (at + 2 <= length) {
      if (this.#ended) throw new CopyFormatError("Cannot decode COPY: data after the trailer");
      const fields = (bytes[at]! << 24 | bytes[at + 1]! << 16) >> 16;
      if (fields === -1) {
        this.#ended = true;
        at += 2;
        continue;
      }
      if (fields !== columns) {
        throw new CopyFormatError(`Cannot decode COPY: a row of ${fields} columns, not ${columns}`);
      }
      // Is the whole tuple here? Walk its lengths first; decode only a complete one.
      let p = at + 2;
      let complete = true;
      for (let c = 0; c < columns; c++) {
        if (p + 4 > length) {
          complete = false;
          break;
        }
        const size = int32(bytes, p);
        p += 4 + (size < 0 ? 0 : size);
        if (p > length) {
          complete = false;
          break;
        }
      }
      if (!complete) break;
      if (this.#elements !== null) {
        this.#arrayRows(bytes, at + 2);
        at = p;
        continue;
      }
      p = at + 2;
      for (let c = 0; c < columns; c++) {
        const size = int32(bytes, p);
        p += 4;
        this.#cell(c, bytes, p, size);
        p += size < 0 ? 0 : size;
      }
      at = p;
      this.#emit();
    }
    // A copy: a Buffer's `slice()` would be a view of memory the driver owns.
    if (at < length) this.#carry = new Uint8Array(bytes.subarray(at));
  }

  /** Sets cell `c` from the value of `size` bytes (-1: SQL NULL) at `at`. */
  #cell(c: number, bytes: Uint8Array, at: number, size: number): void {
    const raw = this.#raw;
    if (raw !== null) {
      raw.starts[c] = size < 0 ? -1 : at;
      raw.ends[c] = size < 0 ? -1 : at + size;
      const pool = this.#pools[c]!;
      if (pool !== null) raw.ordinals[c] = size < 0 ? -1 : pool.index(bytes, at, at + size);
      return;
    }
    if (size < 0) {
      this.#cells[c] = null;
      return;
    }
    const pool = this.#pools[c]!;
    this.#cells[c] = pool === null
      ? utf8Text(bytes, at, at + size)
      : pool.get(bytes, at, at + size);
  }

  /**
   * The rows of one whole tuple of arrays whose fields start at `at`: PostgreSQL's binary
   * array (dimensions, a flag, the element type, per dimension its length and lower bound,
   * then each element as a length and its bytes, -1 for NULL), read column by column in step.
   */
  #arrayRows(bytes: Uint8Array, at: number): void {
    const columns = this.#columns;
    const elements = this.#elements!;
    const ends = this.#fieldEnds!;
    let rows = -1;
    let p = at;
    for (let c = 0; c < columns; c++) {
      const size = int32(bytes, p);
      p += 4;
      if (size < 12) throw new CopyFormatError("Cannot decode COPY: a column is not an array");
      const dimensions = int32(bytes, p);
      if (dimensions > 1 || (dimensions === 1 && size < 20)) {
        throw new CopyFormatError(
          `Cannot decode COPY: an array of ${dimensions} dimensions, not one`,
        );
      }
      const length = dimensions === 0 ? 0 : int32(bytes, p + 12);
      if (rows !== -1 && length !== rows) {
        throw new CopyFormatError(
          `Cannot decode COPY: arrays of ${rows} and ${length} elements in one tuple`,
        );
      }
      rows = length;
      elements[c] = p + (dimensions === 0 ? 12 : 20);
      p += size;
      ends[c] = p;
    }
    for (let row = 0; row < rows; row++) {
      for (let c = 0; c < columns; c++) {
        const from = elements[c]!;
        const size = from + 4 <= ends[c]! ? int32(bytes, from) : Infinity;
        const next = from + 4 + (size < 0 ? 0 : size);
        if (next > ends[c]!) {
          throw new CopyFormatError("Cannot decode COPY: an array element past its array");
        }
        this.#cell(c, bytes, from + 4, size);
        elements[c] = next;
      }
      this.#emit();
    }
  }

  /** Checks that the stream ended where a COPY ends (after its trailer). */
  end(): void {
    if (!this.#headerDone) throw new CopyFormatError("Cannot decode COPY: no header");
    if (this.#carry !== null || !this.#ended) {
      throw new CopyFormatError("Cannot decode COPY: the stream ended inside a row");
    }
  }

  /** Where the rows start, or -1 when the header is not complete yet. */
  #header(bytes: Uint8Array): number {
    for (let i = 0; i < Math.min(SIGNATURE.length, bytes.length); i++) {
      if (bytes[i] !== SIGNATURE[i]) {
        throw new CopyFormatError("Cannot decode COPY: not PostgreSQL's binary COPY format");
      }
    }
    if (bytes.length < 19) return -1;
    const extension = int32(bytes, 15);
    return bytes.length < 19 + extension ? -1 : 19 + extension;
  }
}
