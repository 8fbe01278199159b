/**
 * PostgreSQL down: the instance keeps navigating and transferring from memory and the spool,
 * says `degraded` in `/readyz` with the reason, answers database-backed routes with 503 and
 * `Retry-After` (never 500), logs one line per change of state, and a new instance starts
 * from the table snapshot on disk and reconnects in the background.
 */
import assert from "node:assert/strict";
import { bearer, freePort, startTestLotse, type TestLotse } from "./_app.ts";
import { type Cluster, freshDatabaseUrl, startCluster } from "./_pg.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";
import { SNAPSHOT_FILE } from "../src/table_snapshot.ts";
import { parseConfig } from "../src/config.ts";
import { startLotse } from "../src/boot.ts";
import { createLogger, silentLogger } from "../src/log.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";
const { purpose, legalBasis } = DEMO_PURPOSES.bewohnerparken;

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000) {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

async function readyz(lotse: TestLotse) {
  const res = await lotse.fetch("/readyz");
  return { status: res.status, body: await res.json() };
}

function navigate(lotse: TestLotse, token: string) {
  return lotse.fetch("/v1/navigation?evidenceType=fahrzeugzulassung&plz=70173", {
    headers: bearer(token),
  });
}

function transfer(lotse: TestLotse, token: string) {
  return lotse.fetch("/v1/evidence/fahrzeugzulassung?plz=70173", {
    method: "POST",
    headers: bearer(token, {
      "lotse-purpose": purpose,
      "lotse-legal-basis": legalBasis,
      "content-type": "application/json",
    }),
    body: JSON.stringify({ kennzeichen: "S-LO 1234" }),
  });
}

async function snapshotWritten(dataDir: string) {
  return await until("the table snapshot", async () => {
    try {
      return await Deno.stat(`${dataDir}/${SNAPSHOT_FILE}`);
    } catch {
      return undefined;
    }
  });
}

Deno.test({
  name: "an instance keeps serving while PostgreSQL is down and a new one starts from its snapshot",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const cluster: Cluster = await startCluster();
    const dataDir = await Deno.makeTempDir({ prefix: "lotse-degraded-" });
    const env = { LOTSE_DEMO_PROVIDER_PORT: String(freePort()) };
    const lines: string[] = [];
    const logger = createLogger({ write: (line) => lines.push(JSON.parse(line).msg) });
    let a = null as TestLotse | null;
    let b = null as TestLotse | null;
    try {
      const databaseUrl = await freshDatabaseUrl(cluster.url);
      a = await startTestLotse({ databaseUrl, dataDir, env, logger });
      const consumer = await a.token("stuttgart-bewohnerparken");
      const first = await transfer(a, consumer);
      assert.equal(first.status, 200);
      await first.body?.cancel();
      const transferId = first.headers.get("lotse-transfer-id")!;
      await snapshotWritten(dataDir);
      assert.deepEqual((await readyz(a)).body.status, "ready");

      await cluster.stop();

      await t.step("database-backed routes answer 503 with Retry-After, never 500", async () => {
        for (let i = 0; i < 5; i++) {
          const res = await a!.fetch(`/v1/transfers/${transferId}`, { headers: bearer(consumer) });
          assert.equal(res.status, 503);
          assert.equal(res.headers.get("content-type"), "application/problem+json");
          assert.equal(res.headers.get("retry-after"), "5");
          assert.equal((await res.json()).type, "https://lotse.dev/problems/unavailable");
        }
        const put = await a!.fetch("/admin/v1/evidence-types/ausfall", {
          method: "PUT",
          headers: bearer(ADMIN, { "content-type": "application/json" }),
          body: JSON.stringify({ name: "Ausfall" }),
        });
        assert.equal(put.status, 503);
        assert.equal(put.headers.get("retry-after"), "5");
        await put.body?.cancel();
      });

      await t.step("/readyz stays 200 and says degraded with the reason", async () => {
        const { status, body } = await until("degraded", async () => {
          const r = await readyz(a!);
          return r.body.status === "degraded" ? r : undefined;
        });
        assert.equal(status, 200);
        assert.equal(body.database.status, "unreachable");
        assert.ok(body.database.reason.length > 0);
      });

      await t.step("navigation and transfers go on from memory and the spool", async () => {
        const nav = await navigate(a!, consumer);
        assert.equal(nav.status, 200);
        await nav.body?.cancel();
        const res = await transfer(a!, consumer);
        assert.equal(res.status, 200);
        await res.body?.cancel();
      });

      await t.step("one log line for the outage, not one per failed poll", async () => {
        // Several 503s have failed by now; wait for more failed table polls on top.
        const seen = a!.lotse.health.failures;
        await until(
          "four more failed polls",
          () => Promise.resolve(a!.lotse.health.failures >= seen + 4 ? true : undefined),
        );
        const outages = lines.filter((l) => l.startsWith("PostgreSQL unreachable"));
        assert.equal(outages.length, 1, lines.join("\n"));
      });

      await t.step("a new instance starts from the snapshot while PostgreSQL is down", async () => {
        // Its demo providers on a port of their own (A's still serve the snapshot's
        // endpoints), and a spool of its own: the snapshot is what it shares with A.
        b = await startTestLotse({
          databaseUrl,
          dataDir,
          env: { LOTSE_SPOOL_DIR: `${dataDir}/spool-b` },
          logger,
        });
        const r = await readyz(b);
        assert.equal(r.status, 200);
        assert.equal(r.body.status, "degraded");
        assert.equal(r.body.tablesVersion, (await readyz(a!)).body.tablesVersion);
        const token = await b.token("stuttgart-bewohnerparken");
        const nav = await navigate(b, token);
        assert.equal(nav.status, 200);
        assert.equal((await nav.json()).provider.id, "kba-zfzr");
      });

      await t.step("both reconnect in the background when PostgreSQL returns", async () => {
        await cluster.start();
        for (const lotse of [a!, b!]) {
          await until("ready", async () => {
            const r = await readyz(lotse);
            return r.body.status === "ready" ? r : undefined;
          });
        }
        const res = await a!.fetch(`/v1/transfers/${transferId}`, { headers: bearer(consumer) });
        assert.equal(res.status, 200);
        await res.body?.cancel();
        const put = await b!.fetch("/admin/v1/evidence-types/wieder-da", {
          method: "PUT",
          headers: bearer(ADMIN, { "content-type": "application/json" }),
          body: JSON.stringify({ name: "Wieder da" }),
        });
        assert.equal(put.status, 201);
        await put.body?.cancel();
        assert.ok(lines.some((l) => l.startsWith("PostgreSQL reachable again")), lines.join("\n"));
      });
    } finally {
      await b?.close();
      await a?.close();
      await cluster.destroy();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "without PostgreSQL and without a snapshot, Lotse refuses to start and says why",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "lotse-nosnap-" });
    try {
      await assert.rejects(
        () =>
          startTestLotse({ databaseUrl: `postgres://postgres@127.0.0.1:${freePort()}/x`, dataDir }),
        /PostgreSQL cannot be reached .* no table snapshot/,
      );
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});

Deno.test("with DATABASE_URL, Lotse refuses to start without LOTSE_PUBLIC_URL and says why", async () => {
  const config = parseConfig({
    DATABASE_URL: `postgres://postgres@127.0.0.1:${freePort()}/x`,
    LOTSE_KEY_SECRET: "test-key-secret-of-at-least-32-characters",
    LOTSE_PROTOCOL_KEY: "test-protocol-key-of-at-least-32-chars",
  });
  await assert.rejects(
    () => startLotse(config, { serve: false, logger: silentLogger }),
    /LOTSE_PUBLIC_URL must be set when DATABASE_URL is set/,
  );
});
