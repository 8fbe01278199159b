/**
 * A raw HTTP/1.1 client for tests: writes exact bytes on a fresh socket (what `fetch` will
 * not send: a body cut short of its `Content-Length`, a broken chunked body, raw bytes in the
 * target and headers) and parses the answer read until the server closes.
 *
 * @example
 * ```ts
 * const bytes = requestBytes({ method: "GET", target: "/healthz", headers: [], body: null }, host);
 * const answer = parseResponse((await sendRaw({ hostname, port }, bytes)).bytes);
 * ```
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A request as written on the wire. Header values are Latin-1 strings (one char per byte). */
export interface RawRequest {
  readonly method: string;
  /** Path and query exactly as put on the request line. */
  readonly target: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array | null;
}

/**
 * How the body is framed: its true `Content-Length`, a `Content-Length` 100 bytes past what
 * is sent, or a chunked body broken after its first half.
 */
export type Framing = "content-length" | "short-body" | "bad-chunked";

/** A response as read off the wire. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Uint8Array;
}

function latin1Bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The bytes of a request (adds `Host`, `Connection: close` and the framing's headers). */
export function requestBytes(
  request: RawRequest,
  host: string,
  framing: Framing = "content-length",
): Uint8Array {
  // The request line as UTF-8 (a client's idea of a URL), header values as Latin-1 bytes.
  const line = encoder.encode(`${request.method} ${request.target} HTTP/1.1\r\n`);
  const head: string[] = [];
  if (!request.headers.some(([n]) => n === "host")) head.push(`host: ${host}`);
  for (const [name, value] of request.headers) head.push(`${name}: ${value}`);
  head.push("connection: close");
  const body = request.body;
  let payload: Uint8Array = new Uint8Array(0);
  if (framing === "bad-chunked") {
    head.push("transfer-encoding: chunked");
    const half = body?.subarray(0, Math.ceil((body?.length ?? 0) / 2)) ?? new Uint8Array(0);
    payload = concat([
      latin1Bytes(`${half.length.toString(16)}\r\n`),
      half,
      latin1Bytes("\r\nzz\r\n"),
    ]);
  } else if (framing === "short-body") {
    const n = body?.length ?? 0;
    head.push(`content-length: ${n + 100}`);
    payload = body ?? payload;
  } else if (body !== null) {
    head.push(`content-length: ${body.length}`);
    payload = body;
  }
  return concat([line, latin1Bytes(head.join("\r\n") + "\r\n\r\n"), payload]);
}

function dechunk(body: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < body.length) {
    let end = at;
    while (end + 1 < body.length && !(body[end] === 13 && body[end + 1] === 10)) end++;
    const size = parseInt(decoder.decode(body.subarray(at, end)), 16);
    if (!(size > 0)) break;
    parts.push(body.subarray(end + 2, end + 2 + size));
    at = end + 2 + size + 2;
  }
  return concat(parts);
}

/** Parses a complete HTTP/1.1 response (read until the server closed); null if there is none. */
export function parseResponse(bytes: Uint8Array): RawResponse | null {
  let split = -1;
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      split = i;
      break;
    }
  }
  if (split === -1) return null;
  const [statusLine = "", ...lines] = decoder.decode(bytes.subarray(0, split)).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!Number.isInteger(status)) return null;
  // An interim answer (100 Continue) comes before the real one.
  if (status < 200) return parseResponse(bytes.subarray(split + 4));
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let body = bytes.subarray(split + 4);
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) body = dechunk(body);
  const length = headers.get("content-length");
  if (length !== null && Number(length) < body.length) body = body.subarray(0, Number(length));
  return { status, headers, body };
}

/** Options for {@linkcode sendRaw}. */
export interface SendRawOptions {
  /** Close our sending side after writing (a truncated body then ends there). */
  halfClose?: boolean;
  /** Give up after this long; default 10 s. */
  timeoutMs?: number;
  /**
   * Stop reading once one whole response (by its `Content-Length` or chunked end) has arrived,
   * instead of when the server closes (it may keep the connection open for the rest of a body
   * it refused).
   */
  untilAnswered?: boolean;
}

/** Whether `bytes` hold one whole response with a `Content-Length` or a chunked body. */
function answered(bytes: Uint8Array): boolean {
  const response = parseResponse(bytes);
  if (response === null) return false;
  const length = response.headers.get("content-length");
  if (length !== null) return response.body.length >= Number(length);
  const text = decoder.decode(bytes);
  return /chunked/i.test(response.headers.get("transfer-encoding") ?? "") &&
    text.endsWith("\r\n0\r\n\r\n");
}

/**
 * Writes `bytes` to `hostname:port` on a fresh connection and reads until the server
 * closes it (or, with `untilAnswered`, until one whole response is in). Returns the bytes read (empty when the server closed without answering) and
 * whether the wait timed out.
 */
export async function sendRaw(
  address: { hostname: string; port: number },
  bytes: Uint8Array,
  options: SendRawOptions = {},
): Promise<{ bytes: Uint8Array; timedOut: boolean }> {
  const conn = await Deno.connect({ hostname: address.hostname, port: address.port });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch { /* already closed */ }
  }, options.timeoutMs ?? 10_000);
  const parts: Uint8Array[] = [];
  try {
    // Writing may fail when the server answers early and closes; the answer still counts.
    const writing = (async () => {
      let at = 0;
      while (at < bytes.length) at += await conn.write(bytes.subarray(at));
      if (options.halfClose) await conn.closeWrite();
    })().catch(() => {});
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch {
        break; // reset by the server after its answer, or closed by the timer
      }
      if (n === null) break;
      parts.push(buffer.slice(0, n));
      if (options.untilAnswered && answered(concat(parts))) break;
    }
    await writing;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
  return { bytes: concat(parts), timedOut };
}
