/**
 * A {@linkcode ReplayGuard} shared by every instance through PostgreSQL: the first instance to
 * insert a key wins, every later claim of it is a replay. The in-memory cache answers repeats
 * on this instance without a round trip; when PostgreSQL cannot be reached, the in-memory
 * answer stands alone (then a replay on another instance is possible until PostgreSQL is
 * back, which the operator sees in the log).
 *
 * @module
 */
import { type ReplayClaim, type ReplayGuard } from "../crypto/mod.ts";
import type { Queryable } from "./types.ts";

/** Options for {@linkcode sharedReplayGuard}. */
export interface SharedReplayGuardOptions {
  /** Told when PostgreSQL cannot be asked and the local answer is used. */
  onError?: (error: unknown) => void;
}

/** Wraps `local` so claims are also recorded in PostgreSQL. */
export function sharedReplayGuard(
  db: Queryable,
  local: ReplayGuard,
  options: SharedReplayGuardOptions = {},
): ReplayGuard & { purge(now: number): Promise<number> } {
  return {
    async claim(key: string, expiresAt: number, now: number): Promise<ReplayClaim> {
      const mine = await local.claim(key, expiresAt, now);
      if (mine !== "fresh") return mine;
      try {
        const rows = await db.sql`
          insert into used_jtis (key, expires_at) values (${key}, ${new Date(expiresAt)})
          on conflict (key) do update set expires_at = excluded.expires_at
            where used_jtis.expires_at <= ${new Date(now)}
          returning 1`;
        return rows.length === 1 ? "fresh" : "replayed";
      } catch (error) {
        options.onError?.(error);
        return mine;
      }
    },
    async purge(now: number): Promise<number> {
      const rows = await db.sql`
        delete from used_jtis where expires_at <= ${new Date(now)} returning 1`;
      return rows.length;
    },
  };
}
