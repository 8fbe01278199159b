/**
 * The rows of self-service onboarding: registrations until an operator decides, and the
 * readiness checks run against providers' registered endpoints. The use cases live in
 * src/registration.ts and src/readiness.ts; this module only reads and writes.
 *
 * @example
 * ```ts
 * await db.transaction(async (tx) => {
 *   await insertRegistration(tx, { id, kind: "consumer", clientId, body, source, status: "pending" });
 * });
 * const pending = await listRegistrations(db, { status: "pending" });
 * ```
 *
 * @module
 */
import type { Queryable } from "./types.ts";

export type RegistrationStatus = "pending" | "approved" | "rejected";

/** A registration as stored. */
export interface StoredRegistration {
  readonly id: string;
  /** ISO 8601. */
  readonly createdAt: string;
  readonly kind: "consumer" | "provider";
  readonly clientId: string;
  readonly status: RegistrationStatus;
  /** The validated request body. */
  readonly body: Record<string, unknown>;
  /** The source address it came from. */
  readonly source: string | null;
  readonly decidedAt: string | null;
  readonly decidedBy: string | null;
  readonly reason: string | null;
}

function iso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return (value instanceof Date ? value : new Date(String(value))).toISOString();
}

function toRegistration(r: Record<string, unknown>): StoredRegistration {
  return {
    id: String(r.id),
    createdAt: iso(r.created_at)!,
    kind: r.kind as "consumer" | "provider",
    clientId: r.client_id as string,
    status: r.status as RegistrationStatus,
    body: (typeof r.body === "string" ? JSON.parse(r.body) : r.body) as Record<string, unknown>,
    source: (r.source as string | null) ?? null,
    decidedAt: iso(r.decided_at),
    decidedBy: (r.decided_by as string | null) ?? null,
    reason: (r.reason as string | null) ?? null,
  };
}

/** Stores a new registration inside `tx`. */
export async function insertRegistration(
  tx: Queryable,
  r: Pick<StoredRegistration, "id" | "kind" | "clientId" | "body" | "source" | "status">,
): Promise<void> {
  await tx.sql`
    insert into registrations (id, kind, client_id, status, body, source)
    values (${r.id}::uuid, ${r.kind}, ${r.clientId}, ${r.status}, ${JSON.stringify(r.body)}::jsonb,
      ${r.source})`;
}

/** One registration, or null; `lock` takes a row lock for a decision in `db`'s transaction. */
export async function getRegistration(
  db: Queryable,
  id: string,
  options: { lock?: boolean } = {},
): Promise<StoredRegistration | null> {
  const rows = options.lock
    ? await db.sql`
      select id, created_at, kind, client_id, status, body, source, decided_at, decided_by, reason
      from registrations where id = ${id}::uuid for update`
    : await db.sql`
      select id, created_at, kind, client_id, status, body, source, decided_at, decided_by, reason
      from registrations where id = ${id}::uuid`;
  return rows[0] ? toRegistration(rows[0]) : null;
}

/** Whether a pending or approved registration asks for `clientId`. */
export async function clientIdClaimed(db: Queryable, clientId: string): Promise<boolean> {
  const rows = await db.sql`
    select 1 from registrations
    where client_id = ${clientId} and status in ('pending', 'approved') limit 1`;
  return rows.length > 0;
}

/** The pending or approved provider registration asking for `clientId`, or null. */
export async function providerRegistration(
  db: Queryable,
  clientId: string,
): Promise<StoredRegistration | null> {
  const rows = await db.sql`
    select id, created_at, kind, client_id, status, body, source, decided_at, decided_by, reason
    from registrations
    where client_id = ${clientId} and kind = 'provider' and status in ('pending', 'approved')
    limit 1`;
  return rows[0] ? toRegistration(rows[0]) : null;
}

/** Registrations, newest first, optionally of one status. */
export async function listRegistrations(
  db: Queryable,
  filter: { status?: RegistrationStatus; limit?: number } = {},
): Promise<StoredRegistration[]> {
  const rows = await db.sql`
    select id, created_at, kind, client_id, status, body, source, decided_at, decided_by, reason
    from registrations
    where (${filter.status ?? null}::text is null or status = ${filter.status ?? null})
    order by created_at desc, id
    limit ${filter.limit ?? 200}`;
  return rows.map(toRegistration);
}

/** How many registrations are stored (tests assert that a refusal stored nothing). */
export async function countRegistrations(db: Queryable): Promise<number> {
  const [row] = await db.sql<{ n: number }>`select count(*)::int as n from registrations`;
  return Number(row!.n);
}

/** Records the decision on a pending registration inside `tx`; false when it was not pending. */
export async function decideRegistration(
  tx: Queryable,
  id: string,
  decision: { status: "approved" | "rejected"; actor: string; reason?: string | null },
): Promise<boolean> {
  const rows = await tx.sql`
    update registrations
    set status = ${decision.status}, decided_at = now(), decided_by = ${decision.actor},
      reason = ${decision.reason ?? null}
    where id = ${id}::uuid and status = 'pending'
    returning 1`;
  return rows.length > 0;
}

/** One check of a readiness report. */
export interface ReadinessItem {
  readonly id: string;
  readonly title: string;
  readonly passed: boolean;
  readonly detail: string;
}

/** A readiness report as stored. */
export interface StoredReadiness {
  readonly id: string;
  /** ISO 8601. */
  readonly at: string;
  readonly providerId: string;
  readonly requestedBy: string;
  readonly passed: boolean;
  readonly checks: readonly ReadinessItem[];
  /** The endpoints checked. */
  readonly endpoints: Record<string, string | null>;
}

function toReadiness(r: Record<string, unknown>): StoredReadiness {
  const parse = (v: unknown) => typeof v === "string" ? JSON.parse(v) : v;
  return {
    id: String(r.id),
    at: iso(r.at)!,
    providerId: r.provider_id as string,
    requestedBy: r.requested_by as string,
    passed: Boolean(r.passed),
    checks: parse(r.checks) as ReadinessItem[],
    endpoints: parse(r.endpoints) as Record<string, string | null>,
  };
}

/** Stores a readiness report. */
export async function insertReadiness(db: Queryable, report: StoredReadiness): Promise<void> {
  await db.sql`
    insert into readiness_checks (id, at, provider_id, requested_by, passed, checks, endpoints)
    values (${report.id}::uuid, ${report.at}::timestamptz, ${report.providerId},
      ${report.requestedBy}, ${report.passed}, ${JSON.stringify(report.checks)}::jsonb,
      ${JSON.stringify(report.endpoints)}::jsonb)`;
}

/** One readiness report, or null. */
export async function getReadiness(db: Queryable, id: string): Promise<StoredReadiness | null> {
  const rows = await db.sql`
    select id, at, provider_id, requested_by, passed, checks, endpoints
    from readiness_checks where id = ${id}::uuid`;
  return rows[0] ? toReadiness(rows[0]) : null;
}

/** The newest readiness report of each of `providerIds` that has one. */
export async function latestReadiness(
  db: Queryable,
  providerIds: readonly string[],
): Promise<Map<string, StoredReadiness>> {
  if (providerIds.length === 0) return new Map();
  const rows = await db.sql`
    select distinct on (provider_id) id, at, provider_id, requested_by, passed, checks, endpoints
    from readiness_checks where provider_id = any(${providerIds}::text[])
    order by provider_id, at desc`;
  return new Map(rows.map((r) => [r.provider_id as string, toReadiness(r)]));
}
