/**
 * The hottest request, `GET /v1/navigation` with a token seen before, answered before the
 * Hono app is asked. It serves only the plain success: anything unusual — no or unknown
 * token, wrong role, a missing, repeated or malformed parameter, an unknown region, an
 * ambiguous PLZ, no provider — returns null, and the full Hono route answers it with the same
 * rules and problem details. So the fast path changes speed, never an answer; the test suite
 * runs every navigation case through it (tests/_app.ts serves through this handler).
 *
 * Why: Hono alone costs 15–20 % of a bare `Deno.serve` (docs/targets.md), and the target for this
 * route is 80 % of bare, authentication and lookup included.
 *
 * @module
 */
import { AUTHORIZATION_ROLES, bearerToken, hasRole, NAVIGATION_ROLES } from "./auth.ts";
import type { Metrics } from "./metrics.ts";
import { findProvider, findRegion } from "./locate.ts";
import { JSON_HEADERS, navigationBody } from "./nav_response.ts";
import type { TableStore } from "./store.ts";
import type { AccessTokenClaims, AccessTokenVerifier } from "../crypto/mod.ts";

const PATH = "/v1/navigation";
const ROUTE = "GET /v1/navigation";

/** What the fast path reads; the same objects the Hono app gets. */
export interface FastPathDeps {
  readonly store: Pick<TableStore, "snapshot">;
  readonly verifier: Pick<AccessTokenVerifier, "cached">;
  readonly metrics: Metrics;
  /** Told who was answered, for the request's log line. */
  readonly served?: (request: Request, route: string, clientId: string) => void;
}

function decode(value: string): string | null {
  if (value.indexOf("%") === -1 && value.indexOf("+") === -1) return value;
  try {
    return decodeURIComponent(value.replaceAll("+", " "));
  } catch {
    return null;
  }
}

/** Where the path of an absolute request URL starts, or -1. */
function pathStartOf(url: string): number {
  return url.indexOf("/", url.indexOf("://") + 3);
}

/**
 * The claims of the request's bearer token when the verifier has it cached: the edge's if it
 * looked, else looked up here from its (or the request's) `Authorization` field; undefined for
 * no, an unreadable or an unknown token (the app then answers).
 */
function cachedClaims(
  verifier: Pick<AccessTokenVerifier, "cached">,
  request: Request,
  options: Pick<FastPathRequestOptions, "authorization" | "claims"> | undefined,
): AccessTokenClaims | undefined {
  if (options?.claims !== undefined) return options.claims;
  const header = options?.authorization !== undefined
    ? options.authorization
    : request.headers.get("authorization");
  if (header === null) return undefined;
  const token = bearerToken(header);
  return token === null ? undefined : verifier.cached(token);
}

/** What the server's handler already knows of a request (so it is not read twice). */
export interface FastPathRequestOptions {
  /** The `Authorization` field, as the edge read it; default: read from the request. */
  authorization?: string | null;
  /**
   * The claims the edge found for that field's bearer token in the verifier's cache; default:
   * looked up here (also when undefined: the edge looks only with a per-client quota).
   */
  claims?: AccessTokenClaims;
  /** When the request came in (`performance.now()`); default: now. */
  start?: number;
}

/** Returns the answer for a plain navigation success, or null to let the app answer. */
export function fastNavigation(
  deps: FastPathDeps,
): (request: Request, options?: FastPathRequestOptions) => Response | null {
  const { store, verifier, metrics, served } = deps;
  return (request, options) => {
    if (request.method !== "GET") return null;
    const url = request.url;
    const pathStart = pathStartOf(url);
    if (pathStart === -1 || !url.startsWith(PATH, pathStart)) return null;
    const queryStart = pathStart + PATH.length;
    if (url.charCodeAt(queryStart) !== 63 /* ? */) return null;
    const start = options?.start ?? performance.now();
    const snapshot = store.snapshot;
    if (snapshot === null) return null;
    const claims = cachedClaims(verifier, request, options);
    if (claims === undefined || !hasRole(claims.roles, NAVIGATION_ROLES)) return null;

    let evidenceType: string | undefined;
    let ags: string | undefined;
    let ars: string | undefined;
    let plz: string | undefined;
    let ort: string | undefined;
    let at = queryStart + 1;
    const hash = url.indexOf("#", at);
    const end = hash === -1 ? url.length : hash;
    while (at < end) {
      let amp = url.indexOf("&", at);
      if (amp === -1 || amp > end) amp = end;
      const eq = url.indexOf("=", at);
      if (eq === -1 || eq > amp) return null;
      const key = url.slice(at, eq);
      const value = decode(url.slice(eq + 1, amp));
      if (value === null) return null;
      switch (key) {
        case "evidenceType":
          if (evidenceType !== undefined) return null;
          evidenceType = value;
          break;
        case "ags":
          if (ags !== undefined) return null;
          ags = value;
          break;
        case "ars":
          if (ars !== undefined) return null;
          ars = value;
          break;
        case "plz":
          if (plz !== undefined) return null;
          plz = value;
          break;
        case "ort":
          if (ort !== undefined) return null;
          ort = value;
          break;
        default:
          return null;
      }
      at = amp + 1;
    }
    if (evidenceType === undefined) return null;
    // The route's own rules, not copies: exactly one location, then the responsible provider.
    const nav = snapshot.nav;
    const located = findRegion(nav, { ags, ars, plz, ort });
    if (located.kind !== "found") return null;
    const found = findProvider(nav, evidenceType, located.region);
    if (found.kind !== "resolved") return null;
    const response = new Response(navigationBody(found, located.region), {
      headers: JSON_HEADERS,
    });
    metrics.observe(ROUTE, 200, performance.now() - start);
    served?.(request, ROUTE, claims.clientId);
    return response;
  };
}

/** The path of `POST /v1/authorizations`, the one route besides navigation with a fast path. */
export const AUTHORIZATIONS_PATH = "/v1/authorizations";

/**
 * Whether `POST /v1/authorizations` may skip Hono's layers: the exact path without a query, a
 * bearer token seen before whose client has the role `consumer`. Returns that client's id, or
 * null to let the app answer (no or unknown token, wrong role, any query or other path). The
 * route's own answer (routes/authorizations.ts `authorizationAnswer()`) then runs as the
 * Hono route runs it: the body's type, size, deadline and schema, the decision, the seal and
 * the record, every refusal a problem. So the fast path changes speed, never an answer
 * (tests/fast_path_test.ts).
 */
export function authorizationConsumer(
  verifier: Pick<AccessTokenVerifier, "cached">,
  request: Request,
  options: Pick<FastPathRequestOptions, "authorization" | "claims">,
): string | null {
  if (request.method !== "POST") return null;
  const url = request.url;
  const pathStart = pathStartOf(url);
  // Exactly the path, to the end of the URL: a query (a repeated parameter is refused) or a
  // fragment goes through the app.
  if (pathStart === -1 || url.length !== pathStart + AUTHORIZATIONS_PATH.length) return null;
  if (!url.startsWith(AUTHORIZATIONS_PATH, pathStart)) return null;
  const claims = cachedClaims(verifier, request, options);
  return claims !== undefined && hasRole(claims.roles, AUTHORIZATION_ROLES)
    ? claims.clientId
    : null;
}
