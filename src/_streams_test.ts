/**
 * src/_streams.ts: the buffers the provider's body is read into. A body over TLS reads one
 * record (at most 16 KiB) at a time, so it is read into 16 KiB buffers handed on whole; a body
 * that brings more per read gets larger buffers, up to 96 KiB; a trickle is copied out. Every
 * 8 MiB handed on, a minor collection frees the chunks already handed on.
 *
 * @module
 */
import assert from "node:assert/strict";
import { watchedBody, YOUNG_COLLECTION_BYTES } from "./_streams.ts";

const KIB = 1024;

/** A byte stream (as Deno's fetch bodies are) that enqueues the given pieces, one per pull. */
function byteSource(pieces: readonly number[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      const size = pieces[next++];
      if (size === undefined) {
        controller.close();
        // A BYOB read pending at the close must be answered with an empty view.
        controller.byobRequest?.respond(0);
        return;
      }
      controller.enqueue(new Uint8Array(size).fill(next % 251));
    },
  });
}

/** Every chunk `watchedBody` hands on for the pieces: its length and its buffer's length. */
async function chunksOf(pieces: readonly number[]) {
  let ended: { bytes: number; error: string | null } | null = null;
  const body = watchedBody(byteSource(pieces), {
    check: null,
    expectedLength: null,
    idleTimeoutMs: 60_000,
    abort: () => {},
    stopped: () => null,
    describe: String,
    onEnd: (result) => ended = result,
  });
  const chunks: { length: number; buffer: number }[] = [];
  for await (const chunk of body) {
    chunks.push({ length: chunk.byteLength, buffer: chunk.buffer.byteLength });
  }
  assert.deepEqual(ended, {
    bytes: pieces.reduce((a, b) => a + b, 0),
    digest: null,
    error: null,
  });
  return chunks;
}

Deno.test("TLS records of 16 KiB are handed on in 16 KiB buffers after one larger probe", async () => {
  const chunks = await chunksOf(Array(64).fill(16 * KIB));
  assert.equal(chunks.length, 64);
  assert.ok(chunks.every((c) => c.length === 16 * KIB));
  // The first read fills its 16 KiB buffer, so the second tries 32 KiB; it brings 16 KiB
  // again and the size settles back at 16 KiB for the rest of the body.
  assert.deepEqual(chunks.slice(0, 3).map((c) => c.buffer), [16 * KIB, 32 * KIB, 16 * KIB]);
  assert.ok(chunks.slice(2).every((c) => c.buffer === 16 * KIB), "no buffer pins more");
});

Deno.test("a body that fills its buffers gets larger ones, up to 96 KiB", async () => {
  const chunks = await chunksOf([1024 * KIB, 1024 * KIB]);
  assert.deepEqual(
    chunks.slice(0, 6).map((c) => c.length),
    [16 * KIB, 32 * KIB, 64 * KIB, 96 * KIB, 96 * KIB, 96 * KIB],
  );
  // 96 KiB reached, the size stays: a later read that fills less (the first piece's last
  // 48 KiB) changes nothing.
  assert.ok(chunks.slice(3).every((c) => c.buffer === 96 * KIB));
  assert.ok(chunks.some((c) => c.length === 48 * KIB));
});

Deno.test("a first trickle does not settle the size; a trickle is copied out", async () => {
  const chunks = await chunksOf([100, 200, 1024 * KIB, 300]);
  // The trickles are copies of their bytes, not views of a whole buffer.
  assert.deepEqual(chunks.slice(0, 2), [{ length: 100, buffer: 100 }, {
    length: 200,
    buffer: 200,
  }]);
  // Then the size still grows: 16, 32, 64, 96 KiB reads of the large piece.
  assert.deepEqual(
    chunks.slice(2, 6).map((c) => c.length),
    [16 * KIB, 32 * KIB, 64 * KIB, 96 * KIB],
  );
  assert.deepEqual(chunks.at(-1), { length: 300, buffer: 300 });
});

Deno.test("a minor collection follows every 8 MiB handed on, over all transfers", async () => {
  const global = globalThis as { gc?: unknown };
  const exposed = global.gc;
  const calls: unknown[] = [];
  global.gc = (options: unknown) => calls.push(options);
  try {
    assert.equal(YOUNG_COLLECTION_BYTES, 8 * 1024 * KIB);
    // Two transfers at once, 12 MiB each: the count runs over both, whatever the earlier
    // tests left in it (less than 8 MiB), so three collections, each of the young generation.
    const records = Array(12 * 64).fill(16 * KIB);
    await Promise.all([chunksOf(records), chunksOf(records)]);
    assert.deepEqual(calls, Array(3).fill({ type: "minor", execution: "sync" }));
  } finally {
    if (exposed === undefined) delete global.gc;
    else global.gc = exposed;
  }
});

Deno.test("V8 takes the minor collection's options in a process run with --expose-gc", async () => {
  // The test runner has no `gc()`; the tasks and the container run Lotse with it. A child
  // process streams 12 MiB through watchedBody with the real `gc()` (counted, then called).
  const streams = new URL("./_streams.ts", import.meta.url).href;
  const code = `
    import { watchedBody } from ${JSON.stringify(streams)};
    const real = globalThis.gc;
    let calls = 0;
    let refused = null;
    globalThis.gc = (options) => {
      calls++;
      try {
        return real(options);
      } catch (error) {
        refused = String(error);
        throw error;
      }
    };
    let left = 12 * 64;
    const source = new ReadableStream({
      type: "bytes",
      pull(controller) {
        if (left-- === 0) {
          controller.close();
          controller.byobRequest?.respond(0);
          return;
        }
        controller.enqueue(new Uint8Array(${16 * 1024}));
      },
    });
    let ended = null;
    const body = watchedBody(source, {
      check: null, expectedLength: null, idleTimeoutMs: 60000, abort() {},
      stopped: () => null, describe: String, onEnd: (result) => ended = result,
    });
    let bytes = 0;
    for await (const chunk of body) bytes += chunk.byteLength;
    console.log(JSON.stringify({ calls, refused, bytes, ended }));
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc,--trace-gc", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  // The child's line and V8's trace lines, in whichever order their buffers were flushed.
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  const result = lines.find((line) => line.startsWith("{"));
  assert.ok(result !== undefined, lines.join("\n"));
  // 12 MiB through one transfer: one call of the real gc(), which took its options.
  assert.deepEqual(JSON.parse(result), {
    calls: 1,
    refused: null,
    bytes: 12 * 1024 * KIB,
    ended: { bytes: 12 * 1024 * KIB, digest: null, error: null },
  });
  // And V8 ran a young-generation collection for it (`--trace-gc` names gc()'s as "testing").
  assert.ok(
    lines.some((line) => /Scavenge|Minor Mark-Sweep/.test(line) && /testing/.test(line)),
    lines.join("\n"),
  );
});
