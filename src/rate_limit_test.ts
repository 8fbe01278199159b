import assert from "node:assert/strict";
import {
  RateLimits,
  rateLimitValue,
  tightest,
  tooManyRequests,
  type Verdict,
} from "./rate_limit.ts";

Deno.test("RateLimits counts per key in fixed windows and refuses past the quota", () => {
  let now = 0;
  const limits = new RateLimits({
    windowMs: 60_000,
    token: 2,
    address: 0,
    client: 0,
    now: () => now,
  });
  assert.equal(limits.take("address", "a"), null);
  assert.equal(limits.take("token", "a")!.allowed, true);
  assert.equal(limits.take("token", "a")!.remaining, 0);
  const refused = limits.take("token", "a")!;
  assert.equal(refused.allowed, false);
  assert.equal(refused.resetSeconds, 60);
  assert.equal(limits.take("token", "b")!.allowed, true);
  now = 60_000;
  assert.equal(limits.take("token", "a")!.allowed, true);
});

Deno.test("a window begins at a key's first request: a clock minute's end does not reset it", () => {
  let now = 59_999;
  const limits = new RateLimits({
    windowMs: 60_000,
    token: 0,
    address: 2,
    client: 0,
    now: () => now,
  });
  assert.equal(limits.take("address", "a")!.allowed, true);
  now = 60_001;
  assert.equal(limits.take("address", "a")!.allowed, true);
  const third = limits.take("address", "a")!;
  assert.equal(third.allowed, false, "three requests in 2 ms are one window");
  assert.equal(third.resetSeconds, 60);
  now = 59_999 + 60_000;
  assert.equal(limits.take("address", "a")!.allowed, true, "a new window a minute after the first");
});

Deno.test("RateLimits keeps at most maxKeys counters and sweeps past windows", () => {
  let now = 0;
  const limits = new RateLimits({
    windowMs: 1000,
    token: 0,
    address: 5,
    client: 0,
    maxKeys: 3,
    now: () => now,
  });
  for (const key of ["a", "b", "c"]) assert.equal(limits.take("address", key)!.allowed, true);
  assert.equal(limits.take("address", "d")!.allowed, false);
  now = 1000;
  assert.equal(limits.take("address", "d")!.allowed, true);
});

Deno.test("tooManyRequests() is a 429 problem with Retry-After and RateLimit fields", async () => {
  const limits = new RateLimits({
    windowMs: 60_000,
    token: 1,
    address: 100,
    client: 0,
    now: () => 30_000,
  });
  limits.take("token", "x");
  const verdict = tightest(limits.take("address", "x"), limits.take("token", "x"))!;
  const res = tooManyRequests(limits, verdict);
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "60");
  assert.equal(res.headers.get("ratelimit-policy"), '"token";q=1;w=60, "address";q=100;w=60');
  assert.equal(res.headers.get("ratelimit"), '"token";r=0;t=60');
  assert.equal((await res.json()).type, "https://lotse.dev/problems/too-many-requests");
});

Deno.test("rateLimitValue() writes a count as its decimal digits, as String() does", () => {
  // A quota is at most 1,000,000,000 (src/config.ts), so a count is an integer from 0 to
  // 999,999,999.
  for (const remaining of [0, 1, 9, 10, 12_000, 60_000, 999_999_999]) {
    const verdict: Verdict = {
      quota: "client",
      allowed: true,
      limit: 1e9,
      remaining,
      resetSeconds: 60,
    };
    assert.equal(rateLimitValue(verdict), `"client";r=${String(remaining)};t=60`);
  }
});
