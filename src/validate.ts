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

/**
 * The chunks of a request body; a body the client cut short or sent malformed (a broken
 * chunked encoding, fewer bytes than its Content-Length) ends in a 400 problem, not in
 * the server's read error.
 */
export async function* readBody(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let finished = false;
  try {
    while (true) {
      let result;
      try {
        result = await reader.read();
      } catch {
        finished = true;
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

/** Reads a whole body of at most `maxBytes`, or throws a 400/413 problem. */
export async function readBytes(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of readBody(body)) {
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

/** Reads a JSON body of at most `maxBytes`, or throws a 400/413/415 problem. */
export async function readJson(c: Context, maxBytes = 256 * 1024): Promise<unknown> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw new Problem(
      "unsupported-media-type",
      `Expected Content-Type "application/json", got "${type}"`,
    );
  }
  const body = c.req.raw.body;
  if (!body) throw new Problem("invalid-request", "Missing request body");
  const declared = Number(c.req.header("content-length") ?? NaN);
  if (declared > maxBytes) {
    throw new Problem("payload-too-large", `Request body exceeds ${maxBytes} bytes`);
  }
  const bytes = await readBytes(body, maxBytes);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Problem("invalid-request", "Request body is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Problem("invalid-request", `Cannot parse JSON body: ${(error as Error).message}`);
  }
}

const LOOPBACK = /^(127(\.\d{1,3}){3}|\[::1\]|localhost)$/i;

/**
 * Refuses a provider endpoint that is not HTTPS, unless it is plain HTTP on a loopback
 * address (demo providers and sidecars), or that carries credentials or a fragment.
 */
export function checkEndpoint(endpoint: string): string | null {
  const url = URL.parse(endpoint);
  if (!url) return `Cannot parse endpoint "${endpoint}"`;
  if (url.username || url.password) return "Endpoint must not carry credentials";
  if (url.hash) return "Endpoint must not carry a fragment";
  if (url.protocol === "https:") return null;
  if (url.protocol === "http:" && LOOPBACK.test(url.hostname)) return null;
  return `Endpoint "${endpoint}" must use https (plain http only on loopback addresses)`;
}
