/**
 * One JSON log line per request, and the security headers every response carries. Both the
 * navigation fast path and the Hono app answer requests; the server's handler wraps both, so
 * no response leaves without them.
 *
 * The line holds the time, method, route pattern (never the path with its query), status,
 * duration, the caller's client id, the transfer id, the request id and the W3C
 * `traceparent`: never a token, a secret or an IDNr (no header or body is logged but these).
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const requests = new RequestLog(createLogger());
 * requests.note(request, { route: "GET /v1/navigation", clientId: "kommune-a" });
 * requests.write(request, response, 0.4);
 * ```
 *
 * @module
 */
import type { Logger } from "./log.ts";

/** What the routes learn about a request that the line should carry. */
export interface RequestNote {
  /** `METHOD /pattern`, e.g. `GET /v1/transfers/:id`. */
  readonly route?: string;
  readonly clientId?: string;
}

/** What a caller of {@linkcode RequestLog.write} read of a request before. */
export interface RequestFacts extends RequestNote {
  /** The `X-Request-Id` and `traceparent` fields as sent, null when absent. */
  readonly requestId: string | null;
  readonly traceparent: string | null;
  /** The answer's transfer id when the caller knows it (null: none); default: read. */
  readonly transferId?: string | null;
}

// A request id a caller may set: short and plain, so it cannot smuggle anything into a log.
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
// W3C Trace Context, version 00.
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

// The JSON strings of the few values every line repeats (methods, route patterns, client ids),
// made once: JSON.stringify for each of them on every request cost ~100 of a line's ~900 bytes.
const QUOTED_MAX = 1024;
const quotedCache = new Map<string, string>();

function quoted(value: string): string {
  let json = quotedCache.get(value);
  if (json === undefined) {
    if (quotedCache.size >= QUOTED_MAX) quotedCache.clear();
    quotedCache.set(value, json = JSON.stringify(value));
  }
  return json;
}

/** Writes one line per request through the logger (level `info`). */
export class RequestLog {
  readonly #logger: Logger;
  readonly #notes = new WeakMap<Request, RequestNote>();
  readonly #enabled: boolean;

  constructor(logger: Logger) {
    this.#logger = logger;
    this.#enabled = logger.level === "debug" || logger.level === "info";
  }

  /** Remembers what a route learnt about `request` for its line. */
  note(request: Request, note: RequestNote): void {
    if (this.#enabled) this.#notes.set(request, note);
  }

  /** Whether lines are written at all (the logger's level is `info` or `debug`). */
  get enabled(): boolean {
    return this.#enabled;
  }

  /**
   * Writes the line for `request` answered by `response` after `durationMs`. `known` holds
   * what the caller already read (the header fields, or the note of a request it answered
   * itself); the rest is read from the request and its note.
   */
  write(request: Request, response: Response, durationMs: number, known?: RequestFacts): void {
    if (!this.#enabled) return;
    const note = known?.route !== undefined ? known : this.#notes.get(request);
    const requestId = known ? known.requestId : request.headers.get("x-request-id");
    const traceparent = known ? known.traceparent : request.headers.get("traceparent");
    const clientId = note?.clientId;
    const transferId = known?.transferId !== undefined
      ? known.transferId
      : response.headers.get("lotse-transfer-id");
    // Written as text, not through an object and JSON.stringify: this runs for every request.
    // The checked request id and traceparent hold no character JSON escapes.
    this.#logger.infoJson(
      "request",
      `"method":${quoted(request.method)},"route":${
        quoted(note?.route ?? "unmatched")
      },"status":${response.status},"durationMs":${
        Math.round(durationMs * 1000) / 1000
      },"clientId":${clientId === undefined ? "null" : quoted(clientId)},"transferId":${
        transferId === null ? "null" : JSON.stringify(transferId)
      },"requestId":${
        requestId !== null && REQUEST_ID.test(requestId) ? `"${requestId}"` : "null"
      },"traceparent":${
        traceparent !== null && TRACEPARENT.test(traceparent) ? `"${traceparent}"` : "null"
      }`,
    );
  }
}

/** Options for {@linkcode securityHeaders}. */
export interface SecurityHeadersOptions {
  /** Whether clients reach Lotse over HTTPS (own TLS, or a TLS-terminating balancer). */
  https: boolean;
}

/**
 * The headers every response carries: no MIME sniffing, no framing, no referrer, same-origin
 * resources, and HSTS when clients come over HTTPS. Pages set their own stricter CSP.
 */
export function securityHeaders(options: SecurityHeadersOptions): Readonly<Record<string, string>> {
  return Object.freeze({
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-origin",
    ...(options.https
      ? { "strict-transport-security": "max-age=31536000; includeSubDomains" }
      : {}),
  });
}

/** Adds `headers` a response does not set itself; copies a response whose headers are frozen. */
export function withHeaders(
  response: Response,
  headers: Readonly<Record<string, string>>,
): Response {
  try {
    for (const name in headers) {
      if (!response.headers.has(name)) response.headers.set(name, headers[name]!);
    }
    return response;
  } catch {
    const copy = new Response(response.body, response);
    for (const name in headers) {
      if (!copy.headers.has(name)) copy.headers.set(name, headers[name]!);
    }
    return copy;
  }
}
