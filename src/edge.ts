/**
 * What every request passes before the fast path and the app: the RFC 9112 rules the runtime
 * leaves to Lotse (a missing `Host` is a 400, a transfer coding other than plain `chunked` a
 * 501, an over-long target a 414, oversized header fields a 431, all problem+json) and the
 * rate limits per source address and client ({@linkcode RateLimits}). Under `/xnachweis/` the
 * same refusals are XNachweis 0103s, the dialect of that face.
 *
 * `Deno.serve` (hyper) refuses some requests itself before Lotse sees them, with an empty
 * 400: header sections past its own limits (about 100 fields, or ~400 KiB) and malformed
 * framing. Lotse's limits below are lower, so the requests it can see get the RFC's answer.
 *
 * @module
 */
import { bearerToken } from "./auth.ts";
import { problemResponse, type ProblemType } from "./problem.ts";
import { errorResponse } from "./xnachweis/errors.ts";
import {
  type RateLimits,
  setRateLimitHeaders,
  tightest,
  tooManyRequests,
  type Verdict,
} from "./rate_limit.ts";
import type { AccessTokenClaims, AccessTokenVerifier } from "../crypto/mod.ts";

/** Longest request target Lotse reads (scheme and authority included). */
export const MAX_URL_LENGTH = 8 * 1024;
/** Most header bytes (names and values) and fields Lotse reads. */
export const MAX_HEADER_BYTES = 32 * 1024;
export const MAX_HEADER_FIELDS = 64;

/** What the edge reads. */
export interface EdgeDeps {
  readonly limits: RateLimits;
  readonly verifier: Pick<AccessTokenVerifier, "cached">;
}

/** A refusal of the edge in the dialect of the face the request was for. */
function refuse(
  request: Request,
  type: ProblemType,
  detail: string,
  headers?: Record<string, string>,
): Response {
  // Not URL.parse: a malformed Host header leaves request.url unparseable.
  const path = request.url.replace(/^[A-Za-z][\w+.-]*:\/\/[^/?#]*/, "");
  const face = path.startsWith("/xnachweis/") ? errorResponse : null;
  return face ? face(type, detail, { headers }) : problemResponse(type, detail, { headers });
}

/**
 * What the edge found: a refusal to send as it is, or the rate-limit verdict to report and the
 * header fields the handler reads after it, taken in the edge's one pass over the header
 * section (each `headers.get()` is a search of its own).
 */
export interface EdgeResult {
  /** The refusal to send as it is, or null when the request goes on. */
  readonly refusal: Response | null;
  /** The rate-limit verdict to report on the response, or null. */
  readonly verdict: Verdict | null;
  readonly authorization: string | null;
  /**
   * The claims of the bearer token when the edge looked it up in the verifier's cache (for the
   * per-client quota) and found it; undefined otherwise. The fast path takes them instead of
   * looking the same token up again.
   */
  readonly claims?: AccessTokenClaims;
  /** `X-Request-Id` and `traceparent` as sent (unchecked), for the request's log line. */
  readonly requestId: string | null;
  readonly traceparent: string | null;
}

/**
 * Whether the absolute `url` names `/v1/token`, as `new URL(url).pathname` would say: read off
 * the text, without parsing a URL for every POST (an authorization's, say); a path with a dot
 * segment or a percent sign is parsed, so normalisation still counts.
 */
export function isTokenPath(url: string): boolean {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return false;
  let end = url.indexOf("?", start);
  if (end === -1) end = url.length;
  const path = url.slice(start, end);
  if (path.includes(".") || path.includes("%") || path.includes("#")) {
    return new URL(url).pathname === "/v1/token";
  }
  return path === "/v1/token";
}

/** Builds the edge check for each request. */
export function edgeCheck(
  deps: EdgeDeps,
): (request: Request, info?: Deno.ServeHandlerInfo) => EdgeResult {
  const { limits, verifier } = deps;
  const limited = limits.enabled;
  const byClient = limits.on("client");
  return (request, info) => {
    // Set in the callback below: typed with `as`, so the compiler does not narrow to null.
    let host = null as string | null;
    let coding = null as string | null;
    let authorization = null as string | null;
    let requestId = null as string | null;
    let traceparent = null as string | null;
    let bytes = 0;
    let fields = 0;
    // One pass: the sizes, and the few fields anything after the edge reads. forEach, not
    // for…of: Deno's header iterator costs about five times more.
    request.headers.forEach((value, name) => {
      bytes += name.length + value.length;
      fields++;
      switch (name) {
        case "host":
          host = value;
          break;
        case "transfer-encoding":
          coding = value;
          break;
        case "authorization":
          authorization = value;
          break;
        case "x-request-id":
          requestId = value;
          break;
        case "traceparent":
          traceparent = value;
          break;
      }
    });
    // Without a Host field Deno names the target "localhost"; HTTP/2 carries :authority.
    if ((host === null && new URL(request.url).hostname === "localhost") || host === "") {
      const refusal = refuse(
        request,
        "invalid-request",
        "The request needs exactly one Host header",
      );
      return { refusal, verdict: null, authorization, requestId, traceparent };
    }
    if (request.url.length > MAX_URL_LENGTH) {
      const refusal = refuse(
        request,
        "uri-too-long",
        `The request target exceeds ${MAX_URL_LENGTH} bytes`,
      );
      return { refusal, verdict: null, authorization, requestId, traceparent };
    }
    if (bytes > MAX_HEADER_BYTES || fields > MAX_HEADER_FIELDS) {
      const refusal = refuse(
        request,
        "request-header-fields-too-large",
        `The request's header fields exceed ${MAX_HEADER_FIELDS} fields or ${MAX_HEADER_BYTES} bytes`,
      );
      return { refusal, verdict: null, authorization, requestId, traceparent };
    }
    if (coding !== null && coding.trim().toLowerCase() !== "chunked") {
      const refusal = refuse(
        request,
        "not-implemented",
        `Transfer-Encoding "${coding.slice(0, 100)}" is not supported: only "chunked"`,
      );
      return { refusal, verdict: null, authorization, requestId, traceparent };
    }
    if (!limited) return { refusal: null, verdict: null, authorization, requestId, traceparent };
    const address = (info?.remoteAddr as Deno.NetAddr | undefined)?.hostname ?? "unknown";
    let verdict = limits.take("address", address);
    let claims: AccessTokenClaims | undefined;
    if (request.method === "POST" && isTokenPath(request.url)) {
      verdict = tightest(verdict, limits.take("token", `address:${address}`));
    } else if (byClient) {
      // Known once its token is cached (from the second request on); the first request of
      // a token counts against the address only.
      const token = authorization === null ? null : bearerToken(authorization);
      claims = token === null ? undefined : verifier.cached(token);
      if (claims !== undefined) {
        verdict = tightest(verdict, limits.take("client", claims.clientId));
      }
    }
    if (verdict !== null && !verdict.allowed) {
      const response = tooManyRequests(limits, verdict);
      const xml = refuse(
        request,
        "too-many-requests",
        `Rate limit "${verdict.quota}" of ${verdict.limit} requests per window reached`,
      );
      let refusal = response;
      if (xml.headers.get("content-type")?.startsWith("application/xml")) {
        for (const [name, value] of response.headers) {
          if (name !== "content-type") xml.headers.set(name, value);
        }
        refusal = xml;
      }
      return { refusal, verdict: null, authorization, requestId, traceparent };
    }
    return { refusal: null, verdict, authorization, claims, requestId, traceparent };
  };
}

/** Adds the rate-limit fields of `verdict` to `response` (when its headers can change). */
export function reportLimit(response: Response, limits: RateLimits, verdict: Verdict): Response {
  try {
    setRateLimitHeaders(response.headers, limits, verdict);
  } catch { /* immutable headers (a passed-through response): sent without the fields */ }
  return response;
}
