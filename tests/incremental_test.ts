/**
 * Single-row route writes reach another instance as a change of those rows alone (the
 * change log, src/store.ts `applyRouteChanges`), and the result equals a full load; a bulk
 * import, which notes no rows, makes the instance read the table whole.
 */
import assert from "node:assert/strict";
import { bearer, startTestLotse, type TestLotse } from "./_app.ts";
import { loadTable } from "../db/tables.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";

async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 10_000) {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

function send(lotse: TestLotse, method: string, path: string, body?: unknown, type?: string) {
  return lotse.fetch(path, {
    method,
    headers: bearer(ADMIN, { "content-type": type ?? "application/json" }),
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  }).then(async (res) => {
    assert.ok(res.status < 300, await res.text());
  });
}

Deno.test({
  name: "route changes reach another instance row by row and match a full load",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const a = await startTestLotse();
    const b = await startTestLotse({ databaseUrl: a.databaseUrl });
    try {
      const consumer = await b.token("stuttgart-bewohnerparken");
      const provider = async () => {
        const res = await b.fetch(
          "/v1/navigation?evidenceType=gewerberegisterauszug&ags=09184145",
          { headers: bearer(consumer) },
        );
        const body = await res.json();
        return res.status === 200 ? body.provider.id : body.type;
      };
      const route = {
        evidenceType: "gewerberegisterauszug",
        regionKey: "09184145",
        providerId: "gewerberegister-09184119",
      };
      const before = b.lotse.store.incrementalRefreshes;
      await send(a, "PUT", "/admin/v1/routes/inc-1", route);
      await until("the new route on B", async () => (await provider()) === route.providerId);
      await send(a, "PUT", "/admin/v1/routes/inc-1", { ...route, providerId: "kba-zfzr" });
      await until("the changed route on B", async () => (await provider()) === "kba-zfzr");
      await send(a, "DELETE", "/admin/v1/routes/inc-1");
      await until("the deleted route gone on B", async () => (await provider()) !== "kba-zfzr");
      assert.ok(b.lotse.store.incrementalRefreshes >= before + 3, "applied row by row");

      const ids = (routes: Iterable<{ id: string }>) => [...routes].map((r) => r.id).sort();
      const full = await loadTable(b.lotse.db, "routes");
      assert.deepEqual(ids(b.lotse.store.snapshot!.tables.routes), ids(full));
      assert.equal(b.lotse.store.snapshot!.nav.counts.routes, full.length);

      const incremental = b.lotse.store.incrementalRefreshes;
      await send(
        a,
        "POST",
        "/admin/v1/imports/routes",
        JSON.stringify({ id: "inc-bulk", ...route }),
        "application/x-ndjson",
      );
      await until("the imported route on B", async () => (await provider()) === route.providerId);
      // An import that changes few rows notes them (COPY path): B applies them in place too.
      assert.equal(b.lotse.store.incrementalRefreshes, incremental + 1, "an import in place");
      assert.deepEqual(
        ids(b.lotse.store.snapshot!.tables.routes),
        ids(await loadTable(b.lotse.db, "routes")),
      );
    } finally {
      await b.close();
      await a.close();
    }
  },
});
