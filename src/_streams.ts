/**
 * The two stream wrappers of the evidence transport: the consumer's request body on its way
 * up (counted, size-limited, digest-checked) and the provider's answer on its way down
 * (counted, digest-checked, idle-timed). Private to `transport.ts`.
 *
 * @module
 */
import { type DigestAlgorithm, formatDigest } from "../crypto/digest.ts";
import { createHash, type Hash } from "node:crypto";

/** An algorithm and the base64 digest a body must hash to. */
export interface DigestCheck {
  readonly algorithm: DigestAlgorithm;
  readonly value: string;
}

/** How a body that was read to its end (or not) turned out. */
export interface WatchResult {
  readonly bytes: number;
  /** `sha-…=:…:` of the bytes handed on, when there was a digest to check. */
  readonly digest: string | null;
  /** Why the body failed, or null when it was delivered whole. */
  readonly error: string | null;
}

/** Why a body stopped early; `transport.ts` maps it to a status and a reason. */
export type StopReason =
  | "too-large"
  | "request-digest"
  | "request-body"
  | "idle"
  | "consumer"
  | "consumer-slow"
  | "response-digest";

/** Options for {@linkcode watchedBody}. */
export interface WatchOptions {
  readonly check: DigestCheck | null;
  /** The announced Content-Length; a body ending short of it is a failure. */
  readonly expectedLength: number | null;
  readonly idleTimeoutMs: number;
  /**
   * Longest wait for the consumer to take the next chunk (it stopped reading, or reads so
   * slowly that one chunk of at most 96 KiB takes longer): the transfer is cut, the
   * provider's connection released. Default: no limit.
   */
  readonly consumerIdleTimeoutMs?: number;
  /** Ends the upstream exchange (aborts the provider's fetch). */
  readonly abort: (why: StopReason) => void;
  /** Why the exchange was aborted, if it was (a cancelled read resolves as `done`). */
  readonly stopped: () => StopReason | null;
  /** Explains an error the provider's body threw (or a stop) for the protocol log. */
  readonly describe: (error: unknown) => string;
  readonly onEnd: (result: WatchResult) => void;
  /** Shown every chunk read from the provider (a face's watch on the answer). */
  readonly onChunk?: (chunk: Uint8Array) => void;
}

// The provider's body is read with a BYOB reader into fresh buffers, not with the default
// reader (which allocates 64 KiB per read): Deno's fetch body is a byte stream whose reads fill
// as much of the buffer as has arrived. Each buffer goes to the consumer (Deno hands it to the
// socket without copying), so every read takes a fresh one. The buffer starts at 16 KiB: a body
// over TLS never reads more than one record (16 KiB) at a time, so a larger buffer only pins
// memory — 100 concurrent transfers held a 96 KiB buffer each and copied every record out of it
// (BENCHMARKS.md, "Session 10, P5"). A body that fills its buffer gets one twice the size next
// time, up to 96 KiB (plain HTTP reads more at once: fewer, larger chunks through JS); the first
// read of at least 8 KiB that does not fill its buffer settles the size, at that read's rounded
// up to 16 KiB.
const MIN_READ_BUFFER_BYTES = 16 * 1024;
const MAX_READ_BUFFER_BYTES = 96 * 1024;

/**
 * A chunk's memory lies outside V8's heap (an `ArrayBuffer`'s bytes are malloc'ed), and the
 * objects a chunk makes in the heap are a few hundred bytes: V8's young generation (8 MiB per
 * semi-space as the tasks run Lotse) filled only after ~20 MiB of chunks had passed through,
 * and the chunks handed on meanwhile waited, dead, for that collection — 10-20 MiB at any
 * time while 100 transfers ran. After this many bytes handed on, counted over all transfers,
 * a minor collection frees them (median 0.36 ms, ~50 ms per GiB: the young generation is
 * mostly dead by then), where the runtime exposes `gc()` (`--v8-flags=--expose-gc`, as `deno task serve`,
 * `deno task start` and the container run Lotse). BENCHMARKS.md, "Session 10, P5".
 */
export const YOUNG_COLLECTION_BYTES = 8 * 1024 * 1024;
let bytesSinceYoungCollection = 0;
// Off for good once `gc()` refused its options (another V8 might): a transfer must never fail
// for a collection. `src/_streams_test.ts` runs the call in a process with `--expose-gc`.
let youngCollections = true;

function collectYoungAfter(bytes: number): void {
  bytesSinceYoungCollection += bytes;
  if (bytesSinceYoungCollection < YOUNG_COLLECTION_BYTES) return;
  bytesSinceYoungCollection -= YOUNG_COLLECTION_BYTES;
  const gc = (globalThis as { gc?: (options: { type: "minor"; execution: "sync" }) => void }).gc;
  if (gc === undefined || !youngCollections) return;
  try {
    gc({ type: "minor", execution: "sync" });
  } catch {
    youngCollections = false;
  }
}

/**
 * The provider's body on its way to the consumer: a pull source (one hop per chunk, not a
 * TransformStream) that counts, hashes when there is a digest to check, and times out only
 * while waiting for the provider, never while the consumer is slow to read. When a digest
 * is checked the newest chunk is held back until the digest is confirmed, so a consumer
 * never receives all the bytes of a payload that fails the check; any failure errors the
 * stream, which cuts the consumer's connection instead of ending it cleanly.
 */
export function watchedBody(
  source: ReadableStream<Uint8Array>,
  options: WatchOptions,
): ReadableStream<Uint8Array> {
  const { check, expectedLength, idleTimeoutMs, abort, stopped, describe, onChunk } = options;
  const read = chunkReader(source);
  const hash = check === null ? null : newHash(check.algorithm);
  let bytes = 0;
  let held: Uint8Array | null = null;
  // The time the pending read started, or -1 while none is pending.
  let waitingSince = -1;
  // The time the last chunk was handed to the consumer, or -1 while it is pulling.
  let handedSince = -1;
  const consumerIdleMs = options.consumerIdleTimeoutMs ?? Infinity;
  let control: ReadableStreamDefaultController<Uint8Array> | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ended = false;

  // One timer per transfer, re-armed lazily when it fires, instead of a set/clear per chunk.
  const tick = Math.min(idleTimeoutMs, consumerIdleMs);
  const arm = (delay: number) => {
    timer = setTimeout(() => {
      timer = undefined;
      if (ended) return;
      const now = performance.now();
      if (handedSince >= 0 && now - handedSince >= consumerIdleMs) {
        // A consumer that does not take what it asked for holds the provider's connection:
        // cut both ends; the record says why.
        const reason = `Consumer took no data for ${consumerIdleMs} ms`;
        end(reason, null);
        abort("consumer-slow");
        held = null;
        // A string, not an Error: Deno.serve prints what errors a response body, and a
        // consumer's slowness is no reason for a stack trace in the log.
        control?.error(reason);
        read.cancel();
        return;
      }
      if (waitingSince < 0) return arm(tick);
      const waited = now - waitingSince;
      if (waited < idleTimeoutMs) return arm(Math.min(idleTimeoutMs - waited, tick));
      abort("idle");
      read.cancel();
    }, delay);
  };
  const end = (error: string | null, digest: string | null) => {
    if (ended) return;
    ended = true;
    if (timer !== undefined) clearTimeout(timer);
    options.onEnd({ bytes, digest, error });
  };
  const failWith = (controller: ReadableStreamDefaultController<Uint8Array>, reason: string) => {
    end(reason, null);
    abort(stopped() ?? "response-digest");
    held = null;
    controller.error(new Error(reason));
  };
  const reasonFor = (error: unknown): string => {
    const why = stopped();
    if (why === "idle") return `Provider body stalled for ${idleTimeoutMs} ms`;
    if (why === "consumer") return "Consumer closed the connection";
    return `Provider body failed: ${describe(error)}`;
  };
  const finish = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    if (expectedLength !== null && bytes !== expectedLength) {
      return failWith(controller, `Provider body ended after ${bytes} of ${expectedLength} bytes`);
    }
    let digest: string | null = null;
    if (hash !== null && check !== null) {
      const actual = hash.digest("base64");
      if (actual !== check.value) {
        return failWith(
          controller,
          `Provider body does not match its Repr-Digest ${check.algorithm}`,
        );
      }
      digest = formatDigest(check.algorithm, actual);
    }
    if (held !== null) controller.enqueue(held);
    held = null;
    controller.close();
    end(null, digest);
  };

  arm(tick);
  return new ReadableStream<Uint8Array>({
    start(controller) {
      control = controller;
    },
    async pull(controller) {
      handedSince = -1;
      try {
        await pullOnce(controller);
      } finally {
        if (!ended) handedSince = performance.now();
      }
    },
    cancel() {
      abort("consumer");
      end("Consumer closed the connection", null);
      held = null;
      read.cancel();
    },
  }, { highWaterMark: 0 });

  async function pullOnce(controller: ReadableStreamDefaultController<Uint8Array>) {
    for (;;) {
      let chunk: Uint8Array | null;
      waitingSince = performance.now();
      try {
        chunk = await read.next();
      } catch (error) {
        return failWith(controller, reasonFor(error));
      } finally {
        waitingSince = -1;
      }
      // A cancelled read resolves as done; only a real end of body counts as one.
      if (stopped() !== null) return failWith(controller, reasonFor(null));
      if (chunk === null) return finish(controller);
      bytes += chunk.byteLength;
      collectYoungAfter(chunk.byteLength);
      onChunk?.(chunk);
      if (hash === null) {
        controller.enqueue(chunk);
        return;
      }
      hash.update(chunk);
      const previous = held;
      held = chunk;
      if (previous !== null) {
        controller.enqueue(previous);
        return;
      }
    }
  }
}

/**
 * The consumer's request body on its way upstream: counted (not trusting Content-Length) and
 * hashed while it streams; exceeding the limit or a digest mismatch aborts the upstream
 * request, so the provider never sees a complete body.
 */
export function limitedBody(
  source: ReadableStream<Uint8Array>,
  maxBytes: number,
  options: {
    check: DigestCheck | null;
    abort: (why: StopReason) => void;
    /** Told the size of every chunk passed on. */
    onBytes?: (bytes: number) => void;
  },
): ReadableStream<Uint8Array> {
  const { check, abort, onBytes } = options;
  const reader = source.getReader();
  const hash = check === null ? null : newHash(check.algorithm);
  let bytes = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let read;
      try {
        read = await reader.read();
      } catch (error) {
        // The consumer's upload broke (cut short, malformed chunking): its fault, not the
        // provider's.
        abort("request-body");
        controller.error(error);
        return;
      }
      const { done, value } = read;
      if (done) {
        if (hash !== null && hash.digest("base64") !== check?.value) {
          abort("request-digest");
          controller.error(new Error("Request body does not match its Repr-Digest"));
          return;
        }
        controller.close();
        return;
      }
      bytes += value.byteLength;
      if (bytes > maxBytes) {
        abort("too-large");
        controller.error(new Error(`Request body exceeds the limit of ${maxBytes} bytes`));
        await reader.cancel().catch(() => {});
        return;
      }
      hash?.update(value);
      onBytes?.(value.byteLength);
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

/** A hash for a digest check's algorithm. */
export function newHash(algorithm: DigestAlgorithm): Hash {
  return createHash(algorithm === "sha-256" ? "sha256" : "sha512");
}

interface ChunkReader {
  /** The next chunk, or null at the end of the body. */
  next(): Promise<Uint8Array | null>;
  cancel(): void;
}

// Reads a body in large chunks when it is a byte stream (Deno's fetch bodies are), in
// whatever chunks it brings otherwise (a stream an injected fetch made up).
function chunkReader(source: ReadableStream<Uint8Array>): ChunkReader {
  let byob: ReadableStreamBYOBReader | null = null;
  try {
    byob = source.getReader({ mode: "byob" });
  } catch {
    // Not a byte stream.
  }
  if (byob === null) {
    const reader = source.getReader();
    return {
      async next() {
        const { done, value } = await reader.read();
        return done ? null : value;
      },
      cancel() {
        reader.cancel().catch(() => {});
      },
    };
  }
  const reader = byob;
  let spare: ArrayBuffer | null = null;
  let size = MIN_READ_BUFFER_BYTES;
  let settled = false;
  return {
    async next() {
      const buffer = spare ?? new ArrayBuffer(size);
      // Read before the read: it transfers the buffer, which leaves this one detached.
      const capacity = buffer.byteLength;
      spare = null;
      const { done, value } = await reader.read(new Uint8Array(buffer));
      if (done || value === undefined) return null;
      const filled = value.byteLength;
      if (!settled) {
        if (filled === capacity) {
          settled = size === MAX_READ_BUFFER_BYTES;
          size = Math.min(size * 2, MAX_READ_BUFFER_BYTES);
        } else if (filled * 2 >= MIN_READ_BUFFER_BYTES) {
          // Not a first trickle: this is what the body brings per read.
          size = Math.ceil(filled / MIN_READ_BUFFER_BYTES) * MIN_READ_BUFFER_BYTES;
          settled = true;
        }
      }
      // A read that filled less than half its buffer is copied out and the buffer kept for the
      // next read: a trickling provider must not pin a whole buffer per few bytes queued for
      // the consumer.
      if (filled * 2 >= capacity) return value;
      // The read transferred the buffer; `value.buffer` is the same memory, usable again.
      spare = value.buffer as ArrayBuffer;
      return value.slice();
    },
    cancel() {
      spare = null;
      reader.cancel().catch(() => {});
    },
  };
}
