/**
 * Parts of the public contract (docs/api.md) checked over real sockets: HTTPS serving,
 * `/readyz` before the tables are loaded, `/v1/protocol` paging and time filters, `/metrics`
 * content, bulk imports of every table, `PUT` of postcodes, and regions by `?ags` / `?ars`.
 */
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair } from "jose";
import { bearer, startTestLotse, type TestLotse } from "./_app.ts";
import { createTestPki } from "./_tls.ts";
import { waitFor } from "./_wait.ts";
import { parseConfig } from "../src/config.ts";
import { createHandler } from "../src/app.ts";
import { TableStore } from "../src/store.ts";
import { ProviderClients } from "../src/transport.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";
const IDNR = "86095742719";
const opts = { sanitizeResources: false, sanitizeOps: false };

function admin(lotse: TestLotse, method: string, path: string, body?: string, type?: string) {
  return lotse.fetch(`/admin/v1/${path}`, {
    method,
    headers: bearer(ADMIN, type ? { "content-type": type } : {}),
    body,
  });
}

async function json(res: Response, status: number): Promise<Record<string, unknown>> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text);
}

Deno.test({
  name: "Lotse serves HTTPS with the configured certificate",
  ...opts,
  fn: async () => {
    const pki = await createTestPki("Lotse HTTPS Test CA");
    const dir = await Deno.makeTempDir({ prefix: "lotse-https-" });
    await Deno.writeTextFile(`${dir}/cert.pem`, pki.cert);
    await Deno.writeTextFile(`${dir}/key.pem`, pki.key);
    const lotse = await startTestLotse({
      env: { LOTSE_TLS_CERT_FILE: `${dir}/cert.pem`, LOTSE_TLS_KEY_FILE: `${dir}/key.pem` },
    });
    const client = Deno.createHttpClient({ caCerts: [pki.caCert] });
    try {
      assert.match(lotse.base, /^https:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${lotse.base}/readyz`, { client });
      assert.equal((await json(res, 200)).status, "ready");
      // A client that does not trust the CA cannot talk to it; plain HTTP gets no answer.
      await assert.rejects(() => fetch(`${lotse.base}/healthz`));
      await assert.rejects(() => fetch(lotse.base.replace("https:", "http:") + "/healthz"));
    } finally {
      client.close();
      await lotse.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "/readyz answers 503 until the tables are loaded, then 200 with their version",
  ...opts,
  fn: async () => {
    const lotse = await startTestLotse();
    // The production handler over a store that has not loaded yet, on a socket of its own.
    const store = new TableStore(lotse.lotse.db);
    const providerClients = new ProviderClients();
    const { fetch: handler } = createHandler({
      config: parseConfig({ LOTSE_PUBLIC_URL: lotse.publicUrl }),
      db: lotse.lotse.db,
      store,
      metrics: lotse.lotse.metrics,
      iam: lotse.lotse.iam,
      protocol: lotse.lotse.protocol,
      providerClients,
      idnrHash: (idnr) => idnr,
    });
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
    const base = `http://127.0.0.1:${server.addr.port}`;
    try {
      const loading = await fetch(`${base}/readyz`);
      assert.deepEqual(await json(loading, 503), { status: "loading", tablesVersion: null });
      assert.equal((await fetch(`${base}/healthz`)).status, 200, "alive while loading");
      await store.load();
      const ready = await json(await fetch(`${base}/readyz`), 200);
      assert.deepEqual(ready, { status: "ready", tablesVersion: store.snapshot!.version });
    } finally {
      await server.shutdown();
      providerClients.close();
      await lotse.close();
    }
  },
});

Deno.test({
  name: "/v1/protocol pages a person's records oldest first and filters by from and to",
  ...opts,
  fn: async () => {
    const lotse = await startTestLotse();
    try {
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      const dsc = await lotse.token("dsc-cockpit");
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        // Distinct milliseconds, so the time filters below separate the records.
        const after = Date.now();
        await waitFor(() => Date.now() > after, "the next millisecond");
        const res = await lotse.fetch("/v1/evidence/fahrzeugzulassung?ags=08111000", {
          method: "POST",
          headers: bearer(consumer, {
            "lotse-purpose": DEMO_PURPOSES.bewohnerparken.purpose,
            "lotse-legal-basis": DEMO_PURPOSES.bewohnerparken.legalBasis,
            "lotse-idnr": IDNR,
            "content-type": "application/json",
          }),
          body: "{}",
        });
        assert.equal(res.status, 200);
        await res.arrayBuffer();
        ids.push(res.headers.get("lotse-transfer-id")!);
      }
      await lotse.lotse.protocol.drain();
      const get = async (query: string) =>
        await json(
          await lotse.fetch(`/v1/protocol?idnr=${IDNR}${query}`, { headers: bearer(dsc) }),
          200,
        ) as {
          records: { transferId: string; time: string }[];
          nextCursor: string | null;
        };

      const all = await get("");
      assert.deepEqual(all.records.map((r) => r.transferId), ids, "oldest first");
      assert.equal(all.nextCursor, null);
      const times = all.records.map((r) => r.time);

      // Pages of one, following nextCursor to the end.
      const paged: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await get(`&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
        assert.ok(page.records.length <= 1, `page ${pages} holds ${page.records.length}`);
        paged.push(...page.records.map((r) => r.transferId));
        cursor = page.nextCursor;
        pages++;
        assert.ok(pages <= 4, "paging ends");
      } while (cursor !== null);
      assert.deepEqual(paged, ids);

      // from is inclusive, to exclusive.
      const ofQuery = async (query: string) => (await get(query)).records.map((r) => r.transferId);
      assert.deepEqual(await ofQuery(`&from=${times[1]}`), ids.slice(1));
      assert.deepEqual(await ofQuery(`&to=${times[1]}`), ids.slice(0, 1));
      assert.deepEqual(await ofQuery(`&from=${times[1]}&to=${times[2]}`), [ids[1]]);
      const bad = await lotse.fetch(`/v1/protocol?idnr=${IDNR}&from=yesterday`, {
        headers: bearer(dsc),
      });
      assert.equal((await json(bad, 400)).type, "https://lotse.dev/problems/invalid-request");
      const badCursor = await lotse.fetch(`/v1/protocol?idnr=${IDNR}&cursor=xyz`, {
        headers: bearer(dsc),
      });
      assert.equal(badCursor.status, 400);
      await badCursor.body?.cancel();
    } finally {
      await lotse.close();
    }
  },
});

Deno.test({
  name: "/metrics counts what was served, in the Prometheus text format",
  ...opts,
  fn: async () => {
    const lotse = await startTestLotse();
    try {
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      for (let i = 0; i < 3; i++) {
        const nav = await lotse.fetch(
          "/v1/navigation?evidenceType=fahrzeugzulassung&ags=08111000",
          { headers: bearer(consumer) },
        );
        assert.equal(nav.status, 200);
        await nav.body?.cancel();
      }
      const unknown = await lotse.fetch(
        "/v1/navigation?evidenceType=fahrzeugzulassung&ags=99999999",
        {
          headers: bearer(consumer),
        },
      );
      assert.equal(unknown.status, 404);
      await unknown.body?.cancel();
      const res = await lotse.fetch("/v1/evidence/fahrzeugzulassung?ags=08111000", {
        method: "POST",
        headers: bearer(consumer, {
          "lotse-purpose": DEMO_PURPOSES.bewohnerparken.purpose,
          "lotse-legal-basis": DEMO_PURPOSES.bewohnerparken.legalBasis,
          "content-type": "application/json",
        }),
        body: "{}",
      });
      const evidence = new Uint8Array(await res.arrayBuffer());
      assert.equal(res.status, 200);
      const id = res.headers.get("lotse-transfer-id");
      await waitFor(async () => {
        const r = await lotse.fetch(`/v1/transfers/${id}`, { headers: bearer(consumer) });
        return (await r.json()).outcome === "delivered";
      }, "the transfer's outcome");
      await lotse.lotse.protocol.drain();

      const metrics = await lotse.fetch("/metrics");
      assert.equal(metrics.status, 200);
      assert.equal(metrics.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      const text = await metrics.text();
      const line = (name: string) => {
        const found = text.split("\n").find((l) => l.startsWith(`${name} `));
        assert.ok(found, `no line for ${name}`);
        return Number(found.slice(name.length + 1));
      };
      assert.equal(line('lotse_http_requests_total{route="GET /v1/navigation",status="200"}'), 3);
      assert.equal(line('lotse_http_requests_total{route="GET /v1/navigation",status="404"}'), 1);
      assert.equal(
        line('lotse_http_requests_total{route="POST /v1/evidence/:evidenceType",status="200"}'),
        1,
      );
      assert.equal(
        line('lotse_http_request_duration_seconds_count{route="GET /v1/navigation"}'),
        4,
      );
      assert.equal(line('lotse_transfers_total{outcome="delivered"}'), 1);
      assert.equal(line('lotse_transfer_bytes_total{direction="response"}'), evidence.length);
      assert.equal(line("lotse_protocol_queue_depth"), 0);
      assert.equal(line("lotse_tables_version"), lotse.lotse.store.snapshot!.version);
      assert.match(text, /^# TYPE lotse_http_requests_total counter$/m);
      assert.match(text, /^# TYPE lotse_http_request_duration_seconds histogram$/m);
    } finally {
      await lotse.close();
    }
  },
});

Deno.test({
  name: "PUT postcodes creates and replaces a PLZ's places, and navigation follows",
  ...opts,
  fn: async () => {
    const lotse = await startTestLotse();
    try {
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      const regions = async (query: string) => {
        const res = await lotse.fetch(`/v1/regions?${query}`, { headers: bearer(consumer) });
        return res.status === 200
          ? ((await res.json()).regions as { ags: string }[]).map((r) => r.ags)
          : res.status;
      };
      assert.equal(await regions("plz=70999"), 404);
      const created = await admin(
        lotse,
        "PUT",
        "postcodes/70999",
        JSON.stringify({ places: [{ ags: "08111000", ort: "Stuttgart" }] }),
        "application/json",
      );
      assert.deepEqual(await json(created, 201), {
        plz: "70999",
        places: [{ ags: "08111000", ort: "Stuttgart" }],
      });
      assert.deepEqual(await regions("plz=70999"), ["08111000"]);
      const replaced = await admin(
        lotse,
        "PUT",
        "postcodes/70999",
        JSON.stringify({
          places: [{ ags: "08118048", ort: "Ludwigsburg" }, { ags: "08111000", ort: "Stuttgart" }],
        }),
        "application/json",
      );
      await json(replaced, 200);
      assert.deepEqual(await regions("plz=70999"), ["08111000", "08118048"]);
      assert.deepEqual(await json(await admin(lotse, "GET", "postcodes/70999"), 200), {
        plz: "70999",
        places: [{ ags: "08111000", ort: "Stuttgart" }, { ags: "08118048", ort: "Ludwigsburg" }],
      });
      const bad = await admin(
        lotse,
        "PUT",
        "postcodes/7099",
        JSON.stringify({ places: [] }),
        "application/json",
      );
      assert.equal(bad.status, 400);
      await bad.body?.cancel();
    } finally {
      await lotse.close();
    }
  },
});

Deno.test({
  name: "regions are found by ?ags and by ?ars",
  ...opts,
  fn: async () => {
    const lotse = await startTestLotse();
    try {
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      const get = (query: string) =>
        lotse.fetch(`/v1/regions?${query}`, { headers: bearer(consumer) });
      const byAgs = await json(await get("ags=09184119"), 200);
      assert.deepEqual(byAgs.regions, [
        { ags: "09184119", ars: "091840119119", name: "Garching b. München" },
      ]);
      const byArs = await json(await get("ars=091840119119"), 200);
      assert.deepEqual(byArs.regions, byAgs.regions);
      assert.equal(
        (await json(await get("ags=99999999"), 404)).type,
        "https://lotse.dev/problems/unknown-region",
      );
      assert.equal(
        (await json(await get("ags=0918"), 400)).type,
        "https://lotse.dev/problems/invalid-request",
      );
      assert.equal(
        (await json(await get("ars=0918401191"), 400)).type,
        "https://lotse.dev/problems/invalid-request",
      );
    } finally {
      await lotse.close();
    }
  },
});

Deno.test({
  name: "a bulk import reaches every table, and navigation uses the imported rows",
  ...opts,
  fn: async () => {
    const lotse = await startTestLotse();
    try {
      const { publicKey } = await generateKeyPair("ES256");
      const jwk = { ...await exportJWK(publicKey), kid: "imp-1", alg: "ES256", use: "sig" };
      const rows: Record<string, Record<string, unknown>[]> = {
        "regions": [{ id: "09999002", name: "Importhausen" }, {
          id: "09999003",
          name: "Importdorf",
          ars: "099990003003",
        }],
        "postcodes": [{ id: "99002", places: [{ ags: "09999002", ort: "Importhausen" }] }],
        "evidence-types": [{ id: "imp-nachweis", name: "Importnachweis" }],
        "providers": [{
          id: "imp-register",
          name: "Importregister",
          endpoint: "https://register.example/imp",
        }],
        "routes": [{
          id: "imp-route",
          evidenceType: "imp-nachweis",
          regionKey: "09999",
          providerId: "imp-register",
        }],
        "clients": [{
          id: "imp-client",
          name: "Importamt",
          roles: ["consumer"],
          jwks: { keys: [jwk] },
        }],
        "permissions": [{
          id: "imp-permission",
          consumerId: "imp-client",
          evidenceType: "imp-nachweis",
          providerId: null,
          purposes: ["import"],
          legalBases: ["§ 1 ImportG"],
          idnrAllowed: false,
        }],
      };
      for (const [table, list] of Object.entries(rows)) {
        const body = list.map((r) => JSON.stringify(r)).join("\n") + "\n";
        const res = await admin(lotse, "POST", `imports/${table}`, body, "application/x-ndjson");
        const result = await json(res, 200);
        assert.equal(result.table, table);
        assert.equal(result.imported, list.length, table);
        for (const row of list) {
          const stored = await json(await admin(lotse, "GET", `${table}/${row.id}`), 200);
          assert.ok(stored, `${table}/${row.id}`);
        }
      }
      const tables = await json(await admin(lotse, "GET", "tables"), 200) as {
        tables: { name: string; count: number }[];
      };
      assert.deepEqual(tables.tables.map((t) => t.name).sort(), Object.keys(rows).sort());

      // The imported rows work together: the route, region and provider navigate, the PLZ
      // locates, and the permission is in the tables the Vermittlungsstelle decides on.
      const operator = await lotse.token("lotse-operator");
      const nav = await lotse.fetch("/v1/navigation?evidenceType=imp-nachweis&plz=99002", {
        headers: bearer(operator),
      });
      const navigated = await json(nav, 200) as {
        provider: { id: string };
        region: { ags: string };
      };
      assert.equal(navigated.provider.id, "imp-register");
      assert.equal(navigated.region.ags, "09999002");
      const permissions = lotse.lotse.store.snapshot!.tables.permissions;
      assert.ok(permissions.some((p) => p.id === "imp-permission"));
      assert.ok(lotse.lotse.store.snapshot!.clients.has("imp-client"));

      // All or nothing: one bad row, nothing written, 422 with the row named.
      const bad = await admin(
        lotse,
        "POST",
        "imports/regions",
        `${JSON.stringify({ id: "09999004", name: "Gut" })}\n${
          JSON.stringify({ id: "0999", name: "Schlecht" })
        }\n`,
        "application/x-ndjson",
      );
      const problem = await json(bad, 422);
      assert.equal(problem.type, "https://lotse.dev/problems/unprocessable");
      assert.equal((await admin(lotse, "GET", "regions/09999004")).status, 404);

      // CSV too (a header row, then one row per line).
      const csv = await admin(
        lotse,
        "POST",
        "imports/regions",
        "id,name\n09999005,Csvdorf\n",
        "text/csv",
      );
      assert.equal((await json(csv, 200)).imported, 1);
      assert.equal(
        (await json(await admin(lotse, "GET", "regions/09999005"), 200)).name,
        "Csvdorf",
      );
    } finally {
      await lotse.close();
    }
  },
});
