/**
 * Whether PostgreSQL can be reached, as this instance last saw it. Every part that talks to
 * the database reports here; a change of state is logged once (not every failed poll), and
 * `/readyz` shows the state with its reason.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const health = new DbHealth({ logger: createLogger() });
 * health.down("ECONNREFUSED"); // logs once
 * health.down("ECONNREFUSED"); // silent
 * health.up(); // logs once
 * ```
 *
 * @module
 */
import type { Logger } from "./log.ts";

/** What {@linkcode DbHealth} reports. */
export interface DbState {
  readonly up: boolean;
  /** Why it is down; null while up. */
  readonly reason: string | null;
  /** Since when (epoch ms). */
  readonly since: number;
}

/** Options for {@linkcode DbHealth}. */
export interface DbHealthOptions {
  /** Where state changes go; one line each. Default: nowhere. */
  logger?: Pick<Logger, "warn" | "info">;
  now?: () => number;
}

/** The database's reachability, changed by reports from its users. */
export class DbHealth {
  #state: DbState;
  #logger: Pick<Logger, "warn" | "info"> | null;
  #now: () => number;
  #listeners: ((state: DbState) => void)[] = [];
  #failures = 0;

  constructor(options: DbHealthOptions = {}) {
    this.#logger = options.logger ?? null;
    this.#now = options.now ?? Date.now;
    this.#state = { up: true, reason: null, since: this.#now() };
  }

  get state(): DbState {
    return this.#state;
  }

  /** How many failures were reported in all (each failed poll or query counts). */
  get failures(): number {
    return this.#failures;
  }

  /** Reports the database unreachable; logs only when it was up. */
  down(reason: string): void {
    this.#failures++;
    if (!this.#state.up) return;
    this.#state = { up: false, reason, since: this.#now() };
    this.#logger?.warn("PostgreSQL unreachable: serving from memory, retrying", { reason });
    for (const listener of this.#listeners) listener(this.#state);
  }

  /** Reports the database reachable; logs only when it was down. */
  up(): void {
    if (this.#state.up) return;
    const downSeconds = Math.round(this.#now() - this.#state.since) / 1000;
    this.#state = { up: true, reason: null, since: this.#now() };
    this.#logger?.info("PostgreSQL reachable again", { downSeconds });
    for (const listener of this.#listeners) listener(this.#state);
  }

  /** Calls `listener` on every change of state. */
  onChange(listener: (state: DbState) => void): void {
    this.#listeners.push(listener);
  }
}
