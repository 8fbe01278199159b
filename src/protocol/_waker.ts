/**
 * Small waiting helpers for the writer's loops.
 *
 * @module
 */

/** A loop's pause that ends after a time or as soon as someone calls {@linkcode Waker.wake}. */
export class Waker {
  #wake: (() => void) | null = null;

  /** Waits up to `ms` (forever for `Infinity`), or until woken. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => done(), Math.max(ms, 0)) : undefined;
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      this.#wake = done;
    });
  }

  /** Ends the current pause, if any. */
  wake(): void {
    this.#wake?.();
  }
}

/** `promise`, or a rejection when it takes longer than `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  promise.catch(() => {}); // it may still fail after the timeout; nobody listens then
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Cannot ${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** A mutex over async sections: each runs after the previous one settled. */
export class Serial {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => {});
    return result;
  }
}
