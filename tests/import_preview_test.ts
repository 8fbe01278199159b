/**
 * Large route imports reach the other instances through their preview (db/import_preview.ts):
 * the instance builds its next snapshot while the import writes and swaps it in at the
 * commit. Against a real PostgreSQL, two instances on one database: the result equals a full
 * load, the scratch tables are empty afterwards, and an import refused after its preview was
 * published leaves every instance as it was and drops what was built.
 */
import assert from "node:assert/strict";
import { bearer, type TestLotse, testTwoInstances } from "./_app.ts";
import { waitFor } from "./_wait.ts";
import { bump, loadTable, MAX_NOTED_ROWS } from "../db/tables.ts";
import { connectPostgres } from "../db/postgres.ts";
import type { Route } from "../src/model.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";

/** {@linkcode waitFor}, whose error also names the state `seen()` describes then. */
function until(what: string, ok: () => Promise<boolean> | boolean, seen?: () => unknown) {
  return waitFor(ok, what).catch((error) => {
    throw new Error(`${error.message}: ${JSON.stringify(seen?.() ?? null)}`);
  });
}

/** Both instances hear the tables' notifications: a preview is announced once, by one. */
async function listening(a: TestLotse, b: TestLotse): Promise<void> {
  await until("both instances listening", () => a.lotse.store.listening && b.lotse.store.listening);
}

/** More new routes than the change log notes row by row, on region keys no demo route uses. */
function newRoutes(prefix: string, providerId = "kba-zfzr"): Route[] {
  return Array.from({ length: MAX_NOTED_ROWS + 500 }, (_, i) => ({
    id: `${prefix}-${i}`,
    evidenceType: "fahrzeugzulassung",
    regionKey: `99${String(i).padStart(6, "0")}`,
    providerId,
  }));
}

function importRoutes(lotse: TestLotse, routes: readonly Route[]): Promise<Response> {
  return lotse.fetch("/admin/v1/imports/routes", {
    method: "POST",
    headers: bearer(ADMIN, { "content-type": "application/x-ndjson" }),
    body: routes.map((r) => JSON.stringify(r)).join("\n"),
  });
}

/**
 * Runs `importing` while a transaction of the test's own holds `table_change_previews`. The
 * import publishes its preview, then waits at its commit (which notes the preview's id in that
 * table) until `ready()` holds: an instance's build from the preview is an event the test
 * waits for, not a race with the import's commit and the preview's removal after it (an
 * instance that hears of the preview only then reads the table whole).
 */
async function heldAtCommit<T>(
  lotse: TestLotse,
  importing: () => Promise<T>,
  what: string,
  ready: () => boolean,
  seen: () => unknown,
): Promise<T> {
  const db = await connectPostgres(lotse.databaseUrl, { max: 1 });
  try {
    let answer: Promise<T> | undefined;
    await db.transaction(async (tx) => {
      await tx.sql`lock table table_change_previews in exclusive mode`;
      answer = importing();
      // Settled below; a failure while waiting must not leave it unhandled.
      answer.catch(() => {});
      await until(what, ready, seen);
    });
    return await answer!;
  } finally {
    await db.close();
  }
}

/**
 * Imports `routes` through A, held at its commit until both instances have built from its
 * preview ({@linkcode heldAtCommit}); returns A's answer once B serves the import.
 */
async function importThroughPreview(
  a: TestLotse,
  b: TestLotse,
  routes: readonly Route[],
): Promise<{ version: number }> {
  const builtA = a.lotse.store.previews.built;
  const builtB = b.lotse.store.previews.built;
  const res = await heldAtCommit(
    a,
    () => importRoutes(a, routes),
    "both instances to build from the preview",
    () =>
      a.lotse.store.previews.built === builtA + 1 && b.lotse.store.previews.built === builtB + 1,
    () => ({ a: a.lotse.store.previews, b: b.lotse.store.previews }),
  );
  const answer = await res.json();
  assert.equal(res.status, 200, JSON.stringify(answer));
  await until("the import on B", () => b.lotse.store.snapshot!.versions.routes === answer.version);
  return answer;
}

const byId = (routes: Iterable<Route>) =>
  [...routes].map((r) => `${r.id} ${r.evidenceType} ${r.regionKey} ${r.providerId}`).sort();

async function scratchRows(lotse: TestLotse): Promise<number> {
  const [row] = await lotse.lotse.db.sql<{ n: number }>`
    select (select count(*) from import_previews)::int
      + (select count(*) from import_preview_routes)::int as n`;
  return Number(row!.n);
}

testTwoInstances(
  "a large import reaches another instance through its preview and equals a full load",
  async (a, b) => {
    await listening(a, b);
    const before = b.lotse.store.previews;
    const beforeA = a.lotse.store.previews;
    // New routes, and a demo route moved to another provider (an upsert of a served row).
    const served = b.lotse.store.snapshot!;
    const moved = served.tables.routes.find((r) => r.regionKey.length === 8)!;
    const other = served.tables.providers.find((p) => p.id !== moved.providerId)!;
    const routes = [...newRoutes("preview"), { ...moved, providerId: other.id }];
    const answer = await importThroughPreview(a, b, routes);
    const after = b.lotse.store.previews;
    assert.equal(after.prepared, before.prepared + 1, "B built from the preview");
    assert.equal(after.swapped, before.swapped + 1, "B swapped the preview in");
    assert.equal(after.held, 0, "nothing held after the swap");
    // A, which answered after its own refresh, swapped its preview in as well.
    assert.equal(a.lotse.store.previews.swapped, beforeA.swapped + 1);

    const full = await loadTable(b.lotse.db, "routes");
    assert.deepEqual(byId(b.lotse.store.snapshot!.tables.routes), byId(full));
    assert.equal(b.lotse.store.snapshot!.nav.counts.routes, full.length);
    const consumer = await b.token("stuttgart-bewohnerparken");
    const nav = await b.fetch(
      `/v1/navigation?evidenceType=${moved.evidenceType}&ags=${moved.regionKey}`,
      { headers: bearer(consumer) },
    );
    const body = await nav.json();
    assert.equal(nav.status, 200, JSON.stringify(body));
    assert.equal(body.provider.id, other.id);
    assert.equal(await scratchRows(a), 0, "the preview removed");
    // The import's version is noted apart from the rows' change log: a Lotse that predates
    // previews sees a gap there and reads the table whole.
    const noted = await a.lotse.db.sql<{ rows: number; previews: number }>`
      select (select count(*) from table_changes where table_name = 'routes'
          and version = ${answer.version})::int as rows,
        (select count(*) from table_change_previews where table_name = 'routes'
          and version = ${answer.version})::int as previews`;
    assert.deepEqual(noted, [{ rows: 0, previews: 1 }]);
  },
);

testTwoInstances(
  "an import refused after its preview was published changes no instance",
  async (a, b) => {
    await listening(a, b);
    const served = b.lotse.store.snapshot!;
    const before = b.lotse.store.previews;
    // The last row takes the key of a demo route it does not replace: found by the
    // database while it writes, after the preview went out.
    const taken = served.tables.routes.find((r) => r.regionKey.length === 8)!;
    const routes = [...newRoutes("refused"), { ...taken, id: "refused-clash" }];
    const res = await importRoutes(a, routes);
    const answer = await res.json();
    assert.equal(res.status, 422, JSON.stringify(answer));
    assert.equal(answer.errors[0].line, routes.length);
    await until("B to drop its preview", () => {
      const now = b.lotse.store.previews;
      return now.prepared === before.prepared + 1 && now.held === 0;
    }, () => ({ before, now: b.lotse.store.previews, listening: b.lotse.store.listening }));
    assert.equal(b.lotse.store.previews.swapped, before.swapped);
    assert.equal(b.lotse.store.snapshot!.version, served.version, "B serves what it served");
    assert.deepEqual(
      byId(b.lotse.store.snapshot!.tables.routes),
      byId(await loadTable(b.lotse.db, "routes")),
    );
    assert.equal(await scratchRows(a), 0, "the preview removed");
  },
);

testTwoInstances(
  "a first import into an empty routes table becomes the other instance's table in columns",
  async (a, b) => {
    await listening(a, b);
    // An operator's first load: the routes table empty on both instances.
    await a.lotse.db.transaction(async (tx) => {
      await tx.sql`delete from routes`;
      await bump(tx, "routes");
    });
    await until(
      "both instances without routes",
      () =>
        a.lotse.store.snapshot!.tables.routes.length === 0 &&
        b.lotse.store.snapshot!.tables.routes.length === 0,
    );
    const before = b.lotse.store.previews;
    const routes = newRoutes("first");
    await importThroughPreview(a, b, routes);
    assert.equal(b.lotse.store.previews.swapped, before.swapped + 1, "B swapped the preview in");
    const served = b.lotse.store.snapshot!;
    // The preview's columns, taken as they are: no route made into an object.
    assert.equal(served.tables.routes.base?.length, routes.length);
    assert.deepEqual(byId(served.tables.routes), byId(await loadTable(b.lotse.db, "routes")));
    assert.deepEqual(byId(served.tables.routes), byId(routes));
    // The index answers from positions in those columns (the keys are in no regions table).
    for (const route of [routes[0]!, routes[routes.length - 1]!]) {
      const found = served.nav.resolve(route.evidenceType, route.regionKey);
      assert.equal(found.kind === "resolved" && found.route.id, route.id);
    }
  },
);
