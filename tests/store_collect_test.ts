/**
 * After tables were read whole, the table store asks for one garbage collection a moment
 * later (src/store.ts): the old snapshot is returned instead of waiting for V8's own full
 * collection. A change applied row by row asks for none, nor does the first load. The
 * collection stops the instance, so it waits while requests come in.
 */
import assert from "node:assert/strict";
import { freshPostgres } from "./pg.ts";
import { putRow } from "../db/tables.ts";
import { seedTables } from "../db/seed.ts";
import { TableStore } from "../src/store.ts";
import type { Route } from "../src/model.ts";
import { waitFor } from "./_wait.ts";
import type { Db } from "../db/types.ts";

const until = (what: string, ok: () => boolean) => waitFor(ok, what);

const ROUTE: Route = {
  id: "r-1",
  evidenceType: "meldebescheinigung",
  regionKey: "08111000",
  providerId: "melde-stuttgart",
};

/** The tables with one route, written whole. */
async function seedOneRoute(db: Db): Promise<void> {
  await seedTables(db, {
    regions: [{ ags: "08111000", ars: "081110000000", name: "Stuttgart" }],
    evidenceTypes: [{ id: ROUTE.evidenceType, name: "Meldebescheinigung", description: null }],
    providers: [{
      id: ROUTE.providerId,
      name: "Meldebehörde Stuttgart",
      endpoint: "https://melde.example/api",
      caCert: null,
    }],
    routes: [ROUTE],
  }, { replace: true });
}

/**
 * `store` loaded with one route, then the routes table replaced whole and read again: the
 * collection of the replaced snapshot is pending.
 */
async function reloadedWhole(db: Db, store: TableStore): Promise<void> {
  await seedOneRoute(db);
  await store.load();
  await seedTables(db, { routes: [{ ...ROUTE, id: "r-2" }] }, { replace: true });
  await store.sync();
  assert.equal(store.collectionPending, true);
}

/** Replaces `globalThis.gc` with a counter until `restore()`. */
function countCollections(): { readonly count: number; restore(): void } {
  const global = globalThis as { gc?: () => void };
  const before = global.gc;
  let count = 0;
  global.gc = () => count++;
  return {
    get count() {
      return count;
    },
    restore: () => global.gc = before,
  };
}

/**
 * The instance's requests as the store sees them (src/serve.ts counts them; its own test shows
 * when a request begins and runs), counting the store's looks: every look is an event a test
 * can wait for.
 */
function lookedAtActivity() {
  const activity = {
    looks: 0,
    begun: 0,
    running: 0,
    quietSince(mark: number) {
      activity.looks++;
      return activity.begun === mark && activity.running === 0;
    },
  };
  return activity;
}

Deno.test("a whole-table reload is followed by one collection; a row change and the first load by none", async () => {
  const db = await freshPostgres();
  const gc = countCollections();
  const store = new TableStore(db, { pollMs: 60_000 });
  try {
    await seedOneRoute(db);
    await store.load();
    assert.equal(store.collectionPending, false, "nothing to collect after the first load");

    // One route written as an operator writes it: applied in place, no collection.
    await putRow(db, "routes", { ...ROUTE, regionKey: "08" });
    await store.sync();
    assert.equal(store.incrementalRefreshes, 1);
    assert.equal(store.collectionPending, false, "a row change leaves little garbage");

    // The routes table replaced whole (one version bump, no rows noted): read whole.
    await seedTables(db, { routes: [{ ...ROUTE, id: "r-2" }] }, { replace: true });
    await store.sync();
    assert.equal(store.incrementalRefreshes, 1);
    assert.deepEqual(store.snapshot!.tables.routes.map((r) => r.id), ["r-2"]);
    assert.equal(store.collectionPending, true);
    await until("the collection after the reload", () => gc.count === 1);
    assert.equal(store.collectionPending, false);

    // A reload asked for while the store stops is not collected after it stopped.
    await seedTables(db, { routes: [ROUTE] }, { replace: true });
    await store.sync();
    assert.equal(store.collectionPending, true);
    await store.stop();
    assert.equal(store.collectionPending, false);
    assert.equal(gc.count, 1);
  } finally {
    await store.stop();
    gc.restore();
    await db.close();
  }
});

Deno.test("the collection after a whole-table reload waits while requests come in", async () => {
  const db = await freshPostgres();
  const gc = countCollections();
  const activity = lookedAtActivity();
  const store = new TableStore(db, { pollMs: 60_000, activity, collectAfterMs: 20 });
  try {
    await reloadedWhole(db, store);

    // A request begun between every look: never quiet, never collected.
    const first = activity.looks;
    while (activity.looks < first + 3) {
      const at = activity.looks;
      activity.begun++;
      await until("the next look", () => activity.looks > at);
    }
    assert.equal(gc.count, 0);
    assert.equal(store.collectionPending, true);

    // A request that runs across looks: still not quiet.
    activity.begun++;
    activity.running++;
    const at = activity.looks;
    await until("two looks while the request runs", () => activity.looks >= at + 2);
    assert.equal(gc.count, 0);
    activity.running--;

    // Quiet: collected once.
    await until("the collection once quiet", () => gc.count === 1);
    assert.equal(store.collectionPending, false);
  } finally {
    await store.stop();
    gc.restore();
    await db.close();
  }
});

Deno.test("the quiet spell is counted in looks from the last that saw a request", async () => {
  const db = await freshPostgres();
  // At which look the collection came.
  const activity = lookedAtActivity();
  let collectedAt = -1;
  const global = globalThis as { gc?: () => void };
  const before = global.gc;
  global.gc = () => collectedAt = activity.looks;
  // A spell of 150 ms, looked at every 50 ms: three quiet looks in a row. (Looking once per
  // spell, as until session 9, collected at the first quiet look.)
  const store = new TableStore(db, {
    pollMs: 60_000,
    activity,
    collectAfterMs: 150,
    collectLookMs: 50,
  });
  try {
    await reloadedWhole(db, store);
    // A request running across a look, then done: the spell starts after the last look that
    // saw it.
    activity.begun++;
    activity.running++;
    const at = activity.looks;
    await until("a look while the request runs", () => activity.looks > at);
    activity.running--;
    const seen = activity.looks;
    await until("the collection once quiet", () => collectedAt !== -1);
    assert.equal(collectedAt, seen + 3);
    assert.equal(store.collectionPending, false);
  } finally {
    await store.stop();
    global.gc = before;
    await db.close();
  }
});
