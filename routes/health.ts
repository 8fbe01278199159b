/** Liveness, readiness and metrics. */
import { Hono } from "hono";
import { z } from "zod";
import { describe } from "../src/openapi.ts";
import type { Metrics } from "../src/metrics.ts";
import type { Snapshot } from "../src/store.ts";

/** What the health routes read. */
export interface HealthRoutesOptions {
  readonly store: { readonly snapshot: Snapshot | null };
  readonly metrics: Pick<Metrics, "render">;
}

const readiness = z.object({
  status: z.enum(["ready", "loading"]),
  tablesVersion: z.int().nullable(),
});

const HEALTH_DOC = describe({
  summary: "Liveness",
  tags: ["Operations"],
  responses: {
    200: { description: "The process runs", schema: z.object({ status: z.literal("ok") }) },
  },
});

const READY_DOC = describe({
  summary: "Readiness: tables loaded",
  tags: ["Operations"],
  responses: {
    200: { description: "Ready", schema: readiness },
    503: { description: "Still loading", schema: readiness },
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
  app.get("/readyz", READY_DOC, (c) => {
    const snapshot = deps.store.snapshot;
    return snapshot
      ? c.json({ status: "ready", tablesVersion: snapshot.version })
      : c.json({ status: "loading", tablesVersion: null }, 503);
  });
  app.get("/metrics", METRICS_DOC, (c) =>
    c.body(deps.metrics.render(), 200, {
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
    }));
  return app;
}
