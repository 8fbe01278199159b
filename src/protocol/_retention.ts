/**
 * Retention of the protocol log: entries are kept two years (§ 9 IDNrG), then purged.
 *
 * @module
 */
import type { Db } from "../../db/types.ts";
import { purge } from "./_queries.ts";
import { createLogger } from "../log.ts";

/** Options for {@linkcode startRetention}. */
export interface RetentionOptions {
  /** Default 730 (two years). */
  retentionDays?: number;
  /** Between purges; default one hour. The first purge runs at once. */
  intervalMs?: number;
  /** Default `() => new Date()`. */
  clock?: () => Date;
  /** Told how many entries a purge deleted. */
  onPurged?: (deleted: number) => void;
  /** Default: logged as an error by a default logger. */
  onError?: (error: unknown) => void;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Purges entries older than the retention now and then every interval. Several instances may
 * run it: purges take the chain's lock and so run one after another.
 *
 * @returns a function that stops the schedule and waits for a running purge
 *
 * @example
 * ```ts
 * const stop = startRetention(db, { retentionDays: config.protocolRetentionDays });
 * // on shutdown:
 * await stop();
 * ```
 */
export function startRetention(db: Db, options: RetentionOptions = {}): () => Promise<void> {
  const days = options.retentionDays ?? 730;
  const clock = options.clock ?? (() => new Date());
  const onError = options.onError ??
    ((error) => createLogger().error("Protocol retention failed", { error }));
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    running = running.then(async () => {
      try {
        const deleted = await purge(db, { olderThan: new Date(clock().getTime() - days * DAY_MS) });
        options.onPurged?.(deleted);
      } catch (error) {
        onError(error);
      }
    });
  };
  tick();
  const timer = setInterval(tick, options.intervalMs ?? 60 * 60 * 1000);
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
