/**
 * Route imports that write many rows (db/bulk.ts): the indexes and foreign keys of `routes`
 * are dropped, the rows written, and both built again under their names. Against a real
 * PostgreSQL: the same table as the row-by-row path, the catalog as the migrations left it,
 * a reference gone during the upload reported at its line, and a one-row change that waits
 * behind the import and lands after it on every instance.
 */
import assert from "node:assert/strict";
import { bearer, startTestLotse, type TestLotse } from "./_app.ts";
import { type ImportResult, importRows } from "../src/import.ts";
import { toRow } from "../routes/admin.ts";
import { connectPostgres } from "../db/postgres.ts";
import { loadTable } from "../db/tables.ts";
import type { Db, Queryable } from "../db/types.ts";
import type { Route } from "../src/model.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";

async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 20_000) {
  const deadline = performance.now() + ms;
  while (!(await ok())) {
    if (performance.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `count` new routes of one evidence type, on region keys no demo route uses. */
function newRoutes(prefix: string, count: number, providerId = "kba-zfzr"): Route[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    evidenceType: "fahrzeugzulassung",
    regionKey: `0999${String(i).padStart(4, "0")}`,
    providerId,
  }));
}

const line = (r: Route) => JSON.stringify(r);

/** Imports NDJSON into the routes of `db` in process: `bulkRows` picks the path. */
function importRoutes(
  db: Db,
  body: BodyInit,
  bulkRows: number,
): Promise<ImportResult> {
  const request = new Request("http://lotse.test/admin/v1/imports/routes", {
    method: "POST",
    headers: { "content-type": "application/x-ndjson" },
    body,
  });
  return importRows(db, "routes", request, { toRow, bulkRows });
}

/** The constraints and indexes of `routes` as the catalog describes them (names, not oids). */
function routesCatalog(db: Queryable) {
  return db.sql`
    select conname::text as name, contype::text as kind, pg_get_constraintdef(oid) as def,
      convalidated as valid, condeferrable as deferrable
    from pg_constraint where conrelid = 'routes'::regclass
    union all
    select c.relname::text, 'index', pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisunique
    from pg_index i join pg_class c on c.oid = i.indexrelid
    where i.indrelid = 'routes'::regclass
    order by 1, 2`;
}

/** The oid of the primary key's index: a new one when the bulk path built it again. */
async function primaryKeyOid(db: Queryable): Promise<number> {
  const [row] = await db.sql<{ oid: number }>`select 'routes_pkey'::regclass::oid::int as oid`;
  return Number(row!.oid);
}

const sorted = (routes: Iterable<Route>) =>
  [...routes].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

Deno.test({
  name: "the bulk path writes the same table as the row-by-row path and rebuilds the catalog",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const rowwise = await startTestLotse({ serve: false });
    const bulk = await startTestLotse({ serve: false });
    try {
      const migrated = await routesCatalog(bulk.lotse.db);
      assert.ok(migrated.length >= 7, JSON.stringify(migrated));
      const demo = sorted(await loadTable(bulk.lotse.db, "routes"));
      assert.deepEqual(demo, sorted(await loadTable(rowwise.lotse.db, "routes")));
      // Unchanged rows, changed rows and new rows: one upload for both paths.
      const moved = demo.slice(0, 5).map((r) => ({
        ...r,
        providerId: r.providerId === "kba-zfzr" ? "gewerberegister-09184119" : "kba-zfzr",
      }));
      const upload = [...demo.slice(5), ...moved, ...newRoutes("bulk-new", demo.length)];
      const body = upload.map(line).join("\n");

      await t.step("a table with rows: the same rows and version either way", async () => {
        const pk = await primaryKeyOid(bulk.lotse.db);
        const a = await importRoutes(rowwise.lotse.db, body, Infinity);
        const b = await importRoutes(bulk.lotse.db, body, 1);
        assert.ok(a.ok && b.ok, JSON.stringify([a, b]));
        assert.equal(a.version, b.version);
        assert.notEqual(await primaryKeyOid(bulk.lotse.db), pk, "the bulk path was taken");
        const written = sorted(await loadTable(bulk.lotse.db, "routes"));
        assert.deepEqual(written, sorted(await loadTable(rowwise.lotse.db, "routes")));
        assert.deepEqual(written, sorted(upload));
        assert.deepEqual(await routesCatalog(bulk.lotse.db), migrated);
      });

      await t.step("an empty table: every row new, the catalog as migrated", async () => {
        await bulk.lotse.db.sql`delete from routes`;
        const pk = await primaryKeyOid(bulk.lotse.db);
        const result = await importRoutes(bulk.lotse.db, body, 1);
        assert.ok(result.ok, JSON.stringify(result));
        assert.notEqual(await primaryKeyOid(bulk.lotse.db), pk, "the bulk path was taken");
        assert.deepEqual(sorted(await loadTable(bulk.lotse.db, "routes")), sorted(upload));
        assert.deepEqual(await routesCatalog(bulk.lotse.db), migrated);
        // The rebuilt constraints hold: a key twice and a missing provider are refused.
        const [first] = upload;
        await assert.rejects(
          bulk.lotse.db.sql`insert into routes values ('bulk-dup', ${first!.evidenceType},
            ${first!.regionKey}, ${first!.providerId})`,
          /routes_evidence_type_region_key_key/,
        );
        await assert.rejects(
          bulk.lotse.db.sql`insert into routes values ('bulk-fk', 'fahrzeugzulassung',
            '09998888', 'no-such-provider')`,
          /routes_provider_id_fkey/,
        );
      });

      await t.step("the checks of migration 014 keep the rules of the schema", async () => {
        await bulk.lotse.db.sql`delete from routes`;
        const accepted = async (id: string, regionKey: string) => {
          try {
            await bulk.lotse.db.transaction(async (tx) => {
              await tx.sql`insert into routes values (${id}, 'fahrzeugzulassung', ${regionKey},
                'kba-zfzr')`;
              throw new Error("rolled back");
            });
          } catch (error) {
            if ((error as Error).message === "rolled back") return true;
            assert.match((error as Error).message, /routes_(id|region_key)_check/);
            return false;
          }
          return false;
        };
        const key = "01234567";
        assert.equal(await accepted("a" + "b-".repeat(31), key), true, "63 characters");
        assert.equal(await accepted("a" + "b-".repeat(31) + "c", key), false, "64 characters");
        assert.equal(await accepted("-a", key), false);
        assert.equal(await accepted("aB", key), false);
        assert.equal(await accepted("a_b", key), false);
        for (const ok of ["", "01", "012", "01234", "01234567"]) {
          assert.equal(await accepted("check-key", ok), true, ok);
        }
        for (const bad of ["0", "0123", "012345", "0123456", "012345678", "0a"]) {
          assert.equal(await accepted("check-key", bad), false, bad);
        }
      });

      await t.step("an id or a key twice is reported at its line, nothing written", async () => {
        await bulk.lotse.db.sql`delete from routes`;
        const rows = newRoutes("bulk-twice", 4);
        const result = await importRoutes(
          bulk.lotse.db,
          [rows[0]!, rows[1]!, rows[0]!, { ...rows[3]!, regionKey: rows[1]!.regionKey }]
            .map(line).join("\n"),
          1,
        );
        assert.deepEqual(result, {
          ok: false,
          errorCount: 3,
          errors: [
            { line: 3, id: rows[0]!.id, message: `Duplicate id "${rows[0]!.id}"` },
            {
              line: 3,
              id: rows[0]!.id,
              message: `evidenceType "fahrzeugzulassung" and regionKey "${
                rows[0]!.regionKey
              }" are taken by line 1`,
            },
            {
              line: 4,
              id: rows[3]!.id,
              message: `evidenceType "fahrzeugzulassung" and regionKey "${
                rows[1]!.regionKey
              }" are taken by line 2`,
            },
          ],
        });
        assert.deepEqual([...await loadTable(bulk.lotse.db, "routes")], []);
        assert.deepEqual(await routesCatalog(bulk.lotse.db), migrated);
      });
    } finally {
      await bulk.close();
      await rowwise.close();
    }
  },
});

Deno.test({
  name: "a reference gone during the upload is reported per row with its line, on both paths",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lotse = await startTestLotse({ serve: false });
    const other = await connectPostgres(lotse.databaseUrl, { max: 1 });
    try {
      const migrated = await routesCatalog(lotse.lotse.db);
      for (
        const [path, tag, bulkRows] of [["bulk", "b", 1], ["row by row", "r", Infinity]] as const
      ) {
        await t.step(path, async () => {
          await other.sql`insert into providers (id, name, endpoint)
            values ('bulk-gone', 'Geht', 'https://gone.example')`;
          await other.sql`insert into evidence_types (id, name)
            values ('bulk-gone-type', 'Geht')`;
          const rows = newRoutes(`gone-${tag}`, 600);
          rows[1] = { ...rows[1]!, providerId: "bulk-gone" };
          rows[400] = { ...rows[400]!, providerId: "bulk-gone" };
          rows[500] = { ...rows[500]!, evidenceType: "bulk-gone-type" };
          const chunks = [
            rows.slice(0, 300).map(line).join("\n") + "\n",
            rows.slice(300).map(line).join("\n"),
          ];
          // The second chunk is asked for once the import read the first: by then it has
          // read the providers and evidence types it checks each row against.
          let asked!: () => void;
          const askedForMore = new Promise<void>((r) => asked = r);
          let go!: () => void;
          const more = new Promise<void>((r) => go = r);
          let pulls = 0;
          const body = new ReadableStream<Uint8Array>({
            async pull(controller) {
              pulls++;
              if (pulls === 2) {
                asked();
                await more;
              }
              const chunk = chunks.shift();
              if (chunk === undefined) controller.close();
              else controller.enqueue(new TextEncoder().encode(chunk));
            },
          }, { highWaterMark: 0 });
          const imported = importRoutes(lotse.lotse.db, body, bulkRows);
          const early = await Promise.race([askedForMore, imported]);
          assert.equal(early, undefined, `the import ended early: ${JSON.stringify(early)}`);
          await other.sql`delete from providers where id = 'bulk-gone'`;
          await other.sql`delete from evidence_types where id = 'bulk-gone-type'`;
          go();
          const result = await imported;
          assert.deepEqual(result, {
            ok: false,
            errorCount: 3,
            errors: [
              {
                line: 2,
                id: rows[1]!.id,
                message: 'providerId "bulk-gone" names no providers row',
              },
              {
                line: 401,
                id: rows[400]!.id,
                message: 'providerId "bulk-gone" names no providers row',
              },
              {
                line: 501,
                id: rows[500]!.id,
                message: 'evidenceType "bulk-gone-type" names no evidence-types row',
              },
            ],
          });
          const [left] = await other.sql<{ n: number }>`
            select count(*)::int as n from routes where id like 'gone-%'`;
          assert.equal(Number(left!.n), 0, "nothing written");
          assert.deepEqual(await routesCatalog(other), migrated);
        });
      }
    } finally {
      await other.close();
      await lotse.close();
    }
  },
});

/** The provider B's navigation names for the route's evidence type and Gemeinde. */
async function navigated(lotse: TestLotse, token: string, route: Route): Promise<string> {
  const res = await lotse.fetch(
    `/v1/navigation?evidenceType=${route.evidenceType}&ags=${route.regionKey}`,
    { headers: bearer(token) },
  );
  const body = await res.json();
  return res.status === 200 ? body.provider.id : body.type;
}

Deno.test({
  name: "a one-row change during a bulk import waits for it and lands after it on every instance",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const a = await startTestLotse();
    const b = await startTestLotse({ databaseUrl: a.databaseUrl });
    const gate = await connectPostgres(a.databaseUrl, { max: 2 });
    try {
      const route: Route = {
        id: "bulk-changed",
        evidenceType: "gewerberegisterauszug",
        regionKey: "09184145",
        providerId: "gewerberegister-09184119",
      };
      const count = (await loadTable(gate, "routes")).length;
      const upload = [...newRoutes("bulk-c", count), route];
      const pk = await primaryKeyOid(gate);
      // The gate holds the routes' version row: the import takes the routes table, then
      // waits here, so the change below is sent while the import holds the table.
      let open!: () => void;
      const opened = new Promise<void>((r) => open = r);
      let gateHeld!: () => void;
      const held = new Promise<void>((r) => gateHeld = r);
      const gated = gate.transaction(async (tx) => {
        await tx.sql`select 1 from table_versions where name = 'routes' for update`;
        gateHeld();
        await opened;
      });
      await held;
      const imported = importRoutes(a.lotse.db, upload.map(line).join("\n"), 1);
      await until(
        "the import holding the routes table",
        async () =>
          (await gate.sql`select 1 from pg_locks where relation = 'routes'::regclass
          and mode = 'AccessExclusiveLock' and granted`).length > 0,
      );
      const put = b.fetch(`/admin/v1/routes/${route.id}`, {
        method: "PUT",
        headers: bearer(ADMIN, { "content-type": "application/json" }),
        body: JSON.stringify({ ...route, id: undefined, providerId: "kba-zfzr" }),
      });
      await until(
        "the change waiting for the routes table",
        async () =>
          (await gate.sql`select 1 from pg_locks where relation = 'routes'::regclass
          and not granted`).length > 0,
      );
      open();
      await gated;
      const result = await imported;
      assert.ok(result.ok, JSON.stringify(result));
      const res = await put;
      assert.equal(res.status, 200, await res.text());
      assert.notEqual(await primaryKeyOid(gate), pk, "the bulk path was taken");
      const [row] = await gate.sql<{ provider_id: string }>`
        select provider_id from routes where id = ${route.id}`;
      assert.equal(row!.provider_id, "kba-zfzr", "the change landed after the import");
      const stored = sorted(await loadTable(gate, "routes"));
      assert.equal(stored.length, count * 2 + 1);
      for (const instance of [a, b]) {
        const token = await instance.token("stuttgart-bewohnerparken");
        let seen = "";
        await until("the change on the instance", async () => {
          const provider = await navigated(instance, token, route);
          const held = instance.lotse.store.snapshot!.tables.routes.length;
          seen = `${provider}, ${held} routes (${stored.length} stored)`;
          return provider === "kba-zfzr" && held === stored.length;
        }).catch((error) => {
          throw new Error(`${error.message}: ${seen}`);
        });
        assert.deepEqual(sorted([...instance.lotse.store.snapshot!.tables.routes]), stored);
      }
    } finally {
      await gate.close();
      await b.close();
      await a.close();
    }
  },
});
