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
    machine: machine(),
    ...data,
  };
  await Deno.writeTextFile(`${ROOT}${path}`, resultText(record));
  return path;
}

/** The machine a figure was measured on: what moves the figures when the machine changes. */
export interface Machine {
  /** The CPU's model name, family and model, from /proc/cpuinfo; null where there is none. */
  readonly cpu: string | null;
  /** Of the CPU's flags, those that set the speed of hashing and signing (SHA-NI, AVX…). */
  readonly flags: string[];
  /** The machine's cores (cpuinfo's processors), not those a pinned process may use. */
  readonly cores: number;
  /** The kernel's release. */
  readonly kernel: string;
}

const SPEED_FLAGS = ["sha_ni", "aes", "vaes", "avx2", "avx512f", "bmi2", "adx"];

/**
 * The machine, from `cpuinfo` (default: /proc/cpuinfo, where it can be read). Session 12's
 * machine hashed SHA-256 about 1.4–1.5 times as fast as session 11's, and only the figures said
 * so.
 */
export function machine(cpuinfo: string | null = readCpuinfo()): Machine {
  // A field of the first processor: "name<tabs or spaces>: value", never across a line.
  const field = (name: string) =>
    cpuinfo?.match(new RegExp(`^${name}[ \\t]*:[ \\t]*(.*)$`, "m"))?.[1]?.trim() || null;
  const processors = cpuinfo?.match(/^processor[ \t]*:/gm)?.length ?? 0;
  const model = field("model name");
  const have = new Set((field("flags") ?? "").split(/\s+/));
  return {
    cpu: model === null
      ? null
      : `${model} (family ${field("cpu family")}, model ${field("model")})`,
    flags: SPEED_FLAGS.filter((f) => have.has(f)),
    cores: processors > 0 ? processors : navigator.hardwareConcurrency,
    kernel: Deno.osRelease(),
  };
}

function readCpuinfo(): string | null {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo");
  } catch {
    return null;
  }
}

/** A result as the file holds it: JSON as `deno fmt` writes it (two spaces, final newline). */
export function resultText(record: Record<string, unknown>): string {
  return JSON.stringify(record, null, 2) + "\n";
}
