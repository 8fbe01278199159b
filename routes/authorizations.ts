/**
 * `POST /v1/authorizations` — the Vermittlungsstelle's JSON face: decides abstractly whether
 * the calling consumer may have this evidence type from this provider for this purpose and
 * legal basis, with or without the IDNr, and seals the decision into an evidence access
 * token (src/vermittlungsstelle.ts). Every decision, granted or refused, goes to the
 * protocol log.
 *
 * @module
 */
import { Hono } from "hono";
import {
  AUTHORIZATION_ROLES,
  type AuthVariables,
  requireRole,
  type TokenChecker,
} from "../src/auth.ts";
import { Problem } from "../src/problem.ts";
import type { ProtocolPort } from "../src/protocol/port.ts";
import { authorizationBody, authorizationResult } from "../src/schemas.ts";
import type { Snapshot } from "../src/store.ts";
import { parseWith, readRequestJson } from "../src/validate.ts";
import type { Config } from "../src/config.ts";
import { authorize, type AuthorizeOptions } from "../src/vermittlungsstelle.ts";
import { describe, LOADING, problem } from "../src/openapi.ts";

const DOC = describe({
  summary: "Vermittlungsstelle: decide and seal an evidence access token",
  tags: ["Vermittlungsstelle"],
  roles: AUTHORIZATION_ROLES,
  body: { type: "application/json", schema: authorizationBody },
  responses: {
    201: { description: "Evidence access token (ES256 JWS)", schema: authorizationResult },
    400: problem("Invalid body"),
    403: problem("Wrong role, or no permission covers the request (not-permitted)"),
    404: problem("Unknown evidence type or provider"),
    413: problem("Body over 16 KiB"),
    415: problem("Body is not JSON"),
    ...LOADING,
  },
});

const CREATED: ResponseInit = { status: 201, headers: { "content-type": "application/json" } };

/** What the authorization route needs. */
export interface AuthorizationRoutesOptions extends Pick<AuthorizeOptions, "keys" | "issuer"> {
  readonly checker: TokenChecker;
  readonly config: Pick<Config, "bodyTimeoutMs">;
  readonly store: { readonly snapshot: Snapshot | null };
  readonly protocol: Pick<ProtocolPort, "refused" | "granted">;
  readonly now?: () => number;
}

export function authorizationRoutes(
  deps: AuthorizationRoutesOptions,
): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();
  const answer = authorizationAnswer(deps);
  app.post(
    "/authorizations",
    requireRole(deps.checker, AUTHORIZATION_ROLES),
    DOC,
    (c) => answer(c.req.raw, c.get("principal").clientId),
  );
  return app;
}

/**
 * The route's answer to an admitted consumer's request (its role checked): the body read and
 * checked, the decision, the seal and the record; a refusal or fault is thrown as a
 * {@linkcode Problem}. One function for the Hono route and for the server's fast path
 * (src/fast_path.ts), which calls it without Hono's layers.
 */
export function authorizationAnswer(
  deps: Omit<AuthorizationRoutesOptions, "checker">,
): (request: Request, consumerId: string) => Promise<Response> {
  const now = deps.now ?? Date.now;
  return async (request, consumerId) => {
    const body = parseWith(
      authorizationBody,
      await readRequestJson(request, 16 * 1024, deps.config.bodyTimeoutMs),
      "authorization request",
    );
    const snapshot = deps.store.snapshot;
    if (!snapshot) throw new Problem("unavailable", "Tables are still loading");
    if (!snapshot.nav.evidenceType(body.evidenceType)) {
      throw new Problem("not-found", `Unknown evidence type "${body.evidenceType}"`);
    }
    if (!snapshot.nav.provider(body.providerId)) {
      throw new Problem("not-found", `Unknown provider "${body.providerId}"`);
    }
    const result = await authorize({ consumerId, ...body }, {
      permissions: snapshot.permissions,
      protocol: deps.protocol,
      keys: deps.keys,
      issuer: deps.issuer,
      now: now(),
      responsible: snapshot.nav.serves(body.providerId, body.evidenceType),
    });
    const { transferId } = result;
    if (!result.granted) {
      throw new Problem("not-permitted", result.refusal.detail, { extra: { transferId } });
    }
    try {
      await deps.protocol.granted({
        transferId,
        consumerId,
        providerId: body.providerId,
        evidenceType: body.evidenceType,
        purpose: body.purpose,
        legalBasis: body.legalBasis,
        idnrUsed: body.idnrUsed,
        jti: result.sealed.jti,
      });
    } catch {
      // Neither PostgreSQL nor the spool took the grant: the token must not be handed out.
      throw new Problem("unavailable", "The authorization cannot be recorded; try again", {
        headers: { "retry-after": "1" },
      });
    }
    // Made directly: a Response with only Content-Type, then one field set, costs Deno a
    // fraction of `c.json()` with two fields in its init (BENCHMARKS.md, "Session 6, P10").
    const created = new Response(JSON.stringify(result.sealed), CREATED);
    created.headers.set("cache-control", "no-store");
    return created;
  };
}
