/**
 * The event loop's delay, sampled: a timer is due every few milliseconds and how late it runs
 * is what anything that becomes ready at that moment (a socket's answer, a resolved promise's
 * caller) waits for the task running then. Deno's `monitorEventLoopDelay` does not measure
 * (2.9.6: it reports ~0 across a 20 ms block), so this is the timer sampler Node's predates.
 *
 * @example
 * ```ts
 * const stop = sampleLoopDelay((ms) => metrics.observeLoopDelay(ms));
 * // on shutdown
 * stop();
 * ```
 *
 * @module
 */

/** Options for {@linkcode sampleLoopDelay}. */
export interface LoopDelayOptions {
  /** Time between samples; default 5 ms. */
  intervalMs?: number;
}

/**
 * Calls `onSample` with how many milliseconds late each due timer ran, until the returned
 * function is called. The timer does not keep the process alive.
 */
export function sampleLoopDelay(
  onSample: (delayMs: number) => void,
  options: LoopDelayOptions = {},
): () => void {
  const interval = options.intervalMs ?? 5;
  let due = performance.now() + interval;
  const schedule = () => {
    const timer = setTimeout(tick, interval);
    Deno.unrefTimer(timer);
    return timer;
  };
  const tick = () => {
    const now = performance.now();
    onSample(Math.max(0, now - due));
    due = now + interval;
    timer = schedule();
  };
  let timer = schedule();
  return () => clearTimeout(timer);
}
