/**
 * Traces: Lotse run with Deno's built-in OpenTelemetry (`OTEL_DENO=true`) exports its spans to
 * an OTLP/HTTP receiver (this test runs one), and passes the W3C `traceparent` on to the
 * provider, in the consumer's trace.
 */
import assert from "node:assert/strict";
import { CHILD_SECRETS, spawnLotse } from "./_lotse_process.ts";
import { freshDatabaseUrl } from "./_pg.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
const { purpose, legalBasis } = DEMO_PURPOSES.bewohnerparken;

interface OtlpSpan {
  traceId: string;
  name: string;
  kind: number;
}

Deno.test({
  name: "spans reach an OTLP/HTTP receiver and the trace goes on to the provider",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const spans: OtlpSpan[] = [];
    const receiver = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const body = await req.json().catch(() => null);
      if (new URL(req.url).pathname === "/v1/traces" && body) {
        for (const rs of body.resourceSpans ?? []) {
          for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
        }
      }
      return Response.json({});
    });
    const traceparents: (string | null)[] = [];
    const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      traceparents.push(req.headers.get("traceparent"));
      await req.body?.cancel();
      return Response.json({ ok: true });
    });
    const lotse = await spawnLotse({
      databaseUrl: await freshDatabaseUrl(),
      env: {
        OTEL_DENO: "true",
        OTEL_SERVICE_NAME: "lotse-test",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.addr.port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      },
    });
    try {
      const admin = (path: string, body: unknown) =>
        fetch(`${lotse.url}/admin/v1/${path}`, {
          method: "PUT",
          headers: {
            authorization: `Bearer ${CHILD_SECRETS.LOTSE_ADMIN_TOKEN}`,
            "content-type": "application/json",
          },
          body: JSON.stringify(body),
        }).then(async (res) => assert.ok(res.status < 300, await res.text()));
      await admin("evidence-types/spur", { name: "Spur" });
      await admin("providers/spur", {
        name: "Spur",
        endpoint: `http://127.0.0.1:${upstream.addr.port}/evidence`,
      });
      await admin("routes/spur-bund", { evidenceType: "spur", regionKey: "", providerId: "spur" });
      await admin("permissions/spur", {
        consumerId: "stuttgart-bewohnerparken",
        evidenceType: "spur",
        providerId: "spur",
        purposes: [purpose],
        legalBases: [legalBasis],
        idnrAllowed: false,
      });
      const token = await lotse.token("stuttgart-bewohnerparken");
      const res = await fetch(`${lotse.url}/v1/evidence/spur?ags=08111000`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "lotse-purpose": purpose,
          "lotse-legal-basis": legalBasis,
          "content-type": "application/json",
          traceparent: TRACEPARENT,
        },
        body: "{}",
      });
      assert.equal(res.status, 200, await res.clone().text());
      await res.body?.cancel();

      assert.equal(traceparents.length, 1);
      assert.match(traceparents[0] ?? "", new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));

      const deadline = performance.now() + 20_000;
      const inTrace = () => spans.filter((s) => s.traceId === TRACE_ID);
      // Server span of the request and client span of the call to the provider.
      while (inTrace().length < 2 && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const kinds = new Set(inTrace().map((s) => s.kind));
      assert.ok(kinds.has(2), `a server span in the trace: ${JSON.stringify(inTrace())}`);
      assert.ok(kinds.has(3), `a client span in the trace: ${JSON.stringify(inTrace())}`);
    } finally {
      await lotse.close();
      await upstream.shutdown();
      await receiver.shutdown();
    }
  },
});
