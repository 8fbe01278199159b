import * as assert from "node:assert/strict";
import { erroredCount, parseLog, spreadClients, summarize } from "./_h2load.ts";

Deno.test("parseLog() reads h2load's tab-separated lines and refuses one it does not understand", () => {
  const log = parseLog("1700000000000000\t200\t181\n1700000000000050\t404\t95\textra\n");
  assert.deepEqual(log, [
    { startUs: 1700000000000000, status: 200, elapsedUs: 181 },
    { startUs: 1700000000000050, status: 404, elapsedUs: 95 },
  ]);
  assert.throws(() => parseLog("1700000000000000\t200\n"), /not understood/);
});

/** How many clients' phases fall into each 1 ms step of the interval, at most. */
function busiestMillisecond(rate: number, spread: { clients: number; stepMs: number }): number {
  const intervalMs = spread.clients * 1000 / rate;
  const counts = new Map<number, number>();
  for (let k = 0; k < spread.clients; k++) {
    const bin = Math.floor((k * spread.stepMs) % intervalMs);
    counts.set(bin, (counts.get(bin) ?? 0) + 1);
  }
  return Math.max(...counts.values());
}

Deno.test("spreadClients() starts clients so that every millisecond of an interval sends alike", () => {
  // 200 clients at 19.9k/s: 10.05 ms apart each, the offsets 0–199 ms fall 0.05 ms apart.
  const even = spreadClients(19_900, 200);
  assert.deepEqual(even, { clients: 200, stepMs: 1 });
  assert.ok(busiestMillisecond(19_900, even) <= 21);
  // At 20k/s, 200 clients 10 ms apart each send on ten phases, 20 at a time: h2load sends what
  // is due in millisecond steps anyway, so that is as even as it gets.
  const steps = spreadClients(20_000, 200);
  assert.deepEqual(steps, { clients: 200, stepMs: 1 });
  assert.ok(busiestMillisecond(20_000, steps) <= 20);
  // At 25k/s, 200 connections would each send 125 a second, faster than h2load's 10 ms timer
  // fires: more connections are taken, none more than 100 a second.
  const fast = spreadClients(25_054, 200);
  assert.ok(fast.clients >= 251 && fast.clients < 260, JSON.stringify(fast));
  assert.ok(fast.clients * 1000 / 25_054 >= 10);
  assert.ok(busiestMillisecond(25_054, fast) <= 26);
  // At 300/s, 200 clients 667 ms apart each, started 3 ms apart, would all have sent in the
  // first 600 ms of each interval and none in its last 67: they start 4 ms apart, round it.
  const slow = spreadClients(300, 200);
  assert.deepEqual(slow, { clients: 200, stepMs: 4 });
  assert.ok(busiestMillisecond(300, slow) <= 1, JSON.stringify(slow));
});

Deno.test("summarize() counts the measured window only, from the first send", () => {
  const t0 = 1_700_000_000_000_000;
  const log = [];
  // 1 s of warm-up at 1,000/s with slow answers, then 2 s at 1,000/s: every 100th answer a
  // 404, one none, answers 100 µs but for one of 30 ms (over the 10 ms interval of 10 clients).
  for (let i = 0; i < 3000; i++) {
    const warm = i < 1000;
    log.push({
      startUs: t0 + i * 1000,
      // h2load logs a request that got no answer with status -1.
      status: !warm && i % 100 === 0 ? 404 : i === 1234 ? -1 : 200,
      elapsedUs: warm ? 50_000 : i === 2500 ? 30_000 : 100,
    });
  }
  // Sent together with the one before: bunched.
  log.push({ startUs: t0 + 1500 * 1000 + 5, status: 200, elapsedUs: 200 });
  // After the window: not counted, however slow.
  log.push({ startUs: t0 + 3000 * 1000, status: -1, elapsedUs: 90_000 });
  const r = summarize(log.reverse(), { rate: 1000, durationS: 2, warmupS: 1, clients: 10 });
  assert.equal(r.requests, 2001);
  assert.equal(r.scheduled, 2000);
  assert.equal(r.intervalMs, 10);
  assert.equal(r.non2xx, 21);
  assert.equal(r.overInterval, 1);
  assert.equal(r.latencyMs.p50, 0.1);
  assert.equal(r.latencyMs.p999, 0.1);
  assert.equal(r.latencyMs.max, 30);
  assert.equal(r.sendSteps.bunchedShare, 1 / 2000);
  assert.equal(r.sendSteps.gapMaxMs, 1);
});

Deno.test("erroredCount() reads h2load's errored requests, not its failed ones", () => {
  // h2load counts a non-2xx/3xx answer as failed, and an errored request as failed and errored.
  const output = "finished in 12.19s, 19589.14 req/s, 3.18MB/s\n" +
    "requests: 238800 total, 238800 started, 238790 done, 238785 succeeded, 15 failed, " +
    "4 errored, 1 timeout\n";
  assert.equal(erroredCount(output), 4);
  assert.throws(() => erroredCount("connect failed"), /no summary/);
});
