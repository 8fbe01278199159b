/**
 * One contract suite, run against both database adapters: postgres.js on a throwaway
 * PostgreSQL 15 and embedded PGlite.
 */
import assert from "node:assert/strict";
import { freshPostgres } from "./_pg.ts";
import { openPglite } from "../db/pglite.ts";
import { migrate } from "../db/migrate.ts";
import {
  deleteRow,
  getRow,
  loadTables,
  putRow,
  putRows,
  readVersions,
  TABLES_CHANNEL,
} from "../db/tables.ts";
import type { Db } from "../db/types.ts";
import { seedDemo } from "../src/boot.ts";
import { demo } from "../demo/mod.ts";

async function freshPglite(): Promise<Db> {
  const db = await openPglite(null);
  await migrate(db);
  return db;
}

const adapters: [string, () => Promise<Db>][] = [
  ["postgres.js", freshPostgres],
  ["PGlite", freshPglite],
];

for (const [name, open] of adapters) {
  Deno.test({
    name: `${name}: the table store keeps the contract`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async (t) => {
      const db = await open();
      try {
        await t.step("migrations apply once and then are a no-op", async () => {
          assert.deepEqual(await migrate(db), []);
          const rows = await db.sql<
            { n: number }
          >`select count(*)::int as n from schema_migrations`;
          assert.ok(rows[0]!.n >= 1);
        });

        await t.step("interpolated values are bound, never spliced into SQL", async () => {
          const evil = "x'); drop table regions; --";
          const rows = await db.sql<{ v: string }>`select ${evil}::text as v`;
          assert.equal(rows[0]!.v, evil);
          assert.equal((await db.sql`select 1 from regions limit 1`).length, 0);
        });

        await t.step("put, get and delete rows of every table", async () => {
          await putRow(db, "regions", { ags: "08111000", ars: "081110000000", name: "Stuttgart" });
          await putRow(db, "regions", { ags: "08115001", ars: null, name: "Aidlingen" });
          await putRow(db, "postcodes", {
            plz: "70173",
            places: [{ ags: "08111000", ort: "Stuttgart" }],
          });
          await putRow(db, "evidence-types", {
            id: "fahrzeugzulassung",
            name: "Fahrzeugzulassung",
            description: null,
          });
          await putRow(db, "providers", {
            id: "kba-zfzr",
            name: "KBA",
            endpoint: "https://kba.example/evidence",
            caCert: null,
          });
          const first = await putRow(db, "routes", {
            id: "fz-bund",
            evidenceType: "fahrzeugzulassung",
            regionKey: "",
            providerId: "kba-zfzr",
          });
          assert.equal(first.created, true);
          const again = await putRow(db, "routes", {
            id: "fz-bund",
            evidenceType: "fahrzeugzulassung",
            regionKey: "08",
            providerId: "kba-zfzr",
          });
          assert.equal(again.created, false);
          assert.equal(again.version, first.version + 1);
          await putRow(db, "clients", {
            id: "stuttgart-parken",
            name: "Stuttgart Bewohnerparken",
            roles: ["consumer"],
            jwks: { keys: [{ kty: "EC", crv: "P-256", x: "a", y: "b" }] },
          });
          await putRow(db, "permissions", {
            id: "p1",
            consumerId: "stuttgart-parken",
            evidenceType: "fahrzeugzulassung",
            providerId: null,
            purposes: ["bewohnerparkausweis"],
            legalBases: ["StVO §45"],
            idnrAllowed: true,
            validFrom: "2026-01-01T00:00:00.000Z",
            validUntil: null,
          });

          assert.deepEqual(await getRow(db, "routes", "fz-bund"), {
            id: "fz-bund",
            evidenceType: "fahrzeugzulassung",
            regionKey: "08",
            providerId: "kba-zfzr",
          });
          assert.deepEqual(await getRow(db, "postcodes", "70173"), {
            plz: "70173",
            places: [{ ags: "08111000", ort: "Stuttgart" }],
          });
          assert.deepEqual((await getRow(db, "clients", "stuttgart-parken"))?.jwks, {
            keys: [{ kty: "EC", crv: "P-256", x: "a", y: "b" }],
          });
          const permission = await getRow(db, "permissions", "p1");
          assert.equal(permission?.validFrom, "2026-01-01T00:00:00.000Z");
          assert.deepEqual(permission?.legalBases, ["StVO §45"]);

          const { tables, versions } = await loadTables(db);
          assert.equal(tables.regions.length, 2);
          assert.equal(tables.routes.length, 1);
          assert.equal(tables.permissions[0]?.idnrAllowed, true);
          assert.equal(versions.routes, again.version);

          assert.notEqual(await deleteRow(db, "permissions", "p1"), null);
          assert.equal(await deleteRow(db, "permissions", "p1"), null);
          assert.equal(await getRow(db, "permissions", "p1"), null);
        });

        await t.step("a route to a missing provider is refused by the database", async () => {
          await assert.rejects(() =>
            putRow(db, "routes", {
              id: "dangling",
              evidenceType: "fahrzeugzulassung",
              regionKey: "",
              providerId: "nobody",
            })
          );
          assert.equal(await getRow(db, "routes", "dangling"), null);
        });

        await t.step("a malformed key is refused by the database", async () => {
          await assert.rejects(() => putRow(db, "regions", { ags: "0811", ars: null, name: "x" }));
          await assert.rejects(() =>
            putRow(db, "regions", { ags: "08111000", ars: "081119990001", name: "x" })
          );
        });

        await t.step("a bulk write is all or nothing", async () => {
          const before = await readVersions(db);
          await assert.rejects(() =>
            putRows(db, "regions", [
              { ags: "09162000", ars: null, name: "München" },
              { ags: "bad", ars: null, name: "Bad" },
            ])
          );
          assert.equal(await getRow(db, "regions", "09162000"), null);
          assert.deepEqual(await readVersions(db), before);
        });

        await t.step("the demo data is written once: a second seed changes nothing", async () => {
          const base = "http://127.0.0.1:18081";
          assert.ok((await seedDemo(db, demo.tables(base))) > 0);
          const after = await readVersions(db);
          assert.equal(await seedDemo(db, demo.tables(base)), 0);
          assert.deepEqual(await readVersions(db), after, "no version moved");
          // Another demo provider port is a real change, of the providers alone.
          assert.ok((await seedDemo(db, demo.tables("http://127.0.0.1:18082"))) > 0);
          const moved = await readVersions(db);
          assert.equal(moved.providers, after.providers + 1);
          assert.equal(moved.routes, after.routes);
          assert.equal(moved.postcodes, after.postcodes);
        });

        await t.step("a change is announced on the tables channel at commit", async () => {
          const seen: string[] = [];
          const { promise, resolve } = Promise.withResolvers<void>();
          const stop = await db.listen(TABLES_CHANNEL, (payload) => {
            seen.push(payload);
            resolve();
          });
          await putRow(db, "evidence-types", {
            id: "meldebescheinigung",
            name: "Meldebescheinigung",
            description: "Melderegister",
          });
          const timer = setTimeout(() => resolve(), 5000);
          await promise;
          clearTimeout(timer);
          await stop();
          assert.deepEqual(seen, ["evidence-types"]);
        });
      } finally {
        await db.close();
      }
    },
  });
}
