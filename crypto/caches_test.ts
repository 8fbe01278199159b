import assert from "node:assert/strict";
import { ReplayCache, TtlMap } from "./caches.ts";

Deno.test("ReplayCache refuses a key it has seen until the key expires", () => {
  const cache = new ReplayCache();
  assert.equal(cache.claim("a", 2_000, 1_000), "fresh");
  assert.equal(cache.claim("a", 2_000, 1_500), "replayed");
  assert.equal(cache.claim("b", 2_000, 1_500), "fresh");
  assert.equal(cache.claim("a", 9_000, 2_000), "fresh");
});

Deno.test("ReplayCache sweeps expired keys so memory stays bounded", () => {
  const cache = new ReplayCache({ sweepIntervalMs: 1_000 });
  for (let i = 0; i < 100; i++) cache.claim(`k${i}`, 1_500, 1_000);
  assert.equal(cache.size, 100);
  cache.claim("late", 5_000, 2_000);
  assert.equal(cache.size, 1);
});

Deno.test("ReplayCache answers full instead of forgetting a live key", () => {
  const cache = new ReplayCache({ maxEntries: 2, sweepIntervalMs: 1e9 });
  assert.equal(cache.claim("a", 10_000, 0), "fresh");
  assert.equal(cache.claim("b", 10_000, 0), "fresh");
  assert.equal(cache.claim("c", 10_000, 1), "full");
  assert.equal(cache.claim("a", 10_000, 1), "replayed");
  // Once a key expires there is room again.
  assert.equal(cache.claim("c", 20_000, 10_000), "fresh");
});

Deno.test("TtlMap returns a value until it expires", () => {
  const map = new TtlMap<string, number>();
  map.set("x", 1, 2_000, 1_000);
  assert.equal(map.get("x", 1_999), 1);
  assert.equal(map.get("x", 2_000), undefined);
  assert.equal(map.size, 0);
});

Deno.test("TtlMap evicts expired entries first, then the oldest live one", () => {
  const map = new TtlMap<string, number>({ maxEntries: 3 });
  map.set("old", 1, 1_500, 1_000);
  map.set("a", 2, 9_000, 1_000);
  map.set("b", 3, 9_000, 1_000);
  map.set("c", 4, 9_000, 2_000);
  assert.equal(map.size, 3);
  assert.equal(map.get("a", 2_000), 2);
  map.set("d", 5, 9_000, 2_000);
  assert.equal(map.size, 3);
  assert.equal(map.get("a", 2_000), undefined);
  assert.equal(map.get("d", 2_000), 5);
});

Deno.test("TtlMap.deleteWhere() drops the matching entries only", () => {
  const map = new TtlMap<string, { client: string }>();
  map.set("t1", { client: "a" }, 9_000, 0);
  map.set("t2", { client: "b" }, 9_000, 0);
  map.set("t3", { client: "a" }, 9_000, 0);
  assert.equal(map.deleteWhere((v) => v.client === "a"), 2);
  assert.equal(map.get("t2", 0)?.client, "b");
  assert.equal(map.size, 1);
});
