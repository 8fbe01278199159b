/**
 * Rate limits per source address and per client, in fixed windows that begin at a key's first
 * request (not at clock boundaries, so requests a moment apart share one window), with the IETF
 * `RateLimit-Policy` / `RateLimit` header fields (draft-ietf-httpapi-ratelimit-headers) and
 * `Retry-After` on a 429. Three quotas, each off at 0:
 *
 * - `token`: `POST /v1/token` per source address and per `client_id` named in the form (bad
 *   assertions are the cheapest thing to throw at Lotse);
 * - `address`: every request per source address;
 * - `client`: every authenticated request per client (known from its cached access token).
 *
 * State is a counter per key with its window's start; keys of past windows are swept, and the map
 * never holds more than `maxKeys` (a new key beyond is refused until a sweep makes room).
 *
 * @example
 * ```ts
 * const limits = new RateLimits({ windowMs: 60_000, token: 60, address: 0, client: 0 });
 * const verdict = limits.take("token", "address:203.0.113.7");
 * if (!verdict.allowed) return tooMany(verdict);
 * ```
 *
 * @module
 */
import { problemResponse } from "./problem.ts";

/** The quotas: requests per window; 0 turns a quota off. */
export interface RateLimitOptions {
  readonly windowMs: number;
  readonly token: number;
  readonly address: number;
  readonly client: number;
  /** Most counters kept at once; default 100,000. */
  readonly maxKeys?: number;
  readonly now?: () => number;
}

/** Which quota a request is counted against. */
export type Quota = "token" | "address" | "client";

/** The outcome of counting one request. */
export interface Verdict {
  readonly quota: Quota;
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** Seconds until the window resets (at least 1). */
  readonly resetSeconds: number;
}

interface Counter {
  /** When this key's current window began (its first request in it). */
  start: number;
  count: number;
}

/** The rate limits of one instance. */
export class RateLimits {
  readonly #options: RateLimitOptions;
  // One map per quota, keyed by the key itself: a key made by joining quota and key would be a
  // fresh string on every request, hashed anew at each lookup.
  readonly #counters: Readonly<Record<Quota, Map<string, Counter>>> = {
    token: new Map(),
    address: new Map(),
    client: new Map(),
  };
  readonly #maxKeys: number;
  readonly #now: () => number;
  #sweptAt = -Infinity;
  #policy: string | undefined;

  constructor(options: RateLimitOptions) {
    this.#options = options;
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  /** Whether any quota is on. */
  get enabled(): boolean {
    return this.#options.token > 0 || this.#options.address > 0 || this.#options.client > 0;
  }

  /** Whether `quota` is on. */
  on(quota: Quota): boolean {
    return this.#options[quota] > 0;
  }

  /** Counts one request of `key` against `quota`; null when the quota is off. */
  take(quota: Quota, key: string): Verdict | null {
    const limit = this.#options[quota];
    if (limit <= 0) return null;
    const now = this.#now();
    const { windowMs } = this.#options;
    const counters = this.#counters[quota];
    let counter = counters.get(key);
    if (counter === undefined) {
      if (this.#size() >= this.#maxKeys) this.#sweep(now);
      if (this.#size() >= this.#maxKeys) {
        return {
          quota,
          allowed: false,
          limit,
          remaining: 0,
          resetSeconds: 1, // the table of keys is full: a second, whatever the window
        };
      }
      counter = { start: now, count: 0 };
      counters.set(key, counter);
    } else if (now - counter.start >= windowMs) {
      counter.start = now;
      counter.count = 0;
    }
    const resetSeconds = Math.max(1, Math.ceil((counter.start + windowMs - now) / 1000));
    counter.count++;
    return {
      quota,
      allowed: counter.count <= limit,
      limit,
      remaining: Math.max(0, limit - counter.count),
      resetSeconds,
    };
  }

  #size(): number {
    const { token, address, client } = this.#counters;
    return token.size + address.size + client.size;
  }

  // Drops the counters whose window has passed; at most once a second (or window), so a
  // full map of live keys does not cost a sweep per request.
  #sweep(now: number): void {
    const { windowMs } = this.#options;
    if (now - this.#sweptAt < Math.min(windowMs, 1000)) return;
    this.#sweptAt = now;
    for (const counters of Object.values(this.#counters)) {
      for (const [key, counter] of counters) {
        if (now - counter.start >= windowMs) counters.delete(key);
      }
    }
  }

  /** The `RateLimit-Policy` field value of the quotas that are on. */
  policy(): string {
    // The options never change: made once, not on every response.
    return this.#policy ??= this.#makePolicy();
  }

  #makePolicy(): string {
    const seconds = Math.round(this.#options.windowMs / 1000);
    return (["token", "address", "client"] as const)
      .filter((quota) => this.#options[quota] > 0)
      .map((quota) => `"${quota}";q=${this.#options[quota]};w=${seconds}`)
      .join(", ");
  }
}

/** The tighter of two verdicts (the first refusal, else the one with less remaining). */
export function tightest(a: Verdict | null, b: Verdict | null): Verdict | null {
  if (a === null) return b;
  if (b === null || !a.allowed) return a;
  if (!b.allowed) return b;
  return b.remaining < a.remaining ? b : a;
}

/**
 * The `RateLimit` field value of `verdict`. `remaining` is written with `toFixed(0)`, not as
 * `${remaining}`: V8 keeps every integer it turns into a string in its number-string cache, so
 * a count that differs on every request left a string per request alive through two minor
 * collections into the old generation, ~32 bytes of garbage per answer there that only a major
 * collection frees (BENCHMARKS.md, "Session 15, P2"). `toFixed` makes its string outside the cache.
 */
export function rateLimitValue(verdict: Verdict): string {
  return `"${verdict.quota}";r=${verdict.remaining.toFixed(0)};t=${verdict.resetSeconds}`;
}

/** Sets `RateLimit-Policy` and `RateLimit` on `headers`. */
export function setRateLimitHeaders(headers: Headers, limits: RateLimits, verdict: Verdict): void {
  headers.set("ratelimit-policy", limits.policy());
  headers.set("ratelimit", rateLimitValue(verdict));
}

/** The 429 problem for a refused verdict, with `Retry-After` and the rate-limit fields. */
export function tooManyRequests(limits: RateLimits, verdict: Verdict): Response {
  const response = problemResponse(
    "too-many-requests",
    `Rate limit "${verdict.quota}" of ${verdict.limit} requests per window reached`,
    { headers: { "retry-after": String(verdict.resetSeconds) } },
  );
  setRateLimitHeaders(response.headers, limits, verdict);
  return response;
}
