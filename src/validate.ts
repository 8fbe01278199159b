/**
 * Turning request input into typed values, or into a 400 problem that says what is wrong.
 *
 * @module
 */
import type { Context } from "hono";
import type { z } from "zod";
import { Problem } from "./problem.ts";

/** One field's complaint, as listed in a 400/422 problem's `errors`. */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

/** The complaints of a failed zod parse, path-joined. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.slice(0, 50).map((issue) => ({
    path: issue.path.map(String).join(".") || "(body)",
    message: issue.message,
  }));
}

/** Parses `value` with `schema` or throws a 400 `invalid-request` listing the errors. */
export function parseWith<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = fieldErrors(result.error);
  const first = errors[0];
  throw new Problem(
    "invalid-request",
    `Invalid ${what}${first ? `: ${first.path}: ${first.message}` : ""}`,
    { extra: { errors } },
  );
}

/** Options for {@linkcode readBody}. */
export interface ReadBodyOptions {
  /** The whole body must have arrived within this (a 408 problem otherwise). */
  readonly deadlineMs?: number;
  /** Longest pause between two chunks (a 408 problem otherwise). */
  readonly idleMs?: number;
}

/**
 * The chunks of a request body; a body the client cut short or sent malformed (a broken
 * chunked encoding, fewer bytes than its Content-Length) ends in a 400 problem, not in
 * the server's read error, and a body that does not arrive in time in a 408 problem.
 */
export async function* readBody(
  body: ReadableStream<Uint8Array>,
  options: ReadBodyOptions = {},
): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  const deadline = options.deadlineMs === undefined
    ? Infinity
    : performance.now() + options.deadlineMs;
  let finished = false;
  try {
    while (true) {
      const wait = Math.min(deadline - performance.now(), options.idleMs ?? Infinity);
      let result;
      try {
        result = await withTimeout(reader.read(), wait);
      } catch (error) {
        finished = true;
        if (error === TIMEOUT) {
          await reader.cancel().catch(() => {});
          throw new Problem("request-timeout", "The request body did not arrive in time");
        }
        throw new Problem(
          "invalid-request",
          "Cannot read the request body: it ended early or is malformed",
        );
      }
      if (result.done) {
        finished = true;
        return;
      }
      yield result.value;
    }
  } finally {
    // A reader that stops early (too large, bad line) cancels the rest of the body, so the
    // server does not wait for bytes nobody will read before it answers.
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

const TIMEOUT = Symbol("timeout");

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  if (ms === Infinity) return promise;
  if (ms <= 0) return Promise.reject(TIMEOUT);
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => timer = setTimeout(() => reject(TIMEOUT), ms)),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Reads a whole body of at most `maxBytes` within `deadlineMs`, or throws a 400/408/413
 * problem. A request body's deadline is `LOTSE_BODY_TIMEOUT_MS` (`Config.bodyTimeoutMs`), on
 * every face.
 */
export async function readBytes(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  deadlineMs: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of readBody(body, { deadlineMs })) {
    size += chunk.byteLength;
    if (size > maxBytes) {
      throw new Problem("payload-too-large", `Request body exceeds ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

/** Reads a JSON body of at most `maxBytes` within `deadlineMs`, or throws a 400/408/413/415 problem. */
export function readJson(
  c: Context,
  maxBytes: number | undefined,
  deadlineMs: number,
): Promise<unknown> {
  return readRequestJson(c.req.raw, maxBytes, deadlineMs);
}

/** {@linkcode readJson} of a request outside Hono (the authorization fast path, src/fast_path.ts). */
export async function readRequestJson(
  request: Request,
  maxBytes: number | undefined,
  deadlineMs: number,
): Promise<unknown> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw new Problem(
      "unsupported-media-type",
      `Expected Content-Type "application/json", got "${type}"`,
    );
  }
  const bytes = await requestBytes(request, maxBytes ?? 256 * 1024, deadlineMs);
  if (bytes.byteLength === 0) throw new Problem("invalid-request", "Missing request body");
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new Problem("invalid-request", "Request body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Problem("invalid-request", `Cannot parse JSON body: ${(error as Error).message}`);
  }
}

/**
 * The whole body of `request`, at most `maxBytes`, within `deadlineMs`, or a 400 (missing, cut
 * short), 408 (too slow) or 413 (too large) problem. A declared length within the limit (the
 * server holds the body to exactly that length) is read in one call (its deadline watched by
 * the shared sweep of `wholeBody()`), without making a stream of it (`request.body`): a third of the CPU of reading it chunk by chunk
 * through a stream reader, which matters on the token-per-request routes (P10) and the XML
 * faces (P11). A body without a declared length is read chunk by chunk and counted.
 */
export async function requestBytes(
  request: Request,
  maxBytes: number,
  deadlineMs: number,
): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    throw new Problem("payload-too-large", `Request body exceeds ${maxBytes} bytes`);
  }
  if (Number.isInteger(declared) && !request.headers.has("transfer-encoding")) {
    const bytes = await wholeBody(request, deadlineMs);
    if (bytes.byteLength > maxBytes) {
      throw new Problem("payload-too-large", `Request body exceeds ${maxBytes} bytes`);
    }
    return bytes;
  }
  const body = request.body;
  if (!body) throw new Problem("invalid-request", "Missing request body");
  return await readBytes(body, maxBytes, deadlineMs);
}

// Without `stream`, every decode() stands alone: one fatal decoder serves every request.
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** A whole-body read waiting for its bytes, and when it must have them. */
interface Overdue {
  readonly at: number;
  readonly fail: (reason: unknown) => void;
}

// The whole-body reads in progress. One timer looks over all of them every
// SWEEP_MS while any is pending, instead of a timer of its own per request: arming and clearing
// a timer and racing two promises cost ~3 µs of CPU per request, a tenth of what reading and
// parsing the body costs on the token-per-request routes (P10, BENCHMARKS.md "Session 6").
// A read is failed at most SWEEP_MS after its deadline.
const reads = new Set<Overdue>();
const SWEEP_MS = 50;
let sweeper: ReturnType<typeof setInterval> | undefined;

function sweep(): void {
  const now = performance.now();
  for (const read of reads) {
    if (read.at <= now) {
      reads.delete(read);
      read.fail(TIMEOUT);
    }
  }
  if (reads.size === 0) {
    clearInterval(sweeper);
    sweeper = undefined;
  }
}

/** All of a body with a declared length, or a 400 (cut short) or 408 (too slow) problem. */
async function wholeBody(request: Request, deadlineMs: number): Promise<Uint8Array> {
  const reading = request.bytes();
  const { promise, resolve, reject } = Promise.withResolvers<Uint8Array>();
  const read: Overdue = { at: performance.now() + deadlineMs, fail: reject };
  reads.add(read);
  if (sweeper === undefined) {
    sweeper = setInterval(sweep, SWEEP_MS);
    // A pending read never keeps the process alive by itself.
    Deno.unrefTimer(sweeper);
  }
  reading.then(resolve, reject);
  try {
    return await promise;
  } catch (error) {
    if (error === TIMEOUT) {
      // The server drops the rest when the connection closes; nobody awaits it any more.
      throw new Problem("request-timeout", "The request body did not arrive in time");
    }
    throw new Problem(
      "invalid-request",
      "Cannot read the request body: it ended early or is malformed",
    );
  } finally {
    reads.delete(read);
  }
}

/** An optional ISO 8601 date or date-time query parameter; a bad one is a 400 problem. */
export function isoTime(value: string | undefined, name: string): Date | undefined {
  if (value === undefined || value === "") return undefined;
  const time = /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:\d\d))?$/.test(value)
    ? new Date(value)
    : new Date(NaN);
  if (Number.isNaN(time.getTime())) {
    throw new Problem(
      "invalid-request",
      `Cannot parse ${name} "${value.slice(0, 40)}": expected ISO 8601`,
    );
  }
  return time;
}
