/**
 * How evenly two generators spread a "held rate" over time, seen from the server: a
 * `Deno.serve` (this process, pinned to the server core) notes when each request arrives while
 * autocannon at an `overallRate` and loadtest/_arrival.ts at the same rate (each pinned to the
 * load core, as run.ts runs them) send to it. Prints, per generator, how the arrivals fall into
 * 10 ms windows: the share of windows with none, the largest count in one, and the largest count
 * in a window against the held rate's mean (BENCHMARKS.md, "Session 8, P2 and P6: a held arrival
 * rate").
 *
 * `taskset -c 0 deno run -A loadtest/arrival_probe.ts [--rate 8000] [--seconds 5]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import { runArrival, runAutocannon } from "./run.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { rate: { type: "string", default: "8000" }, seconds: { type: "string", default: "5" } },
});
const rate = Number(values.rate);
const durationS = Number(values.seconds);

let arrivals: number[] = [];
const server = Deno.serve(
  { port: 0, hostname: "127.0.0.1", onListen() {} },
  () => {
    arrivals.push(performance.now());
    return Response.json({ ok: true });
  },
);
const url = `http://127.0.0.1:${server.addr.port}`;

/** Arrivals per 10 ms window over the middle of the run (the first and last second left out). */
function windows(times: number[]) {
  const from = times[0]! + 1000, to = times[times.length - 1]! - 1000;
  const counts = new Array(Math.max(1, Math.floor((to - from) / 10))).fill(0);
  for (const t of times) {
    const w = Math.floor((t - from) / 10);
    if (w >= 0 && w < counts.length) counts[w]++;
  }
  const mean = rate / 100;
  const empty = counts.filter((n) => n === 0).length / counts.length;
  const most = Math.max(...counts);
  return {
    windows: counts.length,
    meanPerWindow: mean,
    emptyShare: `${(empty * 100).toFixed(1)} %`,
    mostInOne: most,
    mostOverMean: (most / mean).toFixed(1),
  };
}

const job = { url, paths: ["/"], rate, durationS, connections: 50 };
const rows: Record<string, unknown> = {};
await runAutocannon(job);
rows["autocannon overallRate"] = windows(arrivals);
arrivals = [];
const held = await runArrival({ ...job, maxConnections: 500 });
rows["held arrival rate (_arrival.ts)"] = windows(arrivals);
console.log(
  `_arrival.ts sent ${held.requests} (${held.dropped} dropped), its send lag p50 ${
    held.sendLagMs.p50.toFixed(3)
  } ms, p99 ${held.sendLagMs.p99.toFixed(3)} ms, max ${held.sendLagMs.max.toFixed(1)} ms`,
);
console.table(rows);
await server.shutdown();
