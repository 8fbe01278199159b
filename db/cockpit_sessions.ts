/**
 * The cockpit's login transactions and sessions in PostgreSQL
 * (db/migrations/012_cockpit_sessions.sql): every instance sees the same, a logout ends a
 * session everywhere. Callers hand in hashes, never the ids from the cookies.
 *
 * @example
 * ```ts
 * await insertSession(db, { idHash, idnrHmac, csrf, createdAt: now, expiresAt });
 * const session = await findSession(db, idHash, new Date());
 * ```
 *
 * @module
 */
import type { Queryable } from "./types.ts";

/** A login under way. */
export interface LoginRow {
  readonly idHash: string;
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly expiresAt: Date;
}

/** A session. */
export interface SessionRow {
  readonly idHash: string;
  readonly idnrHmac: string;
  readonly csrf: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
}

export async function insertLogin(db: Queryable, login: LoginRow): Promise<void> {
  await db.sql`
    insert into cockpit_logins (id_hash, state, nonce, verifier, expires_at)
    values (${login.idHash}, ${login.state}, ${login.nonce}, ${login.verifier},
      ${login.expiresAt})`;
}

/** Deletes and returns the login if it exists and has not expired: a login is used once. */
export async function takeLogin(
  db: Queryable,
  idHash: string,
  now: Date,
): Promise<LoginRow | null> {
  const [row] = await db.sql<
    { id_hash: string; state: string; nonce: string; verifier: string; expires_at: Date }
  >`delete from cockpit_logins where id_hash = ${idHash} returning *`;
  if (!row || new Date(row.expires_at).getTime() <= now.getTime()) return null;
  return {
    idHash: row.id_hash,
    state: row.state,
    nonce: row.nonce,
    verifier: row.verifier,
    expiresAt: new Date(row.expires_at),
  };
}

export async function insertSession(db: Queryable, session: SessionRow): Promise<void> {
  await db.sql`
    insert into cockpit_sessions (id_hash, idnr_hmac, csrf, created_at, expires_at)
    values (${session.idHash}, ${session.idnrHmac}, ${session.csrf}, ${session.createdAt},
      ${session.expiresAt})`;
}

/** The session if it exists and has not expired. */
export async function findSession(
  db: Queryable,
  idHash: string,
  now: Date,
): Promise<SessionRow | null> {
  const [row] = await db.sql<
    { id_hash: string; idnr_hmac: string; csrf: string; created_at: Date; expires_at: Date }
  >`select * from cockpit_sessions where id_hash = ${idHash}`;
  if (!row || new Date(row.expires_at).getTime() <= now.getTime()) return null;
  return {
    idHash: row.id_hash,
    idnrHmac: row.idnr_hmac,
    csrf: row.csrf,
    createdAt: new Date(row.created_at),
    expiresAt: new Date(row.expires_at),
  };
}

export async function deleteSession(db: Queryable, idHash: string): Promise<void> {
  await db.sql`delete from cockpit_sessions where id_hash = ${idHash}`;
}

/** Deletes expired logins and sessions; returns how many rows went. */
export async function purgeCockpitSessions(db: Queryable, now: Date): Promise<number> {
  const logins = await db.sql`delete from cockpit_logins where expires_at <= ${now} returning 1`;
  const sessions = await db.sql`
    delete from cockpit_sessions where expires_at <= ${now} returning 1`;
  return logins.length + sessions.length;
}
