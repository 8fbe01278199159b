/** Liveness, readiness and metrics. */
import { Hono } from "hono";
import type { Metrics } from "../src/metrics.ts";
import type { Snapshot } from "../src/store.ts";
import type { DbHealth } from "../src/db_health.ts";

/** What the health routes read. */
export interface HealthRoutesOptions {
  readonly store: { readonly snapshot: Snapshot | null };
  readonly metrics: Pick<Metrics, "render">;
  /** PostgreSQL's reachability; while it is down, readiness says `degraded`. */
  readonly health?: Pick<DbHealth, "state">;
}

export function healthRoutes(deps: HealthRoutesOptions): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  // Degraded is still 200: navigation and transfers run from memory and the protocol spool
  // while PostgreSQL is down, so a load balancer keeps sending traffic here.
  app.get("/readyz", (c) => {
    const snapshot = deps.store.snapshot;
    if (!snapshot) return c.json({ status: "loading", tablesVersion: null }, 503);
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
  app.get("/metrics", (c) =>
    c.body(deps.metrics.render(), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    }));
  return app;
}
