/**
 * The readiness check (docs/api.md §3.3): `POST /v1/readiness-checks` runs the conformance
 * checks against a provider's registered endpoints (role `provider` for its own entry, or
 * `operator`, who may also check a pending registration before approving it);
 * `GET /v1/readiness-checks/{id}` reads a stored report. The report page is
 * `/onboarding/readiness/{id}` (routes/onboarding_pages.tsx).
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Config } from "../src/config.ts";
import type { Iam } from "../src/iam.ts";
import type { TableStore } from "../src/store.ts";
import { type AuthVariables, type Principal, requireRole } from "../src/auth.ts";
import { Problem } from "../src/problem.ts";
import { parseWith, readJson } from "../src/validate.ts";
import { EndpointPolicy } from "../src/endpoint_policy.ts";
import type { ProviderClients } from "../src/transport.ts";
import {
  type ReadinessOptions,
  readinessReport,
  readinessTarget,
  runReadinessCheck,
  type StoredReadiness,
} from "../src/readiness.ts";
import type { Db } from "../src/registration.ts";
import { describe, LOADING, problem } from "../src/openapi.ts";
import { readinessReportSchema, slugSchema } from "../src/schemas.ts";

const ROLES = ["provider", "operator"] as const;
const TAGS = ["Onboarding"];

const RUN_DOC = describe({
  summary: "Run the readiness check against a provider's registered endpoints",
  description: "Only the registered endpoints are called, under transport's endpoint rule and " +
    "the provider's own CA. A provider may check its own entry; an operator any provider, and a " +
    "pending provider registration before approving it.",
  tags: TAGS,
  roles: [...ROLES],
  body: {
    type: "application/json",
    schema: z.strictObject({ providerId: slugSchema }).meta({ id: "ReadinessCheckRequest" }),
  },
  responses: {
    201: { description: "The report, stored", schema: readinessReportSchema },
    400: problem("Bad body"),
    404: problem("No such provider or pending registration"),
    ...LOADING,
  },
});

const GET_DOC = describe({
  summary: "A stored readiness report",
  tags: TAGS,
  roles: [...ROLES],
  params: { id: z.uuid() },
  responses: {
    200: { description: "The report", schema: readinessReportSchema },
    400: problem("Malformed id"),
    404: problem("No such report"),
  },
});

/** What the readiness routes need. */
export interface ReadinessRoutesOptions {
  readonly db: Db;
  readonly store: Pick<TableStore, "snapshot">;
  readonly iam: Pick<Iam, "checker" | "keys" | "issuer">;
  readonly providerClients: ProviderClients;
  readonly config: Pick<
    Config,
    "adminToken" | "providerTimeoutMs" | "providerAllowedNetworks" | "bodyTimeoutMs"
  >;
}

/** The report as the API answers it. */
export function reportView(r: StoredReadiness) {
  return { id: r.id, providerId: r.providerId, at: r.at, passed: r.passed, checks: r.checks };
}

function mayCheck(principal: Principal, providerId: string): boolean {
  return principal.roles.includes("operator") || principal.clientId === providerId;
}

/** The options of a check run from the app's dependencies. */
export function readinessOptions(deps: ReadinessRoutesOptions): ReadinessOptions {
  return {
    keys: deps.iam.keys,
    issuer: deps.iam.issuer,
    endpoints: new EndpointPolicy(deps.config.providerAllowedNetworks),
    clients: deps.providerClients,
    timeoutMs: deps.config.providerTimeoutMs,
    evidenceType: (id) => deps.store.snapshot?.nav.evidenceType(id),
  };
}

export function readinessRoutes(deps: ReadinessRoutesOptions): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();
  const auth = requireRole(deps.iam.checker, ROLES, { adminToken: deps.config.adminToken });
  const options = readinessOptions(deps);

  app.post("/readiness-checks", auth, RUN_DOC, async (c) => {
    const { providerId } = parseWith(
      z.strictObject({ providerId: slugSchema }),
      await readJson(c, 4096, deps.config.bodyTimeoutMs),
      "readiness check request",
    );
    const principal = c.get("principal");
    if (!mayCheck(principal, providerId)) {
      throw new Problem(
        "forbidden",
        `A provider may check its own entry only, not "${providerId}"`,
      );
    }
    const snapshot = deps.store.snapshot;
    if (!snapshot) throw new Problem("unavailable", "Tables are still loading");
    const target = await readinessTarget(deps.db, providerId, {
      snapshot,
      pending: principal.roles.includes("operator"),
    });
    if (!target) {
      throw new Problem(
        "not-found",
        `No provider or pending provider registration "${providerId}"`,
      );
    }
    const report = await runReadinessCheck(deps.db, target, {
      ...options,
      requestedBy: principal.clientId,
    });
    return c.json(reportView(report), 201);
  });

  app.get("/readiness-checks/:id", auth, GET_DOC, async (c) => {
    const id = parseWith(z.uuid(), c.req.param("id"), "readiness check id");
    const report = await readinessReport(deps.db, id);
    if (!mayCheck(c.get("principal"), report.providerId)) {
      throw new Problem("not-found", `No readiness check "${id}"`);
    }
    return c.json(reportView(report));
  });
  return app;
}
