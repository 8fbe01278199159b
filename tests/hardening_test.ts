/**
 * Issue 10's findings that an in-process instance shows (the connection-level ones are in
 * connections_test.ts, the evidence-path ones in evidence_api_test.ts): bounded metrics,
 * CSV import headers, admin input, imports, rate limits and HTTP edges.
 */
import assert from "node:assert/strict";
import { startTestLotse } from "./_app.ts";

Deno.test("Invented methods and paths do not add series to /metrics", async () => {
  const lotse = await startTestLotse();
  try {
    const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (let i = 0; i < 300; i++) {
      let method = "";
      for (let j = 0; j < 40; j++) method += letters[(i * 7 + j * 13) % 26];
      const res = await lotse.fetch(`/x${i}/${method.toLowerCase()}`, { method: `M${i}${method}` });
      await res.body?.cancel();
    }
    const text = await (await lotse.fetch("/metrics")).text();
    const routes = new Set(
      [...text.matchAll(/^lotse_http_requests_total\{route="([^"]*)"/gm)].map((m) => m[1]),
    );
    assert.ok(routes.has("OTHER unmatched"), [...routes].join(", "));
    assert.ok(routes.size < 10, `route labels: ${[...routes].join(", ")}`);
    assert.ok(text.length < 20_000, `/metrics is ${text.length} bytes`);
  } finally {
    await lotse.close();
  }
});
