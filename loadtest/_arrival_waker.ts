/**
 * The held-rate generator's alarm clock, a worker of loadtest/_arrival.ts: given the schedule,
 * it sleeps in `Atomics.wait` until `leadMs` before each request's due time and then posts the
 * request's index, so the generator's thread sleeps between requests instead of spinning. A
 * timed `Atomics.wait` here wakes the generator ~0.1–0.2 ms after the time asked (p50, measured
 * on these machines), where Deno's timers fire 1–3 ms late. Setting `stop[0]` to 1 (and
 * notifying it) ends the schedule early.
 *
 * @module
 */
/** The schedule: request `i` is due at `startMs + i * intervalMs` (`performance.timeOrigin` + `now()`). */
export interface WakerPlan {
  startMs: number;
  intervalMs: number;
  leadMs: number;
  total: number;
  /** One `Int32`: 1 stops the schedule. */
  stop: SharedArrayBuffer;
}

/** The worker's own scope (this file is checked with the main program's types). */
const scope = self as unknown as {
  onmessage: (event: MessageEvent<WakerPlan>) => void;
  postMessage(message: unknown): void;
};

scope.onmessage = (event) => {
  const { startMs, intervalMs, leadMs, total } = event.data;
  const stop = new Int32Array(event.data.stop);
  for (let i = 0; i < total && Atomics.load(stop, 0) === 0; i++) {
    const wait = startMs + i * intervalMs - leadMs - (performance.timeOrigin + performance.now());
    if (wait > 0) Atomics.wait(stop, 0, 0, wait);
    scope.postMessage(i);
  }
};
scope.postMessage("ready");
