/**
 * Waiting on an event instead of a clock: {@linkcode waitFor} polls a condition until it
 * holds. Its deadline is a failure cap for a condition that never comes true, never a window a
 * correct run has to fit in; so it is long (30 s by default) and a passing run never reaches it.
 *
 * @example
 * ```ts
 * const record = await waitFor(async () => {
 *   const r = await (await fetch(url)).json();
 *   return r.outcome === "delivered" ? r : null;
 * }, "the transfer's outcome");
 * ```
 *
 * @module
 */

/** Options for {@linkcode waitFor}. */
export interface WaitOptions {
  /** Give up (and throw) after this long; default 30 s. */
  timeoutMs?: number;
  /** Pause between probes; default 10 ms. */
  intervalMs?: number;
}

/**
 * Polls `probe` until it returns a value other than `null`, `undefined` or `false`, and
 * returns that value. Throws naming `what` when the deadline passes first.
 */
export async function waitFor<T>(
  probe: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  what: string,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined && value !== false) return value;
    if (performance.now() > deadline) {
      throw new Error(`Gave up after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 10));
  }
}
