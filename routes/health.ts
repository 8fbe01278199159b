/** Liveness, readiness and metrics. */
import { Hono } from "hono";
import type { Metrics } from "../src/metrics.ts";
import type { Snapshot } from "../src/store.ts";

/** What the health routes read. */
export interface HealthRoutesOptions {
  readonly store: { readonly snapshot: Snapshot | null };
  readonly metrics: Pick<Metrics, "render">;
}

export function healthRoutes(deps: HealthRoutesOptions): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => {
    const snapshot = deps.store.snapshot;
    return snapshot
      ? c.json({ status: "ready", tablesVersion: snapshot.version })
      : c.json({ status: "loading", tablesVersion: null }, 503);
  });
  app.get("/metrics", (c) =>
    c.body(deps.metrics.render(), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    }));
  return app;
}
