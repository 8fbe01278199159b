/**
 * The audit trail: every admin write and import is recorded with who, when, table, key,
 * before and after (secrets redacted), in the same transaction as the change, and can be
 * read back filtered through `GET /admin/v1/audit`.
 */
import assert from "node:assert/strict";
import { bearer, startTestLotse } from "./_app.ts";
import { purgeAudit, recordAudit } from "../db/audit.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";

Deno.test({
  name: "admin writes and imports are audited with who, what, before and after",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lotse = await startTestLotse();
    try {
      const operator = await lotse.token("lotse-operator");
      const send = (
        token: string,
        method: string,
        path: string,
        body?: unknown,
        type = "application/json",
      ) =>
        lotse.fetch(path, {
          method,
          headers: bearer(token, { "content-type": type }),
          body: body === undefined
            ? undefined
            : typeof body === "string"
            ? body
            : JSON.stringify(body),
        });
      const audit = async (query: string, token = operator) => {
        const res = await lotse.fetch(`/admin/v1/audit?${query}`, { headers: bearer(token) });
        assert.equal(res.status, 200);
        return await res.json() as {
          entries: Record<string, unknown>[];
          nextCursor: string | null;
        };
      };
      const route = {
        evidenceType: "gewerberegisterauszug",
        regionKey: "09184145",
        providerId: "gewerberegister-09184119",
      };

      await t.step("a create, a change and a delete each leave one entry", async () => {
        assert.equal((await send(operator, "PUT", "/admin/v1/routes/audit-1", route)).status, 201);
        const changed = { ...route, regionKey: "09184" };
        assert.equal(
          (await send(operator, "PUT", "/admin/v1/routes/audit-1", changed)).status,
          200,
        );
        assert.equal((await send(ADMIN, "DELETE", "/admin/v1/routes/audit-1")).status, 204);
        const { entries } = await audit("table=routes&key=audit-1");
        assert.deepEqual(entries.map((e) => [e.action, e.actor]), [
          ["delete", "bootstrap-operator"],
          ["put", "lotse-operator"],
          ["put", "lotse-operator"],
        ]);
        const [del, change, create] = entries;
        assert.equal(create!.before, null);
        assert.deepEqual(create!.after, { id: "audit-1", ...route });
        assert.deepEqual(change!.before, { id: "audit-1", ...route });
        assert.deepEqual(change!.after, { id: "audit-1", ...changed });
        assert.deepEqual(del!.before, { id: "audit-1", ...changed });
        assert.equal(del!.after, null);
        assert.ok(Date.parse(create!.at as string) <= Date.parse(del!.at as string));
      });

      await t.step("a refused write leaves no entry (same transaction)", async () => {
        const res = await send(operator, "PUT", "/admin/v1/routes/audit-2", {
          ...route,
          providerId: "weg",
        });
        assert.equal(res.status, 400);
        await res.body?.cancel();
        assert.deepEqual((await audit("key=audit-2")).entries, []);
      });

      await t.step("an import is one entry with its row count", async () => {
        const res = await send(
          operator,
          "POST",
          "/admin/v1/imports/regions",
          "id,name\n09999101,Eins\n09999102,Zwei\n",
          "text/csv",
        );
        assert.equal(res.status, 200);
        await res.body?.cancel();
        const { entries } = await audit("action=import&table=regions");
        assert.equal(entries.length, 1);
        assert.equal(entries[0]!.actor, "lotse-operator");
        assert.equal((entries[0]!.detail as { rows: number }).rows, 2);
      });

      await t.step("secrets in a recorded row are redacted", async () => {
        const jwk = { kty: "EC", crv: "P-256", x: "x", y: "y", d: "PRIVATE-PART" };
        await lotse.lotse.db.transaction((tx) =>
          recordAudit(tx, {
            actor: "onboarding",
            action: "onboarding-approve",
            table: "clients",
            key: "secretive",
            after: { id: "secretive", jwks: { keys: [jwk] }, password: "hunter2" },
          })
        );
        const { entries } = await audit("table=clients&key=secretive");
        assert.equal(entries.length, 1);
        const text = JSON.stringify(entries[0]);
        assert.ok(!text.includes("PRIVATE-PART") && !text.includes("hunter2"), text);
        assert.deepEqual(entries[0]!.after, {
          id: "secretive",
          jwks: { keys: [{ ...jwk, d: "[redacted]" }] },
          password: "[redacted]",
        });
      });

      await t.step("filters by actor and time, pages by cursor", async () => {
        const byAdmin = await audit("actor=bootstrap-operator");
        assert.ok(byAdmin.entries.length >= 1);
        assert.ok(byAdmin.entries.every((e) => e.actor === "bootstrap-operator"));
        assert.deepEqual((await audit("from=2999-01-01")).entries, []);
        const first = await audit("limit=1");
        assert.equal(first.entries.length, 1);
        assert.ok(first.nextCursor);
        const second = await audit(`limit=1&cursor=${first.nextCursor}`);
        assert.ok(Number(second.entries[0]!.id) < Number(first.entries[0]!.id));
      });

      await t.step("bad parameters are 400, other roles 403", async () => {
        for (const q of ["limit=0", "limit=x", "from=yesterday", "cursor=abc"]) {
          const res = await lotse.fetch(`/admin/v1/audit?${q}`, { headers: bearer(operator) });
          assert.equal(res.status, 400, q);
          assert.equal(res.headers.get("content-type"), "application/problem+json");
          await res.body?.cancel();
        }
        const consumer = await lotse.token("stuttgart-bewohnerparken");
        const res = await lotse.fetch("/admin/v1/audit", { headers: bearer(consumer) });
        assert.equal(res.status, 403);
        await res.body?.cancel();
      });

      await t.step("entries older than the retention are purged", async () => {
        await lotse.lotse.db.transaction(async (tx) => {
          await recordAudit(tx, { actor: "x", action: "put", table: "old", key: "k" });
          await tx
            .sql`update audit_entries set at = now() - interval '800 days' where table_name = 'old'`;
        });
        const cut = new Date(Date.now() - 730 * 24 * 3600_000);
        assert.equal(await purgeAudit(lotse.lotse.db, cut), 1);
        assert.deepEqual((await audit("table=old")).entries, []);
        assert.ok((await audit("table=routes")).entries.length >= 3, "newer entries stay");
      });
    } finally {
      await lotse.close();
    }
  },
});
