/**
 * Two instances on one PostgreSQL: a table change made on one reaches the other's navigation
 * (by NOTIFY, and by the version poll when the NOTIFY is lost), and a signing key rotated by
 * one instance's key maintenance is trusted by the other at once.
 */
import assert from "node:assert/strict";
import { bearer, clientAssertion, type TestLotse, testTwoInstances, tokenForm } from "./_app.ts";
import { writeRow } from "../db/tables.ts";
import { waitFor } from "./_wait.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";

/** Asks `lotse` for the Gewerberegister of Gemeinde `ags`, as a demo consumer. */
async function gewerbeNavigation(lotse: TestLotse, ags: string): Promise<Response> {
  const consumer = await lotse.token("stuttgart-bewohnerparken");
  return await lotse.fetch(`/v1/navigation?evidenceType=gewerberegisterauszug&ags=${ags}`, {
    headers: bearer(consumer),
  });
}

testTwoInstances("a change on one instance reaches every instance", async (a, b, t) => {
  await t.step("a new route written on A navigates on B", async () => {
    const nav = () => gewerbeNavigation(b, "09184145");
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
    await waitFor(async () => (await nav()).status === 200, "B to navigate the new route");
  });

  await t.step("a change whose NOTIFY is lost still arrives by the version poll", async () => {
    const nav = () => gewerbeNavigation(b, "09999001");
    assert.equal((await nav()).status, 404);
    const before = b.lotse.store.snapshot!.version;
    // What the admin API does, minus the NOTIFY: the row and the version bump only.
    await a.lotse.db.transaction(async (tx) => {
      await writeRow(tx, "regions", { ags: "09999001", ars: null, name: "Pollhausen" });
      await writeRow(tx, "routes", {
        id: "gewerbe-pollhausen",
        evidenceType: "gewerberegisterauszug",
        regionKey: "09999001",
        providerId: "gewerberegister-09184119",
      });
      await tx.sql`update table_versions set version = version + 1
          where name in ('regions', 'routes')`;
    });
    await waitFor(async () => (await nav()).status === 200, "B to navigate the new route");
    assert.equal(b.lotse.store.snapshot!.version, before + 2);
  });

  await t.step("a key rotated by A's maintenance is published and trusted by B", async () => {
    const oldKid = b.lotse.iam.keys.activeKid;
    // The timer's own path, run as of 31 days on: the active key is due (30 days).
    await a.lotse.maintainKeys(Date.now() + 31 * 24 * 3600_000);
    const newKid = a.lotse.iam.keys.activeKid;
    assert.notEqual(newKid, oldKid);
    // A signs with the new key; B must accept the token and publish the key.
    const token = await a.token("service-bw-gewerbe");
    const res = await b.fetch("/v1/evidence-types", { headers: bearer(token) });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const kids = await waitFor(async () => {
      const jwks = await (await b.fetch("/.well-known/jwks.json")).json();
      const kids: string[] = jwks.keys.map((k: { kid: string }) => k.kid);
      return kids.includes(newKid) ? kids : null;
    }, "B to publish the new key");
    assert.ok(kids.includes(oldKid), "B still publishes the old key for its live tokens");
  });
});

testTwoInstances(
  "a client assertion used on one instance is refused by the other",
  async (a, b) => {
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
  },
);
