/**
 * The signing keys' PostgreSQL store: rows of `signing_keys` (migration
 * `002_signing_keys.sql`), sealed and opened by crypto/'s key store functions, so the
 * private JWK never rests in the clear.
 *
 * @example
 * ```ts
 * import { dbKeyStore } from "./key_store.ts";
 * import { KeyRing } from "../crypto/mod.ts";
 * const ring = await KeyRing.open(dbKeyStore(db, config.keySecret));
 * ```
 *
 * @module
 */
import {
  checkKeySecret,
  type KeyStore,
  openKey,
  type SealedKey,
  sealKey,
  TOKEN_ALGORITHMS,
  type TokenAlgorithm,
} from "../crypto/mod.ts";
import type { Queryable } from "./types.ts";

interface SigningKeyRow {
  kid: string;
  alg: string;
  sealed_private_jwk: string;
  created_at: unknown;
  retired_at: unknown;
}

/**
 * The rows of `signing_keys` as they rest (private parts sealed): what the table snapshot on
 * disk keeps, so an instance can start while the database cannot be reached.
 */
export async function readSealedKeys(db: Queryable): Promise<SealedKey[]> {
  const rows = await db.sql<SigningKeyRow>`
    select kid, alg, sealed_private_jwk, created_at, retired_at
    from signing_keys order by created_at`;
  return rows.map((row) => ({
    kid: row.kid,
    alg: tokenAlgorithm(row),
    sealed: row.sealed_private_jwk,
    createdAt: toMillis(row.created_at),
    retiredAt: row.retired_at === null ? null : toMillis(row.retired_at),
  }));
}

/** A {@linkcode KeyStore} on the `signing_keys` table (migration `002_signing_keys.sql`). */
export function dbKeyStore(db: Queryable, secret: string): KeyStore {
  checkKeySecret(secret);
  return {
    async load() {
      const rows = await readSealedKeys(db);
      return await Promise.all(rows.map((row) => openKey(row, secret)));
    },
    async save(key) {
      const row = await sealKey(key, secret);
      const createdAt = new Date(row.createdAt).toISOString();
      const retiredAt = row.retiredAt === null ? null : new Date(row.retiredAt).toISOString();
      await db.sql`
        insert into signing_keys (kid, alg, sealed_private_jwk, created_at, retired_at)
        values (${row.kid}, ${row.alg}, ${row.sealed}, ${createdAt}::timestamptz,
          ${retiredAt}::timestamptz)
        on conflict (kid) do update set retired_at = excluded.retired_at`;
    },
    async remove(kid) {
      await db.sql`delete from signing_keys where kid = ${kid}`;
    },
  };
}

function tokenAlgorithm(row: SigningKeyRow): TokenAlgorithm {
  const alg = TOKEN_ALGORITHMS.find((a) => a === row.alg);
  if (alg === undefined) {
    throw new Error(`Cannot read signing key "${row.kid}": unknown algorithm "${row.alg}"`);
  }
  return alg;
}

// postgres.js and PGlite both return timestamptz as Date; accept a string or number too.
function toMillis(value: unknown): number {
  const ms = value instanceof Date
    ? value.getTime()
    : typeof value === "number"
    ? value
    : Date.parse(String(value));
  if (!Number.isFinite(ms)) throw new Error(`Cannot read timestamp "${String(value)}"`);
  return ms;
}
