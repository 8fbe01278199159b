/**
 * Self-service registration (docs/api.md §3.3), the JSON face: `POST
 * /onboarding/v1/registrations`, open to anyone, rate limited per source address, body
 * capped. The page at `/onboarding` posts the same body (routes/onboarding_pages.tsx); both
 * call src/registration.ts.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import type { Config } from "../src/config.ts";
import type { TableStore } from "../src/store.ts";
import { Problem } from "../src/problem.ts";
import { RateLimits, setRateLimitHeaders } from "../src/rate_limit.ts";
import { readJson } from "../src/validate.ts";
import { EndpointPolicy } from "../src/endpoint_policy.ts";
import { type Db, type RegistrationContext, submitRegistration } from "../src/registration.ts";
import { describe, LOADING, problem } from "../src/openapi.ts";
import { registrationBody, registrationCreated } from "../src/schemas.ts";

/** Largest registration body: a JWKS of ten keys and a CA chain fit well within. */
export const MAX_REGISTRATION_BYTES = 128 * 1024;

const REGISTER_DOC = describe({
  summary: "Register as consumer or provider (NOVA pre-registration)",
  description: "Open to anyone; rate limited per source address. Pending until an operator " +
    "approves, approved at once in the test environment (LOTSE_ENVIRONMENT=test).",
  tags: ["Onboarding"],
  body: { type: "application/json", schema: registrationBody },
  responses: {
    201: { description: "Stored", schema: registrationCreated },
    400: problem("A field is invalid (named in errors)"),
    409: problem("The client id, provider id or a route is taken"),
    413: problem("Body over 128 KiB"),
    415: problem("Body is not JSON"),
    429: problem("Too many registrations from this address"),
    ...LOADING,
  },
});

/** What the registration routes need. */
export interface OnboardingRoutesOptions {
  readonly db: Db;
  readonly store: Pick<TableStore, "snapshot" | "refresh">;
  readonly config: Pick<
    Config,
    | "environment"
    | "providerAllowedNetworks"
    | "bodyTimeoutMs"
    | "rateLimitWindowMs"
    | "rateLimitRegistration"
  >;
  /** The demo providers (test environment); default none. */
  readonly demoProviderIds?: readonly string[];
  /** Shared with the page, so the form and the API count against one quota. */
  readonly registrationLimits?: RateLimits;
}

/** The rate limit of registrations per source address. */
export function registrationLimits(
  config: Pick<Config, "rateLimitWindowMs" | "rateLimitRegistration">,
): RateLimits {
  return new RateLimits({
    windowMs: config.rateLimitWindowMs,
    token: 0,
    address: config.rateLimitRegistration,
    client: 0,
  });
}

/** The source address of a request served by `Deno.serve` (`"unknown"` in-process). */
export function sourceAddress(c: Context): string {
  const addr = (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr;
  return addr?.hostname ?? "unknown";
}

/** The registration context of now: the current tables and the configured rules. */
export function registrationContext(
  deps: Pick<OnboardingRoutesOptions, "store" | "config" | "demoProviderIds">,
): RegistrationContext {
  const snapshot = deps.store.snapshot;
  if (!snapshot) throw new Problem("unavailable", "Tables are still loading");
  return {
    snapshot,
    environment: deps.config.environment,
    endpoints: new EndpointPolicy(deps.config.providerAllowedNetworks),
    demoProviderIds: deps.demoProviderIds ?? [],
  };
}

export function onboardingRoutes(deps: OnboardingRoutesOptions): Hono {
  const app = new Hono();
  const limits = deps.registrationLimits ?? registrationLimits(deps.config);

  app.post("/v1/registrations", REGISTER_DOC, async (c) => {
    const verdict = limits.take("address", sourceAddress(c));
    if (verdict && !verdict.allowed) {
      throw new Problem(
        "too-many-requests",
        `At most ${verdict.limit} registrations per address and window: try again later`,
        { headers: { "retry-after": String(verdict.resetSeconds) } },
      );
    }
    const body = await readJson(c, MAX_REGISTRATION_BYTES, deps.config.bodyTimeoutMs);
    const created = await submitRegistration(deps.db, body, {
      ...registrationContext(deps),
      source: sourceAddress(c),
    });
    if (created.status === "approved") await deps.store.refresh();
    const response = c.json({ id: created.id, status: created.status }, 201);
    if (verdict) setRateLimitHeaders(response.headers, limits, verdict);
    return response;
  });
  return app;
}
