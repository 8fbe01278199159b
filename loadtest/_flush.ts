/**
 * The disk's flush latency: 8 kB written at the start of a file and `fdatasync`ed, again and
 * again, as PostgreSQL's WAL is at each commit (pg_test_fsync's "one 8kB write"). A durable
 * protocol record cannot be faster than one such flush, and an entry that arrives while a
 * group commit flushes waits for that flush and its own: the floor under P6's added latency.
 *
 * @module
 */

/** Flush latency quantiles in ms, and flushes per second one after another. */
export interface FlushLatency {
  p50Ms: number;
  p99Ms: number;
  perS: number;
}

/** Measures `count` flushes in a temporary file of `dir`'s file system (default: `$TMPDIR`). */
export async function flushLatency(count = 300, dir?: string): Promise<FlushLatency> {
  const temp = await Deno.makeTempDir({ prefix: "lotse-flush-", dir });
  try {
    using file = await Deno.open(`${temp}/probe`, { create: true, read: true, write: true });
    const block = new Uint8Array(8192).fill(0x4c);
    const times: number[] = [];
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      file.seekSync(0, Deno.SeekMode.Start);
      file.writeSync(block);
      file.syncDataSync();
      times.push(performance.now() - t);
    }
    const total = performance.now() - started;
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
    return { p50Ms: at(0.5), p99Ms: at(0.99), perS: count / (total / 1000) };
  } finally {
    await Deno.remove(temp, { recursive: true });
  }
}
