/**
 * The XNachweis table additions (docs/api.md §3.1) through the admin API, bulk import, the
 * catalogue and the OpenAPI document, against a real PostgreSQL.
 */
import assert from "node:assert/strict";
import { bearer, startTestLotse } from "./_app.ts";
import { DEMO_CLASSIFICATIONS } from "../demo/tables.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";
const SR = "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/";

Deno.test({
  name: "classification, xnachweisEndpoint and onBehalfOf are kept by the admin API",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lotse = await startTestLotse();
    try {
      const admin = bearer(ADMIN, { "content-type": "application/json" });
      const put = (path: string, body: unknown) =>
        lotse.fetch(`/admin/v1/${path}`, {
          method: "PUT",
          headers: admin,
          body: JSON.stringify(body),
        });
      const get = async (path: string) =>
        await (await lotse.fetch(`/admin/v1/${path}`, { headers: admin })).json();
      const status = async (path: string, body: unknown) => {
        const res = await put(path, body);
        await res.body?.cancel();
        return res.status;
      };

      await t.step("evidence types carry an EU classification, unique and checked", async () => {
        assert.equal(
          await status("evidence-types/probe", { name: "Probe", classification: `${SR}probe` }),
          201,
        );
        assert.equal((await get("evidence-types/probe")).classification, `${SR}probe`);
        assert.equal(
          await status("evidence-types/probe-2", { name: "Probe 2", classification: `${SR}probe` }),
          409,
        );
        assert.equal(
          await status("evidence-types/probe-3", {
            name: "P",
            classification: "https://example.org/x",
          }),
          400,
        );
        assert.equal(
          await status("evidence-types/probe-3", { name: "P", classification: `${SR}a b` }),
          400,
        );
        assert.equal(await status("evidence-types/probe-3", { name: "P" }), 201);
        assert.equal((await get("evidence-types/probe-3")).classification, null);
        const consumer = await lotse.token("stuttgart-bewohnerparken");
        const catalogue =
          await (await lotse.fetch("/v1/evidence-types", { headers: bearer(consumer) })).json();
        const kba = catalogue.evidenceTypes.find((e: { id: string }) =>
          e.id === "fahrzeugzulassung"
        );
        assert.equal(kba.classification, DEMO_CLASSIFICATIONS.fahrzeugzulassung);
      });

      await t.step("providers carry an XNachweis endpoint under the endpoint rules", async () => {
        const base = { name: "XML register", endpoint: "https://register.example/evidence" };
        assert.equal(
          await status("providers/xml-register", {
            ...base,
            xnachweisEndpoint: "https://register.example/xnachweis",
          }),
          201,
        );
        assert.equal(
          (await get("providers/xml-register")).xnachweisEndpoint,
          "https://register.example/xnachweis",
        );
        assert.equal(
          await status("providers/xml-register", {
            ...base,
            xnachweisEndpoint: "ftp://register.example/",
          }),
          400,
        );
        assert.equal(
          await status("providers/xml-register", {
            ...base,
            xnachweisEndpoint: "https://u:p@register.example/",
          }),
          400,
        );
        assert.equal(
          await status("providers/xml-register", {
            ...base,
            xnachweisEndpoint: "http://10.1.2.3/x",
          }),
          400,
        );
        assert.equal(
          (await get("providers/xml-register")).xnachweisEndpoint,
          "https://register.example/xnachweis",
        );
      });

      await t.step("permissions name the authorities an EfA service may act for", async () => {
        const body = {
          consumerId: "stuttgart-bewohnerparken",
          evidenceType: "fahrzeugzulassung",
          providerId: null,
          purposes: ["bewohnerparkausweis"],
          legalBases: ["StVO § 45 Abs. 1b"],
          idnrAllowed: true,
          onBehalfOf: ["stadt-a", "stadt-b", "stadt-a"],
        };
        assert.equal(await status("permissions/efa-probe", body), 201);
        assert.deepEqual((await get("permissions/efa-probe")).onBehalfOf, ["stadt-a", "stadt-b"]);
        assert.equal(
          await status("permissions/efa-probe", { ...body, onBehalfOf: ["Not A Slug"] }),
          400,
        );
        assert.equal(await status("permissions/efa-probe", { ...body, onBehalfOf: [] }), 400);
        const { onBehalfOf: _, ...plain } = body;
        assert.equal(await status("permissions/efa-probe", plain), 200);
        assert.equal((await get("permissions/efa-probe")).onBehalfOf, null);
      });

      await t.step("bulk import takes the new fields from NDJSON and CSV", async () => {
        const ndjson = await lotse.fetch("/admin/v1/imports/evidence-types", {
          method: "POST",
          headers: bearer(ADMIN, { "content-type": "application/x-ndjson" }),
          body: JSON.stringify({ id: "bulk-a", name: "Bulk A", classification: `${SR}bulk-a` }),
        });
        assert.equal(ndjson.status, 200, await ndjson.text());
        assert.equal((await get("evidence-types/bulk-a")).classification, `${SR}bulk-a`);
        const csv = await lotse.fetch("/admin/v1/imports/providers", {
          method: "POST",
          headers: bearer(ADMIN, { "content-type": "text/csv" }),
          body:
            "id,name,endpoint,xnachweisEndpoint\nbulk-p,Bulk P,https://p.example/e,https://p.example/x\n",
        });
        assert.equal(csv.status, 200, await csv.text());
        assert.equal((await get("providers/bulk-p")).xnachweisEndpoint, "https://p.example/x");
        const bad = await lotse.fetch("/admin/v1/imports/evidence-types", {
          method: "POST",
          headers: bearer(ADMIN, { "content-type": "application/x-ndjson" }),
          body: JSON.stringify({ id: "bulk-b", name: "Bulk B", classification: "urn:x" }),
        });
        assert.equal(bad.status, 422);
        await bad.body?.cancel();
      });

      await t.step("the OpenAPI document describes the new fields", async () => {
        const doc = JSON.stringify(await (await lotse.fetch("/openapi.json")).json());
        for (const field of ["classification", "xnachweisEndpoint", "onBehalfOf"]) {
          assert.ok(doc.includes(`"${field}"`), field);
        }
      });
    } finally {
      await lotse.close();
    }
  },
});
