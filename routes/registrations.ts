/**
 * Operators decide on registrations (docs/api.md §3.3): `GET /admin/v1/registrations` lists
 * them with what approval would create, `POST …/{id}/approve` writes it in one transaction,
 * `POST …/{id}/reject` refuses; both decisions land in `/admin/v1/audit`.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Iam } from "../src/iam.ts";
import { type AuthVariables, requireRole } from "../src/auth.ts";
import { parseWith, readJson } from "../src/validate.ts";
import {
  approveRegistration,
  latestReadiness,
  listRegistrations,
  parseRegistration,
  planRegistration,
  type RegistrationContext,
  type RegistrationPlan,
  rejectRegistration,
  type StoredRegistration,
} from "../src/registration.ts";
import { describe, problem } from "../src/openapi.ts";
import { registrationStatusSchema } from "../src/schemas.ts";
import { type OnboardingRoutesOptions, registrationContext } from "./onboarding.ts";
import type { Config } from "../src/config.ts";

const ADMIN = { tags: ["Onboarding"], roles: ["operator"], adminToken: true } as const;
const ID = { id: z.uuid() };

const LIST_DOC = describe({
  ...ADMIN,
  summary: "Registrations, newest first, with what approval would create",
  query: z.object({ status: registrationStatusSchema.optional() }),
  responses: {
    200: {
      description: "Registrations",
      schema: z.object({ registrations: z.array(z.unknown()) }),
    },
    400: problem("Bad status"),
  },
});

const DECIDE_DOCS = {
  approve: describe({
    ...ADMIN,
    summary: "Approve a registration: its client, provider, routes, permissions in one step",
    params: ID,
    responses: {
      200: { description: "Approved, with the rows created" },
      404: problem("No such registration"),
      409: problem("Decided already, or a row it would create exists"),
    },
  }),
  reject: describe({
    ...ADMIN,
    summary: "Reject a registration",
    params: ID,
    body: {
      type: "application/json",
      schema: z.strictObject({ reason: z.string().max(1000).optional() }).meta({
        id: "RegistrationRejection",
      }),
    },
    responses: {
      200: { description: "Rejected" },
      404: problem("No such registration"),
      409: problem("Decided already"),
    },
  }),
};

/** What the registration admin routes need. */
export interface RegistrationAdminOptions extends OnboardingRoutesOptions {
  readonly iam: Pick<Iam, "checker">;
  readonly config: OnboardingRoutesOptions["config"] & Pick<Config, "adminToken">;
}

/** A registration as the admin API shows it. */
export function registrationView(r: StoredRegistration) {
  const { body, ...rest } = r;
  return { ...rest, organisation: body.organisation, contact: body.contact, request: body };
}

/** What approving `r` would write now; null when its body no longer fits the tables' rules. */
export function wouldCreate(
  r: StoredRegistration,
  context: RegistrationContext,
): RegistrationPlan | null {
  try {
    return planRegistration(parseRegistration(r.body), context.snapshot, context);
  } catch {
    return null;
  }
}

function uuidParam(raw: string): string {
  return parseWith(z.uuid(), raw, "registration id");
}

export function registrationAdminRoutes(
  deps: RegistrationAdminOptions,
): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();
  const operator = requireRole(deps.iam.checker, ["operator"], {
    adminToken: deps.config.adminToken,
  });

  app.get("/registrations", operator, LIST_DOC, async (c) => {
    const raw = c.req.query("status");
    const status = raw === undefined || raw === ""
      ? undefined
      : parseWith(registrationStatusSchema, raw, "status");
    const context = registrationContext(deps);
    const rows = await listRegistrations(deps.db, { status });
    const readiness = await latestReadiness(
      deps.db,
      rows.filter((r) => r.kind === "provider").map((r) => r.clientId),
    );
    return c.json(
      {
        registrations: rows.map((r) => {
          const plan = r.status === "pending" ? wouldCreate(r, context) : null;
          const latest = readiness.get(r.clientId);
          return {
            ...registrationView(r),
            ...(r.status === "pending" ? { wouldCreate: plan } : {}),
            ...(latest
              ? { readiness: { id: latest.id, at: latest.at, passed: latest.passed } }
              : {}),
          };
        }),
      },
      200,
      { "cache-control": "no-store" },
    );
  });

  app.post("/registrations/:id/approve", operator, DECIDE_DOCS.approve, async (c) => {
    const id = uuidParam(c.req.param("id"));
    const { registration, plan } = await approveRegistration(deps.db, id, {
      ...registrationContext(deps),
      actor: c.get("principal").clientId,
    });
    await deps.store.refresh();
    return c.json({ ...registrationView(registration), created: plan });
  });

  app.post("/registrations/:id/reject", operator, DECIDE_DOCS.reject, async (c) => {
    const id = uuidParam(c.req.param("id"));
    let reason: string | null = null;
    if (c.req.header("content-type")) {
      const body = parseWith(
        z.strictObject({ reason: z.string().max(1000).optional() }),
        await readJson(c, 16 * 1024, deps.config.bodyTimeoutMs),
        "rejection",
      );
      reason = body.reason ?? null;
    }
    const registration = await rejectRegistration(deps.db, id, {
      actor: c.get("principal").clientId,
      reason,
    });
    return c.json(registrationView(registration));
  });
  return app;
}
