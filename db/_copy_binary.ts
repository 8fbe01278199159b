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
 * @example
 * ```ts
 * const decoder = new CopyTextRows(4, [1, 2, 3], (cells) => rows.push(cells.slice()));
 * for (const chunk of stream) decoder.push(chunk);
 * decoder.end();
 * ```
 *
 * @module
 */

const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00];

/** Thrown when the stream is not a binary COPY of the expected shape. */
export class CopyFormatError extends Error {
  override name = "CopyFormatError";
}

/** Whether `known` holds the bytes `bytes[from, to)`. */
function same(known: Uint8Array, bytes: Uint8Array, from: number, to: number): boolean {
  if (known.length !== to - from) return false;
  for (let i = 0; i < known.length; i++) if (known[i] !== bytes[from + i]) return false;
  return true;
}

/**
 * The distinct values of one column: an open-addressing table of FNV-1a hashes over their
 * bytes (typed arrays, no object per lookup), growing as values arrive.
 */
class InternTable {
  #slots = new Int32Array(1024);
  #hashes: number[] = [];
  #bytes: Uint8Array[] = [];
  #values: string[] = [];
  /** The value last asked for: a column often repeats it row after row. */
  #last = -1;

  /** The string for `bytes[from, to)`, made on its first sight. */
  get(bytes: Uint8Array, from: number, to: number): string {
    if (this.#last >= 0 && same(this.#bytes[this.#last]!, bytes, from, to)) {
      return this.#values[this.#last]!;
    }
    let hash = 0x811c9dc5;
    for (let i = from; i < to; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
    const mask = this.#slots.length - 1;
    for (let slot = hash & mask;; slot = (slot + 1) & mask) {
      const held = this.#slots[slot]! - 1;
      if (held < 0) break;
      if (this.#hashes[held] !== hash || !same(this.#bytes[held]!, bytes, from, to)) continue;
      this.#last = held;
      return this.#values[held]!;
    }
    const value = text(bytes, from, to);
    this.#add(hash, bytes.slice(from, to), value);
    this.#last = this.#values.length - 1;
    return value;
  }

  #add(hash: number, bytes: Uint8Array, value: string): void {
    this.#hashes.push(hash);
    this.#bytes.push(bytes);
    this.#values.push(value);
    // At most half full; grown by rehashing what is held.
    if (this.#values.length * 2 > this.#slots.length) {
      this.#slots = new Int32Array(this.#slots.length * 2);
      for (let i = 0; i < this.#values.length - 1; i++) this.#place(this.#hashes[i]!, i);
    }
    this.#place(hash, this.#values.length - 1);
  }

  #place(hash: number, index: number): void {
    const mask = this.#slots.length - 1;
    let slot = hash & mask;
    while (this.#slots[slot] !== 0) slot = (slot + 1) & mask;
    this.#slots[slot] = index + 1;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A string from UTF-8 bytes; ASCII (every column Lotse loads this way) without a decoder call. */
function text(bytes: Uint8Array, from: number, to: number): string {
  let ascii = true;
  for (let i = from; i < to; i++) {
    if (bytes[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (!ascii) return utf8.decode(bytes.subarray(from, to));
  // fromCharCode over a typed array: one fresh flat string, not a slice holding the chunk.
  return String.fromCharCode.apply(null, bytes.subarray(from, to) as unknown as number[]);
}

/** The big-endian signed 32-bit integer at `at` (no DataView per row). */
function int32(bytes: Uint8Array, at: number): number {
  return bytes[at]! << 24 | bytes[at + 1]! << 16 | bytes[at + 2]! << 8 | bytes[at + 3]!;
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
  #carry: Uint8Array | null = null;
  #headerDone = false;
  #ended = false;
  #rows = 0;

  constructor(
    columns: number,
    interned: readonly number[],
    onRow: (cells: (string | null)[]) => void,
  ) {
    this.#columns = columns;
    this.#onRow = onRow;
    this.#cells = new Array<string | null>(columns).fill(null);
    this.#pools = Array.from(
      { length: columns },
      (_, i) => interned.includes(i) ? new InternTable() : null,
    );
  }

  /** How many rows were decoded. */
  get rows(): number {
    return this.#rows;
  }

  /** Decodes what `chunk` completes; keeps a cut tuple for the next chunk. */
  push(chunk: Uint8Array): void {
    // A plain view: a subarray of a Node Buffer (what postgres.js hands over) builds a Buffer.
    let bytes = chunk.constructor === Uint8Array
      ? chunk
      : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
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
        this.#carry = bytes;
        return;
      }
      at = end;
      this.#headerDone = true;
    }
    const length = bytes.length;
    const columns = this.#columns;
    const cells = this.#cells;
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
      p = at + 2;
      for (let c = 0; c < columns; c++) {
        const size = int32(bytes, p);
        p += 4;
        if (size < 0) {
          cells[c] = null;
          continue;
        }
        const pool = this.#pools[c]!;
        cells[c] = pool === null ? text(bytes, p, p + size) : pool.get(bytes, p, p + size);
        p += size;
      }
      at = p;
      this.#rows++;
      this.#onRow(cells);
    }
    if (at < length) this.#carry = bytes.slice(at);
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
