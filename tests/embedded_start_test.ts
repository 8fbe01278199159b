/**
 * `deno task start` as a newcomer runs it: no `DATABASE_URL`, so Lotse boots the embedded
 * database (PGlite) in its data directory, makes its own secrets there, serves the demo, and
 * comes back with the same data after a restart.
 *
 * The task's command line is read from deno.json and run directly: `deno task` does not pass
 * SIGTERM on to its child, and the test must stop and restart the process it started.
 */
import assert from "node:assert/strict";
import { spawnLotse } from "./_lotse_process.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";

const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
const START: string[] = (config.tasks.start as string).split(/\s+/);

Deno.test({
  name: "deno task start boots the embedded database and serves a whole transfer",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    assert.equal(START[0], "deno");
    assert.ok(START.includes("src/main.ts"));
    const lotse = await spawnLotse({
      databaseUrl: null,
      args: START.slice(1),
      readyTimeoutMs: 120_000,
    });
    try {
      const token = await lotse.token("stuttgart-bewohnerparken");
      const transfer = () =>
        fetch(`${lotse.url}/v1/evidence/fahrzeugzulassung?ags=08111000`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${token}`,
            "lotse-purpose": DEMO_PURPOSES.bewohnerparken.purpose,
            "lotse-legal-basis": DEMO_PURPOSES.bewohnerparken.legalBasis,
            "content-type": "application/json",
          },
          body: '{"kennzeichen":"S-LO 1234"}',
        });
      const res = await transfer();
      assert.equal(res.status, 200, await res.clone().text());
      assert.match(await res.text(), /S-LO 1234/);
      const id = res.headers.get("lotse-transfer-id")!;

      // The embedded database and the secrets live in the data directory.
      const files = [];
      for await (const entry of Deno.readDir(lotse.dataDir)) files.push(entry.name);
      assert.deepEqual(
        files.filter((f) => ["pglite", "key-secret", "protocol-key"].includes(f)).sort(),
        ["key-secret", "pglite", "protocol-key"],
      );
      assert.doesNotMatch(lotse.output, /DATABASE_URL/);

      // A restart on the same data directory keeps the protocol and the signing keys.
      const jwks = await (await fetch(`${lotse.url}/.well-known/jwks.json`)).json();
      await lotse.restart();
      const again = await (await fetch(`${lotse.url}/.well-known/jwks.json`)).json();
      assert.deepEqual(
        again.keys.map((k: { kid: string }) => k.kid),
        jwks.keys.map((k: { kid: string }) => k.kid),
      );
      const fresh = await lotse.token("stuttgart-bewohnerparken");
      const record = await fetch(`${lotse.url}/v1/transfers/${id}`, {
        headers: { authorization: `Bearer ${fresh}` },
      });
      const body = await record.json();
      assert.equal(record.status, 200, JSON.stringify(body));
      assert.equal(body.transferId, id);
      assert.equal(body.outcome, "delivered");
    } finally {
      await lotse.close();
    }
  },
});
