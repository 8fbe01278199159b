/**
 * Caps on concurrent evidence transfers, per consumer and in total: a transfer holds a
 * provider connection and buffers, so no consumer, careless or hostile, may hold an unbounded
 * number. Past a cap the request is answered 429 with `Retry-After` before anything is
 * decided or recorded.
 *
 * @example
 * ```ts
 * const caps = new TransferCaps({ total: 1000, perConsumer: 100 });
 * const release = caps.acquire("stuttgart-bewohnerparken");
 * if (release === null) return tooMany();
 * result.done.finally(release);
 * ```
 *
 * @module
 */

/** The caps; 0 turns one off. */
export interface TransferCapsOptions {
  readonly total: number;
  readonly perConsumer: number;
}

/** Counts running transfers. */
export class TransferCaps {
  readonly #options: TransferCapsOptions;
  readonly #byConsumer = new Map<string, number>();
  #total = 0;

  constructor(options: TransferCapsOptions) {
    this.#options = options;
  }

  /** Transfers running now. */
  get running(): number {
    return this.#total;
  }

  /**
   * Takes a place for one transfer of `consumerId`: a function that gives it back (call it
   * once, when the transfer has ended), or null when a cap is reached.
   */
  acquire(consumerId: string): (() => void) | null {
    const { total, perConsumer } = this.#options;
    const mine = this.#byConsumer.get(consumerId) ?? 0;
    if ((total > 0 && this.#total >= total) || (perConsumer > 0 && mine >= perConsumer)) {
      return null;
    }
    this.#total++;
    this.#byConsumer.set(consumerId, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = (this.#byConsumer.get(consumerId) ?? 1) - 1;
      if (left === 0) this.#byConsumer.delete(consumerId);
      else this.#byConsumer.set(consumerId, left);
    };
  }
}
