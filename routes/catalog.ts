/**
 * The catalogue a consumer reads: evidence types, regions, and providers' public entries.
 *
 * @module
 */
import { Hono } from "hono";
import type { Iam } from "../src/iam.ts";
import { type AuthVariables, requireRole } from "../src/auth.ts";
import { locate } from "../src/locate.ts";
import { MAX_SEARCH_RESULTS } from "../src/nav_index.ts";
import { Problem } from "../src/problem.ts";
import {
  evidenceTypeSchema,
  publicProviderSchema,
  regionSchema,
  regionsQuery,
  SLUG,
  slugSchema,
} from "../src/schemas.ts";
import { describe, LOADING, problem } from "../src/openapi.ts";
import { z } from "zod";
import type { Snapshot } from "../src/store.ts";

const TAGS = ["Catalogue"];
const ROLES = ["consumer", "provider", "dsc", "operator"];
const BY_ID = "Cannot parse the id: expected a slug";

const TYPES_DOC = describe({
  summary: "The evidence catalogue",
  tags: TAGS,
  roles: ROLES,
  responses: {
    200: {
      description: "All evidence types",
      schema: z.object({ evidenceTypes: z.array(evidenceTypeSchema) }),
    },
    ...LOADING,
  },
});

const TYPE_DOC = describe({
  summary: "One evidence type",
  tags: TAGS,
  roles: ROLES,
  params: { id: slugSchema },
  responses: {
    200: { description: "The evidence type", schema: evidenceTypeSchema },
    400: problem(BY_ID),
    404: problem("Unknown evidence type"),
    ...LOADING,
  },
});

const PROVIDER_DOC = describe({
  summary: "A provider's public entry",
  tags: TAGS,
  roles: ROLES,
  params: { id: slugSchema },
  responses: {
    200: {
      description: "The provider and the evidence types it is routed for",
      schema: publicProviderSchema.extend({ evidenceTypes: z.array(slugSchema) }).meta({
        id: "ProviderEntry",
      }),
    },
    400: problem(BY_ID),
    404: problem("Unknown provider"),
    ...LOADING,
  },
});

const REGIONS_DOC = describe({
  summary: "Regions by PLZ (and Ort), AGS, ARS or name prefix",
  tags: TAGS,
  roles: ROLES,
  query: regionsQuery,
  responses: {
    200: { description: "Matching regions", schema: z.object({ regions: z.array(regionSchema) }) },
    400: problem("Malformed or conflicting parameters"),
    404: problem("Unknown region"),
    ...LOADING,
  },
});

/** What the catalog routes read. */
export interface CatalogRoutesOptions {
  readonly iam: Pick<Iam, "checker">;
  readonly store: { readonly snapshot: Snapshot | null };
}

function current(deps: CatalogRoutesOptions): Snapshot {
  const snapshot = deps.store.snapshot;
  if (!snapshot) throw new Problem("unavailable", "Tables are still loading");
  return snapshot;
}

export function catalogRoutes(deps: CatalogRoutesOptions): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();
  const auth = requireRole(deps.iam.checker, ["consumer", "provider", "dsc", "operator"]);

  app.get("/evidence-types", auth, TYPES_DOC, (c) => {
    return c.json({ evidenceTypes: current(deps).nav.evidenceTypes() });
  });

  app.get("/evidence-types/:id", auth, TYPE_DOC, (c) => {
    const id = c.req.param("id");
    if (!SLUG.test(id)) {
      throw new Problem(
        "invalid-request",
        `Cannot parse evidence type id "${id.slice(0, 64)}": expected a slug`,
      );
    }
    const found = current(deps).nav.evidenceType(id);
    if (!found) throw new Problem("not-found", `Unknown evidence type "${id}"`);
    return c.json(found);
  });

  app.get("/providers/:id", auth, PROVIDER_DOC, (c) => {
    const id = c.req.param("id");
    if (!SLUG.test(id)) {
      throw new Problem(
        "invalid-request",
        `Cannot parse provider id "${id.slice(0, 64)}": expected a slug`,
      );
    }
    const snapshot = current(deps);
    const provider = snapshot.nav.provider(id);
    if (!provider) throw new Problem("not-found", `Unknown provider "${id}"`);
    const evidenceTypes = snapshot.nav.evidenceTypesServedBy(id);
    return c.json({
      id: provider.id,
      name: provider.name,
      endpoint: provider.endpoint,
      evidenceTypes,
    });
  });

  app.get("/regions", auth, REGIONS_DOC, (c) => {
    const nav = current(deps).nav;
    const { q, limit, ...location } = c.req.query();
    if (q !== undefined) {
      if (Object.keys(location).length > 0) {
        throw new Problem("invalid-request", "Parameter q goes alone (with limit)");
      }
      if (q.trim().length === 0 || q.length > 100) {
        throw new Problem("invalid-request", "Parameter q must have 1 to 100 characters");
      }
      let n = 20;
      if (limit !== undefined) {
        n = Number(limit);
        if (!/^\d{1,3}$/.test(limit) || n < 1 || n > MAX_SEARCH_RESULTS) {
          throw new Problem(
            "invalid-request",
            `Parameter limit must be 1 to ${MAX_SEARCH_RESULTS}`,
          );
        }
      }
      return c.json({ regions: nav.searchRegions(q, { limit: n }) });
    }
    if (limit !== undefined) {
      throw new Problem("invalid-request", "Parameter limit goes with q only");
    }
    if (location.plz !== undefined && location.ags === undefined && location.ars === undefined) {
      // A PLZ lists every Gemeinde it covers (narrowed by ort) instead of demanding one.
      try {
        return c.json({ regions: [locate(nav, location)] });
      } catch (error) {
        if (error instanceof Problem && error.type === "ambiguous-region") {
          const candidates = error.extra!.candidates as { ags: string }[];
          return c.json({ regions: candidates.map((x) => nav.region(x.ags)!) });
        }
        throw error;
      }
    }
    return c.json({ regions: [locate(nav, location)] });
  });
  return app;
}
