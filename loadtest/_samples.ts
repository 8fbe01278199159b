/**
 * Latency samples of the load generators (loadtest/_arrival.ts, loadtest/_autocannon.ts): every
 * response's own float duration, kept in a growable typed array, and exact percentiles of them.
 *
 * @module
 */

/** The `p`th percentile (0–100) of ascending `sorted`: the smallest value at or above it. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

/** A growable list of float samples. */
export class Samples {
  #data = new Float64Array(1 << 16);
  #n = 0;
  push(x: number): void {
    if (this.#n === this.#data.length) {
      const grown = new Float64Array(this.#data.length * 2);
      grown.set(this.#data);
      this.#data = grown;
    }
    this.#data[this.#n++] = x;
  }
  /** A sorted copy. */
  sorted(): Float64Array {
    return this.#data.slice(0, this.#n).sort();
  }
}
