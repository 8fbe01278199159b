/**
 * What an operator sees: one JSON log line per request (route pattern, status, duration,
 * client id, transfer id, request id, traceparent; never a token or IDNr), metrics a
 * Prometheus parser reads (request bytes, per-provider errors, process), and the security
 * headers on every response, fast path included.
 */
import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { bearer, startTestLotse, type TestLotse } from "./_app.ts";
import { createLogger } from "../src/log.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";
const IDNR = "86095742719";
const TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const { purpose, legalBasis } = DEMO_PURPOSES.bewohnerparken;

/** A provider that answers 500 when asked to fail, else a small body. */
function provider() {
  const seen: Headers[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push(req.headers);
    const body = await req.text();
    if (body.includes('"fail"')) return new Response("broken", { status: 500 });
    return new Response('{"ok":true}', { headers: { "content-type": "application/json" } });
  });
  return { seen, server, url: `http://127.0.0.1:${server.addr.port}/evidence` };
}

async function put(lotse: TestLotse, path: string, body: unknown) {
  const res = await lotse.fetch(`/admin/v1/${path}`, {
    method: "PUT",
    headers: bearer(ADMIN, { "content-type": "application/json" }),
    body: JSON.stringify(body),
  });
  assert.ok(res.status < 300, await res.text());
}

type Family = {
  name: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
};

Deno.test({
  name: "requests are logged once each, metrics parse, every response has security headers",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lines: Record<string, unknown>[] = [];
    const raw: string[] = [];
    const logger = createLogger({
      write: (line) => {
        raw.push(line);
        lines.push(JSON.parse(line));
      },
    });
    const lotse = await startTestLotse({ serve: true, logger });
    const upstream = provider();
    try {
      await put(lotse, "evidence-types/obs", { name: "Beobachtung" });
      await put(lotse, "providers/obs", { name: "Obs", endpoint: upstream.url });
      await put(lotse, "routes/obs-bund", {
        evidenceType: "obs",
        regionKey: "",
        providerId: "obs",
      });
      await put(lotse, "permissions/obs", {
        consumerId: "stuttgart-bewohnerparken",
        evidenceType: "obs",
        providerId: "obs",
        purposes: [purpose],
        legalBases: [legalBasis],
        idnrAllowed: true,
      });
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      const transfer = (body: string) =>
        lotse.fetch("/v1/evidence/obs?ags=08111000", {
          method: "POST",
          headers: bearer(consumer, {
            "lotse-purpose": purpose,
            "lotse-legal-basis": legalBasis,
            "lotse-idnr": IDNR,
            "content-type": "application/json",
            "traceparent": TRACEPARENT,
            "x-request-id": "req-42",
          }),
          body,
        });

      await t.step("one line per request, with route, client, transfer and trace", async () => {
        // Warm the token cache so the next navigation takes the fast path.
        await (await lotse.fetch("/v1/evidence-types", { headers: bearer(consumer) })).text();
        const before = lines.length;
        const nav = await lotse.fetch("/v1/navigation?evidenceType=obs&ags=08111000", {
          headers: bearer(consumer, { "x-request-id": "nav-1" }),
        });
        assert.equal(nav.status, 200);
        await nav.text();
        const big = JSON.stringify({ pad: "x".repeat(500_000) });
        const sent = await transfer(big);
        assert.equal(sent.status, 200);
        await sent.text();
        const missing = await lotse.fetch("/v1/transfers/not-a-uuid", {
          headers: bearer(consumer),
        });
        await missing.text();
        const requests = lines.slice(before).filter((l) => l.msg === "request");
        assert.deepEqual(requests.map((l) => [l.route, l.status]), [
          ["GET /v1/navigation", 200],
          ["POST /v1/evidence/:evidenceType", 200],
          ["GET /v1/transfers/:id", 400],
        ]);
        assert.equal(requests[0]!.clientId, "stuttgart-bewohnerparken");
        assert.equal(requests[0]!.requestId, "nav-1");
        assert.equal(requests[1]!.transferId, sent.headers.get("lotse-transfer-id"));
        assert.equal(requests[1]!.traceparent, TRACEPARENT);
        assert.equal(requests[1]!.requestId, "req-42");
        for (const l of requests) {
          assert.equal(typeof l.durationMs, "number");
          assert.ok(!Number.isNaN(Date.parse(l.time as string)));
        }
        const all = raw.join("\n");
        assert.ok(!all.includes(consumer), "no token in the log");
        assert.ok(!all.includes(IDNR), "no IDNr in the log");
        assert.ok(!all.includes(ADMIN), "no admin token in the log");
      });

      await t.step("metrics: request bytes, provider errors, process", async () => {
        const failed = await transfer('{"fail":true}');
        assert.equal(failed.status, 502);
        await failed.text();
        const text = await (await lotse.fetch("/metrics")).text();
        const families = new Map(
          (parsePrometheus(text) as Family[]).map((f) => [f.name, f]),
        );
        const value = (name: string, labels: Record<string, string> = {}) => {
          const family = families.get(name);
          assert.ok(family, `family ${name}`);
          const sample = family.metrics.find((m) =>
            Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)
          );
          assert.ok(sample, `${name} ${JSON.stringify(labels)}`);
          return Number(sample.value);
        };
        assert.ok(value("lotse_transfer_bytes_total", { direction: "request" }) >= 500_000);
        assert.equal(value("lotse_provider_errors_total", { provider: "obs", status: "502" }), 1);
        assert.equal(families.get("lotse_provider_errors_total")!.type, "COUNTER");
        assert.ok(value("process_resident_memory_bytes") > 10 * 1024 * 1024);
        assert.ok(value("process_cpu_seconds_total") > 0);
        assert.ok(value("process_start_time_seconds") > 1.7e9);
        assert.ok(value("process_open_fds") > 0);
        // What the protocol added to each transfer (P6): a histogram with every transfer.
        const wait = families.get("lotse_protocol_wait_seconds");
        assert.equal(wait?.type, "HISTOGRAM");
        const series = wait.metrics[0] as unknown as { count: string; buckets: object };
        assert.ok(Number(series.count) >= 2, JSON.stringify(series));
        // Where that wait goes: each entry's stages, and the event loop's delay beside them
        // (the parser keeps no labels of a histogram: read the counts off the text).
        assert.equal(families.get("lotse_protocol_stage_seconds")?.type, "HISTOGRAM");
        for (const stage of ["queued", "database", "resumed"]) {
          const count = text.match(
            new RegExp(`^lotse_protocol_stage_seconds_count\\{stage="${stage}"\\} (\\d+)$`, "m"),
          );
          assert.ok(Number(count?.[1]) >= 2, `${stage}: ${count?.[0]}`);
        }
        // The batches those entries went in: at least one, at most one per entry.
        assert.equal(families.get("lotse_protocol_batches_total")?.type, "COUNTER");
        const batches = value("lotse_protocol_batches_total");
        assert.equal(families.get("lotse_protocol_entries_total")?.type, "COUNTER");
        const entries = value("lotse_protocol_entries_total");
        assert.ok(batches >= 1 && batches <= entries, `${batches} batches, ${entries} entries`);
        const loop = families.get("lotse_event_loop_delay_seconds");
        assert.equal(loop?.type, "HISTOGRAM");
        assert.ok(Number((loop.metrics[0] as unknown as { count: string }).count) >= 1);
      });

      await t.step("every response carries the security headers, no HSTS over http", async () => {
        const responses = [
          await lotse.fetch("/v1/navigation?evidenceType=obs&ags=08111000", {
            headers: bearer(consumer),
          }),
          await lotse.fetch("/healthz"),
          await lotse.fetch("/nowhere"),
          await lotse.fetch("/metrics"),
          await transfer("{}"),
        ];
        for (const res of responses) {
          await res.body?.cancel();
          assert.equal(res.headers.get("x-content-type-options"), "nosniff", res.url);
          assert.equal(res.headers.get("x-frame-options"), "DENY", res.url);
          assert.equal(res.headers.get("referrer-policy"), "no-referrer", res.url);
          assert.equal(res.headers.get("strict-transport-security"), null, res.url);
        }
      });
    } finally {
      await upstream.server.shutdown();
      await lotse.close();
    }
  },
});

Deno.test({
  name: "HSTS is sent when clients come over HTTPS (public URL behind a TLS balancer)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lotse = await startTestLotse({ env: { LOTSE_PUBLIC_URL: "https://lotse.example" } });
    try {
      for (const path of ["/healthz", "/nowhere"]) {
        const res = await lotse.fetch(path);
        await res.body?.cancel();
        assert.match(res.headers.get("strict-transport-security") ?? "", /^max-age=\d{7,}/);
      }
    } finally {
      await lotse.close();
    }
  },
});
