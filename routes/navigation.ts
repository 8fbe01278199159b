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
    return c.json({
      evidenceType: found.evidenceType.id,
      region: { ags: region.ags, ars: region.ars, name: region.name },
      provider: {
        id: found.provider.id,
        name: found.provider.name,
        endpoint: found.provider.endpoint,
      },
      matchedLevel: found.matchedLevel,
    });
  });
  return app;
}
