/**
 * Raw benchmark results, committed beside BENCHMARKS.md: every scenario writes one small JSON
 * file to `loadtest/results/<name>.json` (the latest run; git keeps the earlier ones), with
 * the command that made it, the machine's context and the raw figures, so every figure in
 * BENCHMARKS.md can be checked from the repository.
 *
 * @example
 * ```ts
 * await writeResult("protocol", { command: "deno run -A loadtest/protocol_bench.ts --load", result });
 * ```
 *
 * @module
 */

/** Where the results live, relative to the repository root. */
export const RESULTS_DIR = "loadtest/results";

const ROOT = new URL("../", import.meta.url).pathname;

/** Percentiles of latencies in ms (sorted ascending inside). */
export function latencySummary(latencies: number[]): Record<string, number> {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
  return { n: sorted.length, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: at(1) };
}

/** Writes `data` (plus when and with which Deno) to `loadtest/results/<name>.json`; its path. */
export async function writeResult(name: string, data: Record<string, unknown>): Promise<string> {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`Cannot name a result "${name}"`);
  await Deno.mkdir(`${ROOT}${RESULTS_DIR}`, { recursive: true });
  const path = `${RESULTS_DIR}/${name}.json`;
  const record = {
    name,
    at: new Date().toISOString(),
    deno: Deno.version.deno,
    loadAverage: Deno.loadavg(),
    ...data,
  };
  await Deno.writeTextFile(`${ROOT}${path}`, resultText(record));
  return path;
}

/** A result as the file holds it: JSON as `deno fmt` writes it (two spaces, final newline). */
export function resultText(record: Record<string, unknown>): string {
  return JSON.stringify(record, null, 2) + "\n";
}
