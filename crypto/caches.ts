/**
 * Two bounded in-memory caches for the token path: a {@linkcode ReplayCache} that
 * remembers used `jti`s until they could no longer be accepted anyway, and a
 * {@linkcode TtlMap} that holds verified access tokens until they expire.
 *
 * Both take the current time as an argument, so tests drive the clock.
 *
 * @example
 * ```ts
 * import { ReplayCache } from "./caches.ts";
 * const replay = new ReplayCache({ maxEntries: 100_000 });
 * replay.claim("client-a\njti-1", Date.now() + 330_000, Date.now()); // "fresh"
 * replay.claim("client-a\njti-1", Date.now() + 330_000, Date.now()); // "replayed"
 * ```
 *
 * @module
 */

/** What {@linkcode ReplayGuard.claim} answers. `full`: the guard cannot remember more. */
export type ReplayClaim = "fresh" | "replayed" | "full";

/**
 * Remembers one-time identifiers. The in-memory {@linkcode ReplayCache} is one
 * implementation; a shared store (Postgres, for several instances) can be another.
 */
export interface ReplayGuard {
  /**
   * Records `key` until `expiresAt` (ms) and answers `fresh`, or `replayed` when the key
   * is already recorded and not yet expired.
   */
  claim(key: string, expiresAt: number, now: number): ReplayClaim | Promise<ReplayClaim>;
}

/** Options for {@linkcode ReplayCache}. */
export interface ReplayCacheOptions {
  /** Most keys held at once; beyond it new keys are refused as `full`. Default 100,000. */
  maxEntries?: number;
  /** How often expired keys are swept, at the latest. Default 10 s. */
  sweepIntervalMs?: number;
}

/**
 * An in-memory {@linkcode ReplayGuard}. When full it fails closed (`full`) rather than
 * forgetting a key early, because forgetting would reopen a replay window.
 */
export class ReplayCache implements ReplayGuard {
  #entries = new Map<string, number>();
  #maxEntries: number;
  #sweepIntervalMs: number;
  #lastSweep = -Infinity;

  constructor(options: ReplayCacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 10_000;
  }

  /** Number of keys held, expired ones not yet swept included. */
  get size(): number {
    return this.#entries.size;
  }

  claim(key: string, expiresAt: number, now: number): ReplayClaim {
    if (now - this.#lastSweep >= this.#sweepIntervalMs) this.sweep(now);
    const held = this.#entries.get(key);
    if (held !== undefined && held > now) return "replayed";
    if (held === undefined && this.#entries.size >= this.#maxEntries) {
      this.sweep(now);
      if (this.#entries.size >= this.#maxEntries) return "full";
    }
    this.#entries.set(key, expiresAt);
    return "fresh";
  }

  /** Drops every expired key; returns how many. */
  sweep(now: number): number {
    this.#lastSweep = now;
    let dropped = 0;
    for (const [key, expiresAt] of this.#entries) {
      if (expiresAt <= now) {
        this.#entries.delete(key);
        dropped++;
      }
    }
    return dropped;
  }
}

/** Options for {@linkcode TtlMap}. */
export interface TtlMapOptions {
  /** Most entries held at once; the oldest is evicted beyond it. Default 10,000. */
  maxEntries?: number;
}

interface TtlEntry<V> {
  readonly value: V;
  readonly expiresAt: number;
}

/**
 * A map whose entries expire, bounded in size. Eviction follows insertion order: entries
 * here all live about as long, so the oldest inserted is also about the first to expire.
 */
export class TtlMap<K, V> {
  #entries = new Map<K, TtlEntry<V>>();
  #maxEntries: number;

  constructor(options: TtlMapOptions = {}) {
    this.#maxEntries = Math.max(1, options.maxEntries ?? 10_000);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value for `key`, or `undefined` when absent or expired (then it is dropped). */
  get(key: K, now: number): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Stores `value` until `expiresAt` (ms), making room first when full. */
  set(key: K, value: V, expiresAt: number, now: number): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) this.#makeRoom(now);
    this.#entries.set(key, { value, expiresAt });
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  /** Drops every entry whose value matches; returns how many. */
  deleteWhere(predicate: (value: V, key: K) => boolean): number {
    let dropped = 0;
    for (const [key, entry] of this.#entries) {
      if (predicate(entry.value, key)) {
        this.#entries.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  clear(): void {
    this.#entries.clear();
  }

  #makeRoom(now: number): void {
    // Expired entries gather at the front; drop those, and the oldest live one if need be.
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt > now && this.#entries.size < this.#maxEntries) return;
      this.#entries.delete(key);
      if (entry.expiresAt > now) return;
    }
  }
}
