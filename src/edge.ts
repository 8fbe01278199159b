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
import type { AccessTokenVerifier } from "../crypto/mod.ts";

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

/** The edge's verdict: a refusal to send as it is, a rate-limit verdict to report, or null. */
export type EdgeResult = Response | Verdict | null;

/** Builds the edge check for each request. */
export function edgeCheck(
  deps: EdgeDeps,
): (request: Request, info?: Deno.ServeHandlerInfo) => EdgeResult {
  const { limits, verifier } = deps;
  return (request, info) => {
    const host = request.headers.get("host");
    // Without a Host field Deno names the target "localhost"; HTTP/2 carries :authority.
    if ((host === null && new URL(request.url).hostname === "localhost") || host === "") {
      return refuse(request, "invalid-request", "The request needs exactly one Host header");
    }
    if (request.url.length > MAX_URL_LENGTH) {
      return refuse(request, "uri-too-long", `The request target exceeds ${MAX_URL_LENGTH} bytes`);
    }
    let bytes = 0;
    let fields = 0;
    for (const [name, value] of request.headers) {
      bytes += name.length + value.length;
      fields++;
    }
    if (bytes > MAX_HEADER_BYTES || fields > MAX_HEADER_FIELDS) {
      return refuse(
        request,
        "request-header-fields-too-large",
        `The request's header fields exceed ${MAX_HEADER_FIELDS} fields or ${MAX_HEADER_BYTES} bytes`,
      );
    }
    const coding = request.headers.get("transfer-encoding");
    if (coding !== null && coding.trim().toLowerCase() !== "chunked") {
      return refuse(
        request,
        "not-implemented",
        `Transfer-Encoding "${coding.slice(0, 100)}" is not supported: only "chunked"`,
      );
    }
    if (!limits.enabled) return null;
    const address = (info?.remoteAddr as Deno.NetAddr | undefined)?.hostname ?? "unknown";
    const verdicts: (Verdict | null)[] = [limits.take("address", address)];
    if (request.method === "POST" && new URL(request.url).pathname === "/v1/token") {
      verdicts.push(limits.take("token", `address:${address}`));
    } else if (limits.on("client")) {
      // Known once its token is cached (from the second request on); the first request of
      // a token counts against the address only.
      const header = request.headers.get("authorization");
      const token = header === null ? null : bearerToken(header);
      const claims = token === null ? undefined : verifier.cached(token);
      if (claims !== undefined) verdicts.push(limits.take("client", claims.clientId));
    }
    const verdict = tightest(verdicts);
    if (verdict !== null && !verdict.allowed) {
      const response = tooManyRequests(limits, verdict);
      const xml = refuse(
        request,
        "too-many-requests",
        `Rate limit "${verdict.quota}" of ${verdict.limit} requests per window reached`,
      );
      if (!xml.headers.get("content-type")?.startsWith("application/xml")) return response;
      for (const [name, value] of response.headers) {
        if (name !== "content-type") xml.headers.set(name, value);
      }
      return xml;
    }
    return verdict;
  };
}

/** Adds the rate-limit fields of `verdict` to `response` (when its headers can change). */
export function reportLimit(response: Response, limits: RateLimits, verdict: Verdict): Response {
  try {
    setRateLimitHeaders(response.headers, limits, verdict);
  } catch { /* immutable headers (a passed-through response): sent without the fields */ }
  return response;
}
