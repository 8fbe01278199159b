/**
 * `GET /v1/navigation` — Registerdatennavigation: which provider answers for this evidence
 * type in this place. Answered from the in-memory index; the hot route of Lotse.
 *
 * @module
 */
import { Hono } from "hono";
import type { AppDeps } from "../src/app.ts";
import { type AuthVariables, requireRole } from "../src/auth.ts";
import { locate, responsible } from "../src/locate.ts";
import { Problem } from "../src/problem.ts";
import type { Provider, Region } from "../src/tables.ts";

const JSON_HEADERS: HeadersInit = [["content-type", "application/json"]];

// Keyed by the rows themselves: a table reload makes new rows, and the old fragments go with
// the old rows.
const regionJson = new WeakMap<Region, string>();
const providerJson = new WeakMap<Provider, string>();

function fragment<T extends object>(cache: WeakMap<T, string>, row: T, make: (row: T) => string) {
  let json = cache.get(row);
  if (json === undefined) cache.set(row, json = make(row));
  return json;
}

function regionFragment(r: Region): string {
  return JSON.stringify({ ags: r.ags, ars: r.ars, name: r.name });
}

function providerFragment(p: Provider): string {
  return JSON.stringify({ id: p.id, name: p.name, endpoint: p.endpoint });
}

export function navigationRoutes(deps: AppDeps): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();
  app.get("/navigation", requireRole(deps.iam.checker, ["consumer", "operator"]), (c) => {
    const snapshot = deps.store.snapshot;
    if (!snapshot) throw new Problem("unavailable", "Tables are still loading");
    const q = c.req.query();
    const evidenceType = q.evidenceType;
    if (evidenceType === undefined) {
      throw new Problem("invalid-request", "Missing parameter evidenceType");
    }
    const region = locate(snapshot.nav, q);
    const found = responsible(snapshot.nav, evidenceType, region);
    // The answer is assembled from per-row JSON fragments made once per table version: on
    // the hot route, serialising the same region and provider again is most of the work.
    const body = `{"evidenceType":"${found.evidenceType.id}","region":${
      fragment(regionJson, region, regionFragment)
    },"provider":${
      fragment(providerJson, found.provider, providerFragment)
    },"matchedLevel":"${found.matchedLevel}"}`;
    return new Response(body, { headers: JSON_HEADERS });
  });
  return app;
}
