/**
 * Long synchronous work written once as a generator that yields at points where it may pause:
 * run to its end at once ({@linkcode runToEnd}: a start, a test), or in slices that give the
 * event loop a turn in between ({@linkcode runInSlices}: a reload while the instance serves,
 * whose requests would otherwise wait for all of it).
 *
 * @module
 */

/** Work that yields where it may pause and returns `T`. */
export type Steps<T> = Generator<void, T, void>;

/** Runs `steps` to its end without pausing. */
export function runToEnd<T>(steps: Steps<T>): T {
  let step = steps.next();
  while (!step.done) step = steps.next();
  return step.value;
}

/** How long one slice of work runs before the event loop gets a turn. */
const SLICE_MS = 10;

/** Runs `steps`, giving the event loop a turn (timers, I/O, requests) after every ~10 ms. */
export async function runInSlices<T>(steps: Steps<T>): Promise<T> {
  let start = performance.now();
  let step = steps.next();
  while (!step.done) {
    if (performance.now() - start >= SLICE_MS) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      start = performance.now();
    }
    step = steps.next();
  }
  return step.value;
}
