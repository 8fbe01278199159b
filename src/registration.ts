/**
 * Self-service onboarding (docs/api.md §3.3), the use case: an authority registers as consumer
 * or provider; an operator approves or rejects; approval writes the client, provider, routes
 * and permissions the registration implies in one transaction, through the same row writes,
 * audit entries and version bumps as data management (db/tables.ts), so every instance picks
 * them up like any table change. In the test environment a registration is approved at once
 * and a consumer's permissions point at the demo providers.
 *
 * A registration never names a role, a row id or a permission of its own: the schema refuses
 * any such member, and every row approval writes is derived here, with fixed roles
 * (`consumer` or `provider`), no IDNr use, and ids that must not exist yet.
 *
 * @example
 * ```ts
 * const created = await submitRegistration(db, body, { snapshot, source: "203.0.113.7", ...options });
 * await approveRegistration(db, created.id, { actor: "lotse-operator", snapshot, ...options });
 * await store.refresh();
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { z } from "zod";
import type { Client, Permission, Provider, Route, TableName } from "./model.ts";
import type { Snapshot } from "./store.ts";
import { registrationBody } from "./schemas.ts";
import { type FieldError, parseWith } from "./validate.ts";
import { Problem } from "./problem.ts";
import type { EndpointPolicy } from "./endpoint_policy.ts";
import { checkCaCert, checkPublicJwk } from "../crypto/registration.ts";
import type { Db, Queryable } from "../db/types.ts";
import { putRowIn, RowExistsError, type TableRows } from "../db/tables.ts";
import { recordAudit } from "../db/audit.ts";
import {
  clientIdClaimed,
  decideRegistration,
  getRegistration,
  insertRegistration,
  type StoredRegistration,
} from "../db/registrations.ts";

export {
  countRegistrations,
  latestReadiness,
  listRegistrations,
  type StoredRegistration,
} from "../db/registrations.ts";
export type { Db } from "../db/types.ts";

/** A validated registration body. */
export type Registration = z.output<typeof registrationBody>;

/** `production` (an operator decides) or `test` (approved at once; docs/api.md §5). */
export type Environment = "production" | "test";

/** Who the test environment's automatic approvals are recorded as. */
export const TEST_ENVIRONMENT_ACTOR = "test-environment";

/** What the registration rules depend on. */
export interface RegistrationOptions {
  readonly environment: Environment;
  /** The provider endpoint rule of transport (`LOTSE_PROVIDER_ALLOWED_NETWORKS`). */
  readonly endpoints: EndpointPolicy;
  /** The demo providers a test-environment consumer gets permissions on. */
  readonly demoProviderIds: readonly string[];
}

/** The rows approval writes, by table: the diff the operator sees. */
export interface RegistrationPlan {
  readonly clients: readonly Client[];
  readonly providers: readonly Provider[];
  readonly routes: readonly Route[];
  readonly permissions: readonly Permission[];
}

/** Parses a registration body, or throws a 400 problem naming the field. */
export function parseRegistration(raw: unknown): Registration {
  return parseWith(registrationBody, raw, "registration");
}

function invalid(errors: FieldError[]): Problem {
  const first = errors[0]!;
  return new Problem("invalid-request", `Invalid registration: ${first.path}: ${first.message}`, {
    extra: { errors },
  });
}

function conflict(errors: FieldError[]): Problem {
  const first = errors[0]!;
  return new Problem("conflict", `Registration refused: ${first.path}: ${first.message}`, {
    extra: { errors },
  });
}

const unique = <T>(values: readonly T[]) => [...new Set(values)];

// Ids approval derives: readable, at most 63 characters, the same for the same input.
function derivedId(clientId: string, ...parts: string[]): string {
  const hash = createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 8);
  return `${clientId.slice(0, 54).replace(/-+$/, "")}-${hash}`;
}

/**
 * What is wrong with `reg` against the tables as they are (400 problems), then what collides
 * with rows or registrations of others (409 problems); nothing when it may be stored.
 */
export function checkRegistration(
  reg: Registration,
  snapshot: Snapshot,
  options: RegistrationOptions,
): { invalid: FieldError[]; taken: FieldError[] } {
  const bad: FieldError[] = [];
  const taken: FieldError[] = [];
  for (const [i, key] of reg.jwks.keys.entries()) {
    const reason = checkPublicJwk(key as Record<string, unknown>);
    if (reason) bad.push({ path: `jwks.keys.${i}`, message: reason });
  }
  for (const [i, id] of reg.evidenceTypes.entries()) {
    if (!snapshot.nav.evidenceType(id)) {
      bad.push({ path: `evidenceTypes.${i}`, message: `unknown evidence type "${id}"` });
    } else if (
      reg.kind === "consumer" && options.environment === "test" &&
      !options.demoProviderIds.some((p) => snapshot.nav.serves(p, id))
    ) {
      bad.push({
        path: `evidenceTypes.${i}`,
        message: `no demo provider of the test environment serves "${id}"`,
      });
    }
  }
  if (reg.kind === "provider") {
    for (const field of ["endpoint", "xnachweisEndpoint"] as const) {
      const endpoint = reg[field];
      const reason = endpoint ? options.endpoints.check(endpoint) : null;
      if (reason) bad.push({ path: field, message: reason });
    }
    const caReason = reg.caCert ? checkCaCert(reg.caCert) : null;
    if (caReason) bad.push({ path: "caCert", message: caReason });
    const keys = reg.jurisdictions ?? [];
    for (const [i, key] of keys.entries()) {
      if (key.length === 8 && !snapshot.nav.region(key)) {
        bad.push({ path: `jurisdictions.${i}`, message: `unknown Gemeinde (AGS) "${key}"` });
      } else if (key.length === 2 && !(Number(key) >= 1 && Number(key) <= 16)) {
        bad.push({ path: `jurisdictions.${i}`, message: `no Land has the key "${key}"` });
      }
    }
    if (unique(reg.evidenceTypes).length * unique(keys).length > 1000) {
      bad.push({ path: "jurisdictions", message: "more than 1000 routes (types × regions)" });
    }
    for (const [i, key] of keys.entries()) {
      for (const type of reg.evidenceTypes) {
        if (snapshot.nav.hasRoute(type, key)) {
          taken.push({
            path: `jurisdictions.${i}`,
            message: `another provider is responsible for "${type}" in "${key || "Bund"}"`,
          });
        }
      }
    }
  }
  if (snapshot.clients.has(reg.clientId) || snapshot.nav.provider(reg.clientId)) {
    taken.unshift({ path: "clientId", message: `"${reg.clientId}" is taken` });
  }
  return { invalid: bad, taken };
}

/** The rows approving `reg` writes. */
export function planRegistration(
  reg: Registration,
  snapshot: Snapshot,
  options: RegistrationOptions,
): RegistrationPlan {
  const roles: Client["roles"] = [reg.kind];
  const client: Client = {
    id: reg.clientId,
    name: reg.organisation,
    roles,
    jwks: reg.jwks as unknown as Client["jwks"],
  };
  const types = unique(reg.evidenceTypes);
  if (reg.kind === "consumer") {
    const permission = (evidenceType: string, providerId: string | null): Permission => ({
      id: derivedId(reg.clientId, "permission", evidenceType, providerId ?? ""),
      consumerId: reg.clientId,
      evidenceType,
      providerId,
      purposes: unique(reg.purposes ?? []),
      legalBases: unique(reg.legalBases ?? []),
      idnrAllowed: false,
      validFrom: null,
      validUntil: null,
      onBehalfOf: null,
    });
    const permissions = options.environment === "test"
      ? types.flatMap((type) =>
        options.demoProviderIds.filter((p) => snapshot.nav.serves(p, type)).map((p) =>
          permission(type, p)
        )
      )
      : types.map((type) => permission(type, null));
    return { clients: [client], providers: [], routes: [], permissions };
  }
  const provider: Provider = {
    id: reg.clientId,
    name: reg.organisation,
    endpoint: reg.endpoint!,
    caCert: reg.caCert ?? null,
    xnachweisEndpoint: reg.xnachweisEndpoint ?? null,
  };
  const routes = types.flatMap((evidenceType) =>
    unique(reg.jurisdictions ?? []).map((regionKey) => ({
      id: derivedId(reg.clientId, "route", evidenceType, regionKey),
      evidenceType,
      regionKey,
      providerId: reg.clientId,
    }))
  );
  return { clients: [client], providers: [provider], routes, permissions: [] };
}

/** What {@linkcode submitRegistration} and the decisions need besides the database. */
export interface RegistrationContext extends RegistrationOptions {
  /** The tables as loaded now. */
  readonly snapshot: Snapshot;
}

/**
 * Checks and stores a registration: 201 `pending`, or `approved` in the test environment
 * (then its rows are written in the same transaction). Throws a 400 problem naming the
 * field, or a 409 when the client id or a route is taken; nothing is stored then.
 */
export async function submitRegistration(
  db: Db,
  raw: unknown,
  context: RegistrationContext & { source: string | null },
): Promise<{ id: string; status: "pending" | "approved"; plan: RegistrationPlan }> {
  const reg = parseRegistration(raw);
  const found = checkRegistration(reg, context.snapshot, context);
  if (found.invalid.length > 0) throw invalid(found.invalid);
  if (found.taken.length > 0) throw conflict(found.taken);
  const plan = planRegistration(reg, context.snapshot, context);
  const id = crypto.randomUUID();
  const status = context.environment === "test" ? "approved" : "pending";
  await writing(async () => {
    await db.transaction(async (tx) => {
      if (await clientIdClaimed(tx, reg.clientId)) {
        throw conflict([{ path: "clientId", message: `"${reg.clientId}" is taken` }]);
      }
      await insertRegistration(tx, {
        id,
        kind: reg.kind,
        clientId: reg.clientId,
        body: reg as unknown as Record<string, unknown>,
        source: context.source,
        status: "pending",
      });
      if (status === "approved") await approveIn(tx, id, plan, TEST_ENVIRONMENT_ACTOR, reg);
    });
  });
  return { id, status, plan };
}

/** Approves a pending registration: writes its rows and records the decision, all or nothing. */
export async function approveRegistration(
  db: Db,
  id: string,
  context: RegistrationContext & { actor: string },
): Promise<{ registration: StoredRegistration; plan: RegistrationPlan }> {
  return await writing(() =>
    db.transaction(async (tx) => {
      const stored = await pendingRegistration(tx, id);
      const reg = parseRegistration(stored.body);
      const plan = planRegistration(reg, context.snapshot, context);
      await approveIn(tx, id, plan, context.actor, reg);
      return { registration: { ...stored, status: "approved" as const }, plan };
    })
  );
}

/** Rejects a pending registration, with an optional reason; recorded in the audit trail. */
export async function rejectRegistration(
  db: Db,
  id: string,
  context: { actor: string; reason?: string | null },
): Promise<StoredRegistration> {
  return await db.transaction(async (tx) => {
    const stored = await pendingRegistration(tx, id);
    await decideRegistration(tx, id, {
      status: "rejected",
      actor: context.actor,
      reason: context.reason ?? null,
    });
    await recordAudit(tx, {
      actor: context.actor,
      action: "reject",
      table: "registrations",
      key: id,
      before: { status: "pending" },
      after: { status: "rejected" },
      detail: { kind: stored.kind, clientId: stored.clientId, reason: context.reason ?? null },
    });
    return { ...stored, status: "rejected" as const };
  });
}

async function pendingRegistration(tx: Queryable, id: string): Promise<StoredRegistration> {
  const stored = await getRegistration(tx, id, { lock: true });
  if (!stored) throw new Problem("not-found", `No registration "${id}"`);
  if (stored.status !== "pending") {
    throw new Problem("conflict", `Registration "${id}" is ${stored.status} already`);
  }
  return stored;
}

async function approveIn(
  tx: Queryable,
  id: string,
  plan: RegistrationPlan,
  actor: string,
  reg: Registration,
): Promise<void> {
  const write = async <K extends TableName>(table: K, rows: readonly TableRows[K][]) => {
    for (const row of rows) await putRowIn(tx, table, row, { actor, createOnly: true });
  };
  await write("clients", plan.clients);
  await write("providers", plan.providers);
  await write("routes", plan.routes);
  await write("permissions", plan.permissions);
  await decideRegistration(tx, id, { status: "approved", actor });
  await recordAudit(tx, {
    actor,
    action: "approve",
    table: "registrations",
    key: id,
    before: { status: "pending" },
    after: { status: "approved" },
    detail: {
      kind: reg.kind,
      clientId: reg.clientId,
      created: {
        clients: plan.clients.map((r) => r.id),
        providers: plan.providers.map((r) => r.id),
        routes: plan.routes.map((r) => r.id),
        permissions: plan.permissions.map((r) => r.id),
      },
    },
  });
}

// A collision found while writing (a row or registration created since the check) is a 409;
// a reference gone meanwhile (an evidence type deleted) a 400. Nothing was written then.
async function writing<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof RowExistsError) {
      throw new Problem("conflict", `Approval refused: ${error.table} row "${error.key}" exists`);
    }
    const code = (error as { code?: unknown })?.code;
    if (code === "23505") {
      throw new Problem("conflict", "Approval refused: it collides with an existing row");
    }
    if (code === "23503") {
      throw new Problem("invalid-request", "Approval refused: it refers to a row that is gone");
    }
    throw error;
  }
}
