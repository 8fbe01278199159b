/**
 * Load side of P5's second half: `count` concurrent evidence transfers, each body read to its
 * end and counted. loadtest/_evidence.ts runs it pinned to the load core; it prints one line
 * `FANOUT_JSON {"transfers","failed","bytes","ms"}`.
 *
 * ```sh
 * deno run --allow-net loadtest/_fanout.ts '{"url":"…","headers":{…},"body":"…","count":100,"bytes":10485760}'
 * ```
 *
 * @module
 */

interface FanoutJob {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly count: number;
  /** Bytes each transfer must deliver. */
  readonly bytes: number;
}

async function one(job: FanoutJob): Promise<number> {
  const res = await fetch(job.url, { method: "POST", headers: job.headers, body: job.body });
  if (res.status !== 200 || res.body === null) {
    await res.body?.cancel();
    throw new Error(`Status ${res.status}`);
  }
  let bytes = 0;
  for await (const chunk of res.body) bytes += chunk.byteLength;
  if (bytes !== job.bytes) throw new Error(`Got ${bytes} of ${job.bytes} bytes`);
  return bytes;
}

if (import.meta.main) {
  const job = JSON.parse(Deno.args[0] ?? "{}") as FanoutJob;
  const started = performance.now();
  const results = await Promise.allSettled(Array.from({ length: job.count }, () => one(job)));
  const failed = results.filter((r) => r.status === "rejected");
  console.log(`FANOUT_JSON ${
    JSON.stringify({
      transfers: job.count,
      failed: failed.length,
      firstError: failed.length > 0 ? String((failed[0] as PromiseRejectedResult).reason) : null,
      bytes: results.reduce((sum, r) => sum + (r.status === "fulfilled" ? r.value : 0), 0),
      ms: performance.now() - started,
    })
  }`);
}
