/**
 * Bytes V8 allocates per navigation request in Lotse's served handler, in process (no socket):
 * the whole handler as `deno task serve` runs it (edge, rate limits, fast path, answer fields,
 * request line), and the request line alone. Requests are made beforehand; each figure is the
 * least of five rounds of 20,000 requests, from `v8.getHeapStatistics().total_allocated_bytes`.
 * Scavenges come every few MiB allocated (BENCHMARKS.md, "Session 8, P2 and P1").
 *
 * `deno run -A routes/navigation_alloc_bench.ts`
 *
 * @module
 */
import v8 from "node:v8";
import { benchApp, navigationUrls } from "./_served_bench.ts";
import { RequestLog } from "../src/request_log.ts";
import { createLogger } from "../src/log.ts";

const N = 20_000;
const { generated, token, info, handler, requestFacts } = await benchApp();
const requests = navigationUrls(generated, N).map((url) =>
  new Request(url, { headers: { authorization: `Bearer ${token}`, host: "lotse.test" } })
);
// Reported by Deno 2.9.6's V8, not yet in @types/node's HeapInfo.
const allocated = () =>
  (v8.getHeapStatistics() as unknown as { total_allocated_bytes: number }).total_allocated_bytes;

/** The least bytes per call of `fn` over five rounds (results kept, so nothing is elided). */
function bytesPerCall(fn: (i: number) => unknown): number {
  for (let i = 0; i < N; i++) fn(i);
  let least = Infinity;
  for (let round = 0; round < 5; round++) {
    const kept: unknown[] = new Array(N);
    const before = allocated();
    for (let i = 0; i < N; i++) kept[i] = fn(i);
    least = Math.min(least, (allocated() - before) / N);
  }
  return least;
}

// The first request of a token takes the app's path and caches it; the rest take the fast path.
for (const request of requests.slice(0, 10)) await handler.fetch(request.clone(), info);
const fast = handler.fetch(requests[0]!.clone(), info);
if (!(fast instanceof Response) || fast.status !== 200) throw new Error("Not the fast path");

const lines = new RequestLog(createLogger({ level: "info", write: () => {} }));
console.table({
  "served handler, whole": {
    bytes: Math.round(bytesPerCall((i) => handler.fetch(requests[i]!, info))),
  },
  "request line alone": {
    bytes: Math.round(bytesPerCall((i) => lines.write(requests[i]!, fast, 0.1234, requestFacts))),
  },
});
