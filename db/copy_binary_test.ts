import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { CopyFormatError, CopyTextRows, type CopyTextRowsOptions } from "./_copy_binary.ts";

const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00];

/**
 * A binary COPY stream of `rows` as PostgreSQL writes it (text columns, null as length -1; a
 * `Uint8Array` cell is a field's bytes as they are, e.g. an array from {@linkcode textArray}).
 */
function copyStream(
  rows: readonly (readonly (string | null | Uint8Array)[])[],
  extension = 0,
): Uint8Array {
  const out: number[] = [...SIGNATURE];
  const int = (value: number, bytes: number) => {
    for (let i = bytes - 1; i >= 0; i--) out.push((value >> (8 * i)) & 0xff);
  };
  int(0, 4);
  int(extension, 4);
  for (let i = 0; i < extension; i++) out.push(0x2a);
  for (const row of rows) {
    int(row.length, 2);
    for (const cell of row) {
      if (cell === null) {
        int(-1, 4);
        continue;
      }
      const bytes = typeof cell === "string" ? new TextEncoder().encode(cell) : cell;
      int(bytes.length, 4);
      out.push(...bytes);
    }
  }
  int(-1, 2);
  return new Uint8Array(out);
}

/**
 * PostgreSQL's binary form of a `text[]` (array_send): dimensions, a has-null flag, the element
 * type, per dimension its length and lower bound, then each element's length and bytes.
 */
function textArray(values: readonly (string | null)[], dimensions = 1): Uint8Array {
  const out: number[] = [];
  const int = (value: number) => {
    for (let i = 3; i >= 0; i--) out.push((value >> (8 * i)) & 0xff);
  };
  int(values.length === 0 ? 0 : dimensions);
  int(values.includes(null) ? 1 : 0);
  int(25);
  if (values.length > 0) {
    for (let d = 0; d < dimensions; d++) {
      int(d === 0 ? values.length : 1);
      int(1);
    }
  }
  for (const value of values) {
    if (value === null) {
      int(-1);
      continue;
    }
    const bytes = new TextEncoder().encode(value);
    int(bytes.length);
    out.push(...bytes);
  }
  return new Uint8Array(out);
}

/** Tuples of one array per column, `size` rows in each, as a COPY of `array_agg()`s sends. */
function arrayTuples(
  rows: readonly (readonly (string | null)[])[],
  size: number,
): Uint8Array[][] {
  const tuples: Uint8Array[][] = [];
  for (let at = 0; at < rows.length; at += size) {
    const part = rows.slice(at, at + size);
    tuples.push(part[0]!.map((_, c) => textArray(part.map((row) => row[c]!))));
  }
  return tuples;
}

function decode(
  chunks: Iterable<Uint8Array>,
  columns: number,
  interned: readonly number[] = [],
  options: CopyTextRowsOptions = {},
): (string | null)[][] {
  const rows: (string | null)[][] = [];
  const decoder = new CopyTextRows(columns, interned, (cells) => rows.push([...cells]), options);
  for (const chunk of chunks) decoder.push(chunk);
  decoder.end();
  return rows;
}

const ROWS = [
  ["route-1", "meldebescheinigung", "08111000", "melde-stuttgart"],
  ["route-2", "meldebescheinigung", "08", "melde-bw"],
  ["route-3", "kfz", "", "kba"],
  ["r-ü-4", "Straße", "08111000", "melde-stuttgart"],
  ["route-5", "kfz", "09162000", "kba"],
];

Deno.test("CopyTextRows decodes every row and cell, cut at any byte", () => {
  const stream = copyStream(ROWS, 3);
  assert.deepEqual(decode([stream], 4), ROWS);
  for (let cut = 1; cut < stream.length; cut++) {
    assert.deepEqual(
      decode([stream.subarray(0, cut), stream.subarray(cut)], 4, [1, 2, 3]),
      ROWS,
      `cut at byte ${cut}`,
    );
  }
  // Node Buffers, as postgres.js hands them, cut inside tuples; the pieces reused after each
  // push, as a driver may reuse its memory: what is carried over must be a copy.
  const scratch = Buffer.alloc(stream.length);
  const rows: (string | null)[][] = [];
  const decoder = new CopyTextRows(4, [1, 2, 3], (cells) => rows.push([...cells]));
  for (let at = 0; at < stream.length; at += 7) {
    const piece = stream.subarray(at, at + 7);
    scratch.set(piece);
    decoder.push(scratch.subarray(0, piece.length));
    scratch.fill(0);
  }
  decoder.end();
  assert.deepEqual(rows, ROWS);
  // One byte at a time: every tuple arrives in pieces.
  assert.deepEqual(decode(Array.from(stream, (b) => new Uint8Array([b])), 4, [1, 3]), ROWS);
});

Deno.test("CopyTextRows keeps interned columns right past thousands of distinct values", () => {
  // Values that repeat in runs and out of order, enough to grow the tables several times.
  const rows = Array.from({ length: 6000 }, (_, i) => [
    `route-${i}`,
    `type-${Math.floor(i / 7) % 900}`,
    String((i * 7919) % 3001).padStart(8, "0"),
    i % 2 ? `provider-${i % 13}` : `provider-${i % 2999}`,
  ]);
  const stream = copyStream(rows);
  const pieces = [];
  for (let at = 0; at < stream.length; at += 4093) pieces.push(stream.subarray(at, at + 4093));
  assert.deepEqual(decode(pieces, 4, [1, 2, 3]), rows);
});

Deno.test("CopyTextRows tells apart interned values one byte apart, anywhere in them", () => {
  // Values of one length after each other, differing in one byte at every place of a 4-byte
  // word, and values that are prefixes of the one before: neither the comparison with the
  // last value nor the hash may take one for the other.
  const rows: string[][] = [];
  for (let length = 1; length <= 11; length++) {
    for (let at = 0; at < length; at++) {
      for (const c of ["a", "b", "a"]) {
        const value = "x".repeat(at) + c + "y".repeat(length - at - 1);
        rows.push([value, value.slice(0, -1)]);
      }
    }
  }
  assert.deepEqual(decode([copyStream(rows)], 2, [0, 1]), rows);
});

Deno.test("CopyTextRows gives null for SQL NULL, and an empty string for an empty one", () => {
  const rows = [["a", null, ""], [null, "b", null]];
  assert.deepEqual(decode([copyStream(rows)], 3, [1]), rows);
});

Deno.test("CopyTextRows refuses what is not a whole binary COPY of the expected shape", () => {
  const stream = copyStream(ROWS);
  assert.throws(() => decode([copyStream(ROWS)], 3), CopyFormatError);
  assert.throws(() => decode([stream.subarray(0, stream.length - 2)], 4), /ended inside a row/);
  assert.throws(() => decode([stream.subarray(0, stream.length - 9)], 4), /ended inside a row/);
  assert.throws(() => decode([new TextEncoder().encode("id\tkfz\n")], 4), /binary COPY format/);
  assert.throws(() => decode([], 4), /no header/);
  const after = new Uint8Array([...stream, 0, 4]);
  assert.throws(() => decode([after], 4), /after the trailer/);
});

Deno.test("CopyTextRows with arrays gives a row per element, tuples cut at any byte", () => {
  const rows = [...ROWS, ["route-6", "kfz", "", null]];
  // Two rows, then three, then none (an empty array has no dimensions), then one.
  const tuples = [
    ...arrayTuples(rows.slice(0, 2), 2),
    ...arrayTuples(rows.slice(2, 5), 3),
    [textArray([]), textArray([]), textArray([]), textArray([])],
    ...arrayTuples(rows.slice(5), 1),
  ];
  const stream = copyStream(tuples, 2);
  assert.deepEqual(decode([stream], 4, [], { arrays: true }), rows);
  for (let cut = 1; cut < stream.length; cut++) {
    assert.deepEqual(
      decode([stream.subarray(0, cut), stream.subarray(cut)], 4, [1, 2, 3], { arrays: true }),
      rows,
      `cut at byte ${cut}`,
    );
  }
  // Many rows per tuple, interned values repeating across tuples.
  const many = Array.from({ length: 5000 }, (_, i) => [
    `route-${i}`,
    `type-${i % 37}`,
    String(i % 401).padStart(8, "0"),
    `provider-${i % 1999}`,
  ]);
  const big = copyStream(arrayTuples(many, 1024));
  assert.deepEqual(decode([big], 4, [1, 2, 3], { arrays: true }), many);
});

Deno.test("CopyTextRows with raw gives where each cell is, and interned values as ordinals", () => {
  const rows = [...ROWS, ["route-6", "kfz", "", null]];
  const stream = copyStream(arrayTuples(rows, 4), 2);
  const text = new TextDecoder();
  for (let cut = 1; cut < stream.length; cut += 3) {
    const seen: (string | number | null)[][] = [];
    const decoder: CopyTextRows = new CopyTextRows(4, [1, 3], () => {
      throw new Error("onRow is not called in raw mode");
    }, {
      arrays: true,
      raw: ({ bytes, starts, ends, ordinals }) => {
        const cell = (c: number) =>
          starts[c]! < 0 ? null : text.decode(bytes.subarray(starts[c], ends[c]));
        // Cells as text, and the interned ones as their values by ordinal too.
        const value = (c: number) => ordinals[c]! < 0 ? null : decoder.values(c)[ordinals[c]!]!;
        seen.push([cell(0), cell(1), value(1), cell(2), cell(3), value(3), ordinals[1]!]);
      },
    });
    decoder.push(stream.subarray(0, cut));
    decoder.push(stream.subarray(cut));
    decoder.end();
    assert.deepEqual(
      seen,
      rows.map((
        r,
      ) => [
        r[0],
        r[1],
        r[1],
        r[2],
        r[3],
        r[3],
        ["meldebescheinigung", "kfz", "Straße"].indexOf(r[1]!),
      ]),
      `cut at byte ${cut}`,
    );
    assert.deepEqual(decoder.values(1), ["meldebescheinigung", "kfz", "Straße"]);
    assert.deepEqual(decoder.values(0), [], "a column not interned has no values");
  }
});

Deno.test("CopyTextRows with arrays refuses tuples that are not arrays of one length", () => {
  const arrays = (tuple: (string | null | Uint8Array)[]) =>
    decode([copyStream([tuple])], 2, [], { arrays: true });
  assert.throws(() => arrays([textArray(["a", "b"]), textArray(["c"])]), /2 and 1 elements/);
  assert.throws(() => arrays(["a", "b"]), /not an array/);
  assert.throws(() => arrays([textArray(["a"], 2), textArray(["b"], 2)]), /2 dimensions/);
  // An element that claims more bytes than its array holds.
  const long = textArray(["abc"]);
  long[23] = 200;
  assert.throws(() => arrays([long, textArray(["d"])]), /past its array/);
});
