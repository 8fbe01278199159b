/** Liveness, readiness and metrics. */
import { Hono } from "hono";
import { z } from "zod";
import { describe } from "../src/openapi.ts";
import type { Metrics } from "../src/metrics.ts";
import type { Snapshot } from "../src/store.ts";
import type { DbHealth } from "../src/db_health.ts";

/** What the health routes read. */
export interface HealthRoutesOptions {
  readonly store: { readonly snapshot: Snapshot | null };
  readonly metrics: Pick<Metrics, "render">;
  /** PostgreSQL's reachability; while it is down, readiness says `degraded`. */
  readonly health?: Pick<DbHealth, "state">;
  /** True while the instance drains before it stops: not ready, though it still serves. */
  readonly draining?: () => boolean;
}

const readiness = z.object({
  status: z.enum(["ready", "degraded", "loading", "draining"]),
  tablesVersion: z.int().nullable(),
  database: z.object({
    status: z.literal("unreachable"),
    reason: z.string().nullable(),
    since: z.string(),
  }).optional(),
});

const HEALTH_DOC = describe({
  summary: "Liveness",
  tags: ["Operations"],
  responses: {
    200: { description: "The process runs", schema: z.object({ status: z.literal("ok") }) },
  },
});

const READY_DOC = describe({
  summary: "Readiness: tables loaded (degraded while PostgreSQL is unreachable, still 200)",
  tags: ["Operations"],
  responses: {
    200: { description: "Ready", schema: readiness },
    503: { description: "Still loading, or draining before a stop", schema: readiness },
  },
});

const METRICS_DOC = describe({
  summary: "Prometheus metrics",
  tags: ["Operations"],
  responses: {
    200: { description: "Text format 0.0.4", type: "text/plain", schema: { type: "string" } },
  },
});

export function healthRoutes(deps: HealthRoutesOptions): Hono {
  const app = new Hono();
  app.get("/healthz", HEALTH_DOC, (c) => c.json({ status: "ok" }));
  // Degraded is still 200: navigation and transfers run from memory and the protocol spool
  // while PostgreSQL is down, so a load balancer keeps sending traffic here.
  app.get("/readyz", READY_DOC, (c) => {
    const snapshot = deps.store.snapshot;
    if (!snapshot) return c.json({ status: "loading", tablesVersion: null }, 503);
    // Draining: a balancer takes this instance out while its requests still finish here.
    if (deps.draining?.()) {
      return c.json({ status: "draining", tablesVersion: snapshot.version }, 503);
    }
    const db = deps.health?.state;
    if (db && !db.up) {
      return c.json({
        status: "degraded",
        tablesVersion: snapshot.version,
        database: {
          status: "unreachable",
          reason: db.reason,
          since: new Date(db.since).toISOString(),
        },
      });
    }
    return c.json({ status: "ready", tablesVersion: snapshot.version });
  });
  app.get("/metrics", METRICS_DOC, (c) =>
    c.body(deps.metrics.render(), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    }));
  return app;
}
