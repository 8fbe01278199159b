/**
 * Draining before a stop (`LOTSE_DRAIN_MS`): once a stop begins, `/readyz` answers 503
 * `draining` so a load balancer takes the instance out, while requests are still served until
 * the drain time is over and the listener closes.
 */
import assert from "node:assert/strict";
import { bearer, startTestLotse } from "./_app.ts";
import { waitFor } from "./_wait.ts";

Deno.test({
  name: "a stopping instance says draining in /readyz and still serves until the drain is over",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lotse = await startTestLotse({ serve: true, env: { LOTSE_DRAIN_MS: "1500" } });
    const token = await lotse.token("stuttgart-bewohnerparken");
    const ready = await lotse.fetch("/readyz");
    assert.equal((await ready.json()).status, "ready");
    const stopped = lotse.close();
    const draining = await waitFor(async () => {
      const res = await lotse.fetch("/readyz");
      const body = await res.json();
      return body.status === "draining" ? { status: res.status, body } : null;
    }, "/readyz to say draining");
    assert.equal(draining.status, 503);
    assert.equal(typeof draining.body.tablesVersion, "number");
    const nav = await lotse.fetch(
      "/v1/navigation?evidenceType=fahrzeugzulassung&ags=08111000",
      { headers: bearer(token) },
    );
    assert.equal(nav.status, 200, await nav.clone().text());
    await nav.body?.cancel();
    await stopped;
    await assert.rejects(lotse.fetch("/readyz"), "the listener is closed after the drain");
  },
});
