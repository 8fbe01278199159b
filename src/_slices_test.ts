import assert from "node:assert/strict";
import { runInSlices, runToEnd, type Steps } from "./_slices.ts";

/** Work of `steps` pieces of `ms` each, returning how many ran. */
function* busy(steps: number, ms: number): Steps<number> {
  for (let i = 0; i < steps; i++) {
    const until = performance.now() + ms;
    while (performance.now() < until) { /* work */ }
    yield;
  }
  return steps;
}

Deno.test("runInSlices() lets a timer run during long work; runToEnd() does not pause", async () => {
  let ticked = false;
  setTimeout(() => ticked = true, 0);
  assert.equal(runToEnd(busy(30, 1)), 30);
  assert.equal(ticked, false, "runToEnd gave the event loop a turn");

  let tickedDuring = false;
  let done = false;
  setTimeout(() => tickedDuring = !done, 0);
  assert.equal(await runInSlices(busy(30, 1)), 30);
  done = true;
  assert.equal(tickedDuring, true, "the timer ran only after the work");
});
