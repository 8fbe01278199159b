import assert from "node:assert/strict";
import { sampleLoopDelay } from "./loop_delay.ts";

Deno.test("sampleLoopDelay() reports a blocked event loop as one late sample", async () => {
  const samples: number[] = [];
  let seen: (() => void) | null = null;
  const stop = sampleLoopDelay((ms) => {
    samples.push(ms);
    if (ms >= 40) seen?.();
  }, { intervalMs: 2 });
  // The sampler's timer does not keep the process alive: this one does while the test waits
  // (without it, a run under load could find nothing pending but the unref'd timer and end).
  const alive = setTimeout(() => {}, 10_000);
  try {
    // A few ordinary samples first, then 60 ms of synchronous work.
    await new Promise((r) => setTimeout(r, 20));
    const late = new Promise<void>((resolve) => seen = resolve);
    const end = performance.now() + 60;
    while (performance.now() < end) { /* the loop is blocked */ }
    await late;
    assert.ok(samples.length >= 2);
    assert.ok(Math.max(...samples) >= 40, `samples: ${samples.join(", ")}`);
  } finally {
    stop();
    clearTimeout(alive);
  }
});
