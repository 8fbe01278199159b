/** The shared replay guard, against a real PostgreSQL: one claim wins across instances. */
import assert from "node:assert/strict";
import { ReplayCache } from "../crypto/mod.ts";
import { sharedReplayGuard } from "../db/replay_guard.ts";
import { freshPostgres } from "./_pg.ts";

Deno.test({
  name: "sharedReplayGuard() refuses a key another instance claimed, until it expires",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const db = await freshPostgres();
    try {
      const now = Date.now();
      const a = sharedReplayGuard(db, new ReplayCache());
      const b = sharedReplayGuard(db, new ReplayCache());
      assert.equal(await a.claim("client/jti-1", now + 60_000, now), "fresh");
      assert.equal(await a.claim("client/jti-1", now + 60_000, now), "replayed");
      assert.equal(await b.claim("client/jti-1", now + 60_000, now), "replayed");
      assert.equal(await b.claim("client/jti-2", now + 60_000, now), "fresh");
      // After expiry the key may be used again (its exp has passed, so the token is refused
      // for that reason anyway); the table does not grow without bound.
      const later = now + 120_000;
      assert.equal(await b.claim("client/jti-1", later + 60_000, later), "fresh");
      assert.equal(await a.purge(later + 120_000), 2);
    } finally {
      await db.close();
    }
  },
});

Deno.test("sharedReplayGuard() falls back to the local answer when PostgreSQL fails", async () => {
  const errors: unknown[] = [];
  const broken = { sql: () => Promise.reject(new Error("connection refused")) };
  const guard = sharedReplayGuard(broken, new ReplayCache(), { onError: (e) => errors.push(e) });
  const now = Date.now();
  assert.equal(await guard.claim("k", now + 1000, now), "fresh");
  assert.equal(await guard.claim("k", now + 1000, now), "replayed");
  assert.equal(errors.length, 1);
});
