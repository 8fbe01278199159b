/** Liveness, readiness and metrics. */
import { Hono } from "hono";
import type { AppDeps } from "../src/app.ts";

export function healthRoutes(deps: AppDeps): Hono {
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
