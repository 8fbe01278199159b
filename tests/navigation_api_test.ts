/**
 * The navigation, catalogue and data-management routes over HTTP, against a real
 * PostgreSQL with the demo tables.
 */
import assert from "node:assert/strict";
import { bearer, startTestLotse, type TestLotse } from "./_app.ts";
import { DEMO_AMBIGUOUS_PLZ, DEMO_PLACES } from "../demo/tables.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";

async function json(res: Response): Promise<Record<string, unknown>> {
  return await res.json() as Record<string, unknown>;
}

async function problem(res: Response, status: number, type: string) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}`);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  const body = await json(res);
  assert.equal(body.type, `https://lotse.dev/problems/${type}`);
  assert.equal(body.status, status);
  assert.equal(typeof body.title, "string");
  assert.equal(typeof body.detail, "string");
  assert.ok(!JSON.stringify(body).includes("    at "), "no stack trace");
  return body;
}

Deno.test({
  name: "navigation and catalogue routes answer as docs/api.md §3 says",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lotse: TestLotse = await startTestLotse();
    try {
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      const nav = (query: string, token = consumer) =>
        lotse.fetch(`/v1/navigation?${query}`, { headers: bearer(token) });

      await t.step("the KBA answers for Stuttgart at Bund level", async () => {
        const res = await nav(`evidenceType=fahrzeugzulassung&ags=${DEMO_PLACES.stuttgart.ags}`);
        assert.equal(res.status, 200);
        const body = await json(res);
        assert.deepEqual(body.region, {
          ags: "08111000",
          ars: "081110000000",
          name: "Stuttgart",
        });
        assert.equal((body.provider as { id: string }).id, "kba-zfzr");
        assert.deepEqual(Object.keys(body.provider as object).sort(), ["endpoint", "id", "name"]);
        assert.equal(body.matchedLevel, "bund");
        assert.equal(body.evidenceType, "fahrzeugzulassung");
      });

      await t.step("a Gemeinde route wins over a Kreis route (longest prefix)", async () => {
        const garching = await json(
          await nav(`evidenceType=meldebescheinigung&ags=${DEMO_PLACES.garching.ags}`),
        );
        assert.equal(garching.matchedLevel, "gemeinde");
        const taufkirchen = await json(
          await nav(`evidenceType=meldebescheinigung&ags=${DEMO_PLACES.taufkirchen.ags}`),
        );
        assert.equal(taufkirchen.matchedLevel, "kreis");
        assert.equal(
          (taufkirchen.provider as { id: string }).id,
          "melderegister-lk-muenchen",
        );
      });

      await t.step("Regierungsbezirk and Land levels", async () => {
        const stuttgart = await json(
          await nav(`evidenceType=handelsregisterauszug&ags=${DEMO_PLACES.ludwigsburg.ags}`),
        );
        assert.equal(stuttgart.matchedLevel, "regierungsbezirk");
        const koeln = await json(
          await nav(`evidenceType=handelsregisterauszug&ags=${DEMO_PLACES.koeln.ags}`),
        );
        assert.equal(koeln.matchedLevel, "land");
      });

      await t.step("ARS and PLZ (with umlaut spelling) resolve to the same region", async () => {
        const byArs = await json(await nav("evidenceType=fahrzeugzulassung&ars=091620000000"));
        assert.equal((byArs.region as { ags: string }).ags, "09162000");
        const byPlz = await json(
          await nav("evidenceType=fahrzeugzulassung&plz=80331&ort=Muenchen"),
        );
        assert.equal((byPlz.region as { ags: string }).ags, "09162000");
      });

      await t.step("an ambiguous PLZ gives 409 with candidates; ort decides", async () => {
        const res = await nav(`evidenceType=fahrzeugzulassung&plz=${DEMO_AMBIGUOUS_PLZ}`);
        const body = await problem(res, 409, "ambiguous-region");
        const candidates = body.candidates as { ags: string; name: string }[];
        assert.deepEqual(candidates.map((c) => c.ags), ["09184119", "09184145"]);
        const decided = await json(
          await nav(`evidenceType=fahrzeugzulassung&plz=${DEMO_AMBIGUOUS_PLZ}&ort=TAUFKIRCHEN`),
        );
        assert.equal((decided.region as { ags: string }).ags, "09184145");
      });

      await t.step("every navigation problem type", async () => {
        await problem(await nav("evidenceType=fahrzeugzulassung&ags=0811"), 400, "invalid-request");
        await problem(await nav("evidenceType=fahrzeugzulassung&ars=12"), 400, "invalid-request");
        await problem(
          await nav("evidenceType=fahrzeugzulassung&plz=7017x"),
          400,
          "invalid-request",
        );
        await problem(await nav("evidenceType=fahrzeugzulassung"), 400, "invalid-request");
        await problem(
          await nav("evidenceType=fahrzeugzulassung&ags=08111000&plz=70173"),
          400,
          "invalid-request",
        );
        await problem(await nav("ags=08111000"), 400, "invalid-request");
        await problem(await nav("evidenceType=Bad%20Type&ags=08111000"), 400, "invalid-request");
        await problem(
          await nav("evidenceType=fahrzeugzulassung&ags=99999999"),
          404,
          "unknown-region",
        );
        await problem(await nav("evidenceType=fahrzeugzulassung&plz=00000"), 404, "unknown-region");
        await problem(await nav("evidenceType=unbekannt&ags=08111000"), 404, "not-found");
        await problem(
          await nav(`evidenceType=gewerberegisterauszug&ags=${DEMO_PLACES.taufkirchen.ags}`),
          404,
          "no-responsible-provider",
        );
      });

      await t.step("no token is 401, a wrong role is 403", async () => {
        await problem(
          await lotse.fetch("/v1/navigation?evidenceType=fahrzeugzulassung&ags=08111000"),
          401,
          "unauthorized",
        );
        await problem(
          await nav("evidenceType=fahrzeugzulassung&ags=08111000", "not-a-token"),
          401,
          "unauthorized",
        );
        const dsc = await lotse.token("dsc-cockpit");
        await problem(
          await nav("evidenceType=fahrzeugzulassung&ags=08111000", dsc),
          403,
          "forbidden",
        );
      });

      await t.step("the catalogue lists evidence types, regions and providers", async () => {
        const types = await json(
          await lotse.fetch("/v1/evidence-types", { headers: bearer(consumer) }),
        );
        const ids = (types.evidenceTypes as { id: string }[]).map((e) => e.id);
        assert.deepEqual(ids, [
          "fahrzeugzulassung",
          "gewerberegisterauszug",
          "handelsregisterauszug",
          "identitaetsdaten",
          "meldebescheinigung",
        ]);
        const one = await json(
          await lotse.fetch("/v1/evidence-types/fahrzeugzulassung", { headers: bearer(consumer) }),
        );
        assert.equal(one.id, "fahrzeugzulassung");
        await problem(
          await lotse.fetch("/v1/evidence-types/nope", { headers: bearer(consumer) }),
          404,
          "not-found",
        );
        const regions = await json(
          await lotse.fetch(`/v1/regions?plz=${DEMO_AMBIGUOUS_PLZ}`, { headers: bearer(consumer) }),
        );
        assert.equal((regions.regions as unknown[]).length, 2);
        const search = await json(
          await lotse.fetch("/v1/regions?q=garch", { headers: bearer(consumer) }),
        );
        assert.deepEqual((search.regions as { ags: string }[]).map((r) => r.ags), ["09184119"]);
        const provider = await json(
          await lotse.fetch("/v1/providers/kba-zfzr", { headers: bearer(consumer) }),
        );
        assert.equal(provider.id, "kba-zfzr");
        assert.deepEqual(provider.evidenceTypes, ["fahrzeugzulassung"]);
        assert.equal("caCert" in provider, false);
        await problem(
          await lotse.fetch("/v1/providers/nobody", { headers: bearer(consumer) }),
          404,
          "not-found",
        );
      });

      await t.step("health, readiness, metrics and the OpenAPI document", async () => {
        assert.deepEqual(await json(await lotse.fetch("/healthz")), { status: "ok" });
        const ready = await json(await lotse.fetch("/readyz"));
        assert.equal(typeof ready.tablesVersion, "number");
        const metrics = await (await lotse.fetch("/metrics")).text();
        assert.match(
          metrics,
          /lotse_http_requests_total\{route="GET \/v1\/navigation",status="200"\}/,
        );
        const doc = await json(await lotse.fetch("/openapi.json"));
        assert.equal(doc.openapi, "3.1.0");
        const paths = doc.paths as Record<string, unknown>;
        assert.ok(paths["/v1/navigation"]);
        assert.ok(paths["/admin/v1/{table}/{id}"]);
        const docs = await lotse.fetch("/docs");
        assert.match(await docs.text(), /swagger-ui-bundle\.js/);
        const asset = await lotse.fetch("/docs/assets/swagger-ui-bundle.js");
        assert.equal(asset.status, 200);
        assert.ok((await asset.arrayBuffer()).byteLength > 100_000);
        await problem(await lotse.fetch("/nowhere"), 404, "not-found");
      });
    } finally {
      await lotse.close();
    }
  },
});

Deno.test({
  name: "data management changes navigation without a restart",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lotse = await startTestLotse();
    try {
      const admin = bearer(ADMIN, { "content-type": "application/json" });
      const put = (path: string, body: unknown, headers = admin) =>
        lotse.fetch(`/admin/v1/${path}`, { method: "PUT", headers, body: JSON.stringify(body) });
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      const navTaufkirchen = () =>
        lotse.fetch(
          `/v1/navigation?evidenceType=gewerberegisterauszug&ags=${DEMO_PLACES.taufkirchen.ags}`,
          { headers: bearer(consumer) },
        );

      await t.step("a new provider and route take effect at once", async () => {
        assert.equal((await navTaufkirchen()).status, 404);
        assert.equal(
          (await put("providers/gewerberegister-09184145", {
            name: "Gewerberegister Taufkirchen",
            endpoint: "https://gewerbe.taufkirchen.example/evidence",
          })).status,
          201,
        );
        assert.equal(
          (await put("routes/gewerbe-taufkirchen", {
            evidenceType: "gewerberegisterauszug",
            regionKey: "09184145",
            providerId: "gewerberegister-09184145",
          })).status,
          201,
        );
        const res = await navTaufkirchen();
        assert.equal(res.status, 200);
        assert.equal((await json(res)).matchedLevel, "gemeinde");
      });

      await t.step("GET reads the row, DELETE removes it, and navigation follows", async () => {
        const row = await json(
          await lotse.fetch("/admin/v1/routes/gewerbe-taufkirchen", { headers: admin }),
        );
        assert.equal(row.providerId, "gewerberegister-09184145");
        const tables = await json(await lotse.fetch("/admin/v1/tables", { headers: admin }));
        const routes = (tables.tables as { name: string; count: number }[]).find((x) =>
          x.name === "routes"
        );
        assert.ok(routes && routes.count > 0);
        const del = await lotse.fetch("/admin/v1/routes/gewerbe-taufkirchen", {
          method: "DELETE",
          headers: admin,
        });
        assert.equal(del.status, 204);
        assert.equal((await navTaufkirchen()).status, 404);
        await problem(
          await lotse.fetch("/admin/v1/routes/gewerbe-taufkirchen", {
            method: "DELETE",
            headers: admin,
          }),
          404,
          "not-found",
        );
      });

      await t.step("bad bodies and references are 4xx problems", async () => {
        await problem(await put("regions/0811", { name: "x" }), 400, "invalid-request");
        await problem(
          await put("regions/08111000", { name: "x", ars: "091620000000" }),
          400,
          "invalid-request",
        );
        await problem(
          await put("providers/evil", { name: "x", endpoint: "http://10.0.0.1/" }),
          400,
          "invalid-request",
        );
        await problem(
          await put("routes/r1", {
            evidenceType: "fahrzeugzulassung",
            regionKey: "08",
            providerId: "nobody",
          }),
          400,
          "invalid-request",
        );
        await problem(
          await put("routes/r2", {
            evidenceType: "fahrzeugzulassung",
            regionKey: "",
            providerId: "kba-zfzr",
          }),
          409,
          "conflict",
        );
        await problem(
          await lotse.fetch("/admin/v1/providers/kba-zfzr", { method: "DELETE", headers: admin }),
          409,
          "conflict",
        );
        await problem(await put("nonsense/x", {}), 404, "not-found");
        await problem(
          await lotse.fetch("/admin/v1/regions/08111000", {
            method: "PUT",
            headers: admin,
            body: "{not json",
          }),
          400,
          "invalid-request",
        );
        await problem(
          await put("regions/08111000", { name: "x", extra: 1 }),
          400,
          "invalid-request",
        );
      });

      await t.step("admin needs the operator role or the admin token", async () => {
        await problem(
          await lotse.fetch("/admin/v1/tables", { headers: bearer(consumer) }),
          403,
          "forbidden",
        );
        await problem(
          await lotse.fetch("/admin/v1/tables", { headers: bearer("x".repeat(42)) }),
          401,
          "unauthorized",
        );
        const operator = await lotse.token("lotse-operator");
        assert.equal(
          (await lotse.fetch("/admin/v1/tables", { headers: bearer(operator) })).status,
          200,
        );
      });

      await t.step("a bulk import is all or nothing, with a report per row", async () => {
        const ndjson = (lines: unknown[]) => lines.map((l) => JSON.stringify(l)).join("\n");
        const bad = await lotse.fetch("/admin/v1/imports/regions", {
          method: "POST",
          headers: bearer(ADMIN, { "content-type": "application/x-ndjson" }),
          body: ndjson([
            { id: "09999001", name: "Gut" },
            { id: "9", name: "Schlecht" },
            { id: "09999002" },
          ]),
        });
        const report = await problem(bad, 422, "unprocessable");
        const errors = report.errors as { line: number }[];
        assert.deepEqual(errors.map((e) => e.line), [2, 3]);
        assert.equal(
          (await lotse.fetch("/admin/v1/regions/09999001", { headers: admin })).status,
          404,
        );
        const good = await lotse.fetch("/admin/v1/imports/regions", {
          method: "POST",
          headers: bearer(ADMIN, { "content-type": "text/csv" }),
          body: 'id,name,ars\n09999001,Gut,\n09999002,"Auch ""gut""",\n',
        });
        assert.equal(good.status, 200);
        assert.equal((await json(good)).imported, 2);
        const row = await json(await lotse.fetch("/admin/v1/regions/09999002", { headers: admin }));
        assert.equal(row.name, 'Auch "gut"');
      });

      await t.step("an import naming missing rows reports each with its line", async () => {
        const routes = await lotse.fetch("/admin/v1/imports/routes", {
          method: "POST",
          headers: bearer(ADMIN, { "content-type": "application/x-ndjson" }),
          body: [
            {
              id: "ok-1",
              evidenceType: "fahrzeugzulassung",
              regionKey: "09999001",
              providerId: "kba-zfzr",
            },
            {
              id: "no-type",
              evidenceType: "gibt-es-nicht",
              regionKey: "09999001",
              providerId: "kba-zfzr",
            },
            {
              id: "no-provider",
              evidenceType: "fahrzeugzulassung",
              regionKey: "09999002",
              providerId: "weg",
            },
          ].map((l) => JSON.stringify(l)).join("\n"),
        });
        const report = await problem(routes, 422, "unprocessable");
        const errors = report.errors as { line: number; id: string; message: string }[];
        assert.deepEqual(errors.map((e) => [e.line, e.id]), [[2, "no-type"], [3, "no-provider"]]);
        assert.match(
          errors[0]!.message,
          /evidenceType "gibt-es-nicht" names no evidence-types row/,
        );
        assert.match(errors[1]!.message, /providerId "weg" names no providers row/);
        const places = await lotse.fetch("/admin/v1/imports/postcodes", {
          method: "POST",
          headers: bearer(ADMIN, { "content-type": "text/csv" }),
          body: "id,ags,ort\n99999,09999001,Gut\n99998,01234567,Nirgendwo\n",
        });
        const placeErrors = (await problem(places, 422, "unprocessable")).errors as {
          line: number;
        }[];
        assert.deepEqual(placeErrors.map((e) => e.line), [3]);
      });
    } finally {
      await lotse.close();
    }
  },
});
