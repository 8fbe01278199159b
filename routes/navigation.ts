/**
 * `GET /v1/navigation` — Registerdatennavigation: which provider answers for this evidence
 * type in this place. Answered from the in-memory index; the hot route of Lotse.
 *
 * @module
 */
import { Hono } from "hono";
import { type AuthVariables, NAVIGATION_ROLES, requireRole } from "../src/auth.ts";
import { locate, responsible } from "../src/locate.ts";
import { Problem } from "../src/problem.ts";
import { JSON_HEADERS, navigationBody } from "../src/nav_response.ts";
import type { Iam } from "../src/iam.ts";
import type { Snapshot } from "../src/store.ts";
import { describe, LOADING, problem } from "../src/openapi.ts";
import { ambiguousProblem, navigationQuery, navigationResult } from "../src/schemas.ts";

const DOC = describe({
  summary: "Which provider is responsible for an evidence type in a place",
  tags: ["Navigation"],
  roles: ["consumer", "operator"],
  query: navigationQuery,
  responses: {
    200: { description: "The responsible provider", schema: navigationResult },
    400: problem("Malformed key or parameters"),
    404: problem("Unknown region, unknown evidence type or no responsible provider"),
    409: problem("The PLZ covers several Gemeinden", ambiguousProblem),
    ...LOADING,
  },
});

/** What the navigation route reads. */
export interface NavigationRoutesOptions {
  readonly iam: Pick<Iam, "checker">;
  readonly store: { readonly snapshot: Snapshot | null };
}

export function navigationRoutes(
  deps: NavigationRoutesOptions,
): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();
  app.get("/navigation", requireRole(deps.iam.checker, NAVIGATION_ROLES), DOC, (c) => {
    const snapshot = deps.store.snapshot;
    if (!snapshot) throw new Problem("unavailable", "Tables are still loading");
    const q = c.req.query();
    const evidenceType = q.evidenceType;
    if (evidenceType === undefined) {
      throw new Problem("invalid-request", "Missing parameter evidenceType");
    }
    const region = locate(snapshot.nav, q);
    const found = responsible(snapshot.nav, evidenceType, region);
    const body = navigationBody(found, region);
    return new Response(body, { headers: JSON_HEADERS });
  });
  return app;
}
