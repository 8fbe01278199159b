/**
 * Two instances on one PostgreSQL: a table change made on one reaches the other's navigation
 * within a second, and a signing key rotated on one is trusted by the other at once.
 */
import assert from "node:assert/strict";
import { bearer, clientAssertion, startTestLotse, tokenForm } from "./_app.ts";
import { KEYS_CHANNEL } from "../src/boot.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";

Deno.test({
  name: "a change on one instance reaches every instance within a second",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const a = await startTestLotse();
    const b = await startTestLotse({ databaseUrl: a.databaseUrl });
    try {
      await t.step("a new route written on A navigates on B", async () => {
        const consumer = await b.token("stuttgart-bewohnerparken");
        const nav = () =>
          b.fetch("/v1/navigation?evidenceType=gewerberegisterauszug&ags=09184145", {
            headers: bearer(consumer),
          });
        assert.equal((await nav()).status, 404);
        const put = await a.fetch("/admin/v1/routes/gewerbe-taufkirchen", {
          method: "PUT",
          headers: bearer(ADMIN, { "content-type": "application/json" }),
          body: JSON.stringify({
            evidenceType: "gewerberegisterauszug",
            regionKey: "09184145",
            providerId: "gewerberegister-09184119",
          }),
        });
        assert.equal(put.status, 201);
        const written = performance.now();
        let status = 0;
        while (performance.now() - written < 1000) {
          status = (await nav()).status;
          if (status === 200) break;
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(status, 200, "B navigates with the new route within 1 s");
      });

      await t.step("a key rotated on A is published and trusted by B", async () => {
        const oldKid = b.lotse.iam.keys.activeKid;
        const newKid = await a.lotse.iam.keys.rotate();
        assert.notEqual(newKid, oldKid);
        await a.lotse.db.notify(KEYS_CHANNEL, newKid);
        // A signs with the new key; B must accept the token and publish the key.
        const token = await a.token("service-bw-gewerbe");
        const res = await b.fetch("/v1/evidence-types", { headers: bearer(token) });
        assert.equal(res.status, 200);
        await res.body?.cancel();
        const start = performance.now();
        let kids: string[] = [];
        while (performance.now() - start < 1000) {
          kids = (await (await b.fetch("/.well-known/jwks.json")).json()).keys.map((
            k: { kid: string },
          ) => k.kid);
          if (kids.includes(newKid)) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.ok(kids.includes(newKid), "B publishes the new key");
        assert.ok(kids.includes(oldKid), "B still publishes the old key for its live tokens");
      });
    } finally {
      await b.close();
      await a.close();
    }
  },
});

Deno.test({
  name: "a client assertion used on one instance is refused by the other",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const a = await startTestLotse();
    const b = await startTestLotse({ databaseUrl: a.databaseUrl });
    try {
      // Both instances share one public URL (behind one balancer): the same audience.
      const assertion = await clientAssertion(
        "stuttgart-bewohnerparken",
        `${a.publicUrl}/v1/token`,
      );
      const post = (lotse: typeof a) =>
        lotse.fetch("/v1/token", {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: tokenForm("stuttgart-bewohnerparken", assertion),
        });
      const first = await post(a);
      assert.equal(first.status, 200);
      await first.body?.cancel();
      const replayed = await post(b);
      assert.equal(replayed.status, 401);
      assert.equal((await replayed.json()).error, "invalid_client");
    } finally {
      await b.close();
      await a.close();
    }
  },
});
