/**
 * The audit trail of data changes: who (client id), when, which table and key, the row before
 * and after. Entries are written with the change, in its transaction, by
 * {@linkcode recordAudit}; anything that decides over data (admin writes, imports, onboarding
 * decisions) passes its transaction and an {@linkcode AuditEntry}.
 *
 * @example
 * ```ts
 * await db.transaction(async (tx) => {
 *   // … the change …
 *   await recordAudit(tx, { actor: "lotse-operator", action: "put", table: "routes",
 *     key: "r1", before: null, after: row });
 * });
 * ```
 *
 * @module
 */
import type { Queryable } from "./types.ts";

/** One change, as recorded. */
export interface AuditEntry {
  /** The client id of who made it (`"admin-token"` for the bootstrap token). */
  readonly actor: string;
  /** What was done: `put`, `delete`, `import`, or another verb of a later decision. */
  readonly action: string;
  /** The table (or kind of record) changed. */
  readonly table: string;
  /** The row's key; null when the entry covers many rows (an import). */
  readonly key: string | null;
  readonly before?: unknown;
  readonly after?: unknown;
  readonly detail?: Record<string, unknown>;
}

/** An entry as read back. */
export interface AuditRecord extends AuditEntry {
  readonly id: string;
  /** ISO 8601. */
  readonly at: string;
}

// Members that hold secrets wherever they appear: private JWK parts, passwords, tokens.
const SECRET_MEMBERS = new Set([
  "d",
  "p",
  "q",
  "dp",
  "dq",
  "qi",
  "k",
  "oth",
  "password",
  "secret",
  "token",
  "clientSecret",
]);

/** `value` with every secret member replaced by `"[redacted]"`. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map((
      [k, v],
    ) => [k, SECRET_MEMBERS.has(k) && v !== null ? "[redacted]" : redact(v)]),
  );
}

/** Writes one entry inside `tx` (the transaction of the change it records). */
export async function recordAudit(tx: Queryable, entry: AuditEntry): Promise<void> {
  const json = (v: unknown) => v === undefined || v === null ? null : JSON.stringify(redact(v));
  await tx.sql`
    insert into audit_entries (actor, action, table_name, row_key, before, after, detail)
    values (${entry.actor}, ${entry.action}, ${entry.table}, ${entry.key},
      ${json(entry.before)}::jsonb, ${json(entry.after)}::jsonb, ${json(entry.detail)}::jsonb)`;
}

/** Filters for {@linkcode queryAudit}; every one given must match. */
export interface AuditFilter {
  table?: string;
  key?: string;
  actor?: string;
  action?: string;
  from?: Date;
  to?: Date;
  /** Entries older than this id (the cursor of the previous page). */
  before?: string;
  /** Default 100. */
  limit?: number;
}

/** The newest entries matching `filter`, newest first, and the cursor of the next page. */
export async function queryAudit(
  db: Queryable,
  filter: AuditFilter = {},
): Promise<{ entries: AuditRecord[]; next: string | null }> {
  const limit = filter.limit ?? 100;
  const rows = await db.sql<Record<string, unknown>>`
    select id::text as id, at, actor, action, table_name, row_key, before, after, detail
    from audit_entries
    where (${filter.table ?? null}::text is null or table_name = ${filter.table ?? null})
      and (${filter.key ?? null}::text is null or row_key = ${filter.key ?? null})
      and (${filter.actor ?? null}::text is null or actor = ${filter.actor ?? null})
      and (${filter.action ?? null}::text is null or action = ${filter.action ?? null})
      and (${filter.from?.toISOString() ?? null}::timestamptz is null
        or at >= ${filter.from?.toISOString() ?? null}::timestamptz)
      and (${filter.to?.toISOString() ?? null}::timestamptz is null
        or at < ${filter.to?.toISOString() ?? null}::timestamptz)
      and (${filter.before ?? null}::bigint is null or id < ${filter.before ?? null}::bigint)
    order by id desc
    limit ${limit + 1}`;
  const parse = (v: unknown) => typeof v === "string" ? JSON.parse(v) : v;
  const entries = rows.slice(0, limit).map((r) => ({
    id: r.id as string,
    at: (r.at instanceof Date ? r.at : new Date(String(r.at))).toISOString(),
    actor: r.actor as string,
    action: r.action as string,
    table: r.table_name as string,
    key: (r.row_key as string | null) ?? null,
    before: parse(r.before) ?? null,
    after: parse(r.after) ?? null,
    detail: parse(r.detail) ?? undefined,
  }));
  return { entries, next: rows.length > limit ? entries[entries.length - 1]!.id : null };
}

/** Deletes entries older than `olderThan`; returns how many. */
export async function purgeAudit(db: Queryable, olderThan: Date): Promise<number> {
  const rows = await db.sql`
    delete from audit_entries where at < ${olderThan.toISOString()}::timestamptz returning 1`;
  return rows.length;
}
