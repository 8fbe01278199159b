/**
 * Whether PostgreSQL can be reached, as this instance last saw it. Every part that talks to
 * the database reports here; a change of state is logged once (not every failed poll), and
 * `/readyz` shows the state with its reason.
 *
 * @example
 * ```ts
 * const health = new DbHealth({ log: console.log });
 * health.down("ECONNREFUSED"); // logs once
 * health.down("ECONNREFUSED"); // silent
 * health.up(); // logs once
 * ```
 *
 * @module
 */

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
  /** Where state changes go; one line each. */
  log?: (message: string) => void;
  now?: () => number;
}

/** The database's reachability, changed by reports from its users. */
export class DbHealth {
  #state: DbState;
  #log: (message: string) => void;
  #now: () => number;
  #listeners: ((state: DbState) => void)[] = [];
  #failures = 0;

  constructor(options: DbHealthOptions = {}) {
    this.#log = options.log ?? ((m) => console.log(m));
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
    this.#log(`PostgreSQL unreachable (${reason}): serving from memory, retrying`);
    for (const listener of this.#listeners) listener(this.#state);
  }

  /** Reports the database reachable; logs only when it was down. */
  up(): void {
    if (this.#state.up) return;
    const seconds = ((this.#now() - this.#state.since) / 1000).toFixed(1);
    this.#state = { up: true, reason: null, since: this.#now() };
    this.#log(`PostgreSQL reachable again after ${seconds} s`);
    for (const listener of this.#listeners) listener(this.#state);
  }

  /** Calls `listener` on every change of state. */
  onChange(listener: (state: DbState) => void): void {
    this.#listeners.push(listener);
  }
}
