/**
 * The reference servers P1 is measured against: `Deno.serve` answering every request with a
 * small JSON body, directly or through a minimal Hono app. Nothing else, so the difference
 * to Lotse is what Lotse does per request.
 *
 * `--shaped` is the second reference: the runtime's own cost of the I/O Lotse's navigation
 * answer has, with none of Lotse's decisions. It reads what Lotse's edge reads (method, target,
 * every header field, the peer address) and answers with the same header fields (Content-Type,
 * the four security fields, `RateLimit-Policy`, `RateLimit`) and a body of the same size, and
 * writes one JSON log line per request, batched per event-loop turn as Lotse's logger does.
 * Lotse over it is what Lotse's own JavaScript costs; it over bare is what the answer's shape
 * costs in Deno (a Response with more than one header field leaves Deno's fastest path).
 *
 * `deno run --allow-net loadtest/bare_server.ts [port] [--hono | --shaped]`
 *
 * @module
 */
import { Hono } from "hono";
import { LineBatch } from "../src/log.ts";

const port = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 8090);
const body = { status: "ok", region: { ags: "08111000", name: "Stuttgart" } };

/** A navigation answer of the generated tables, as Lotse sends it (283 bytes). */
const NAVIGATION_BODY = JSON.stringify({
  evidenceType: "fahrzeugzulassung",
  region: { ags: "08111000", ars: "081110000000", name: "Stuttgart, Landeshauptstadt" },
  provider: {
    id: "zulassung-stuttgart",
    name: "Zulassungsbehörde Stuttgart",
    endpoint: "https://zulassung.stuttgart.example/evidence",
  },
  matchedLevel: "gemeinde",
});
// Lotse's fields over HTTP with every quota on (loadtest/_harness.ts starts it so).
const POLICY = '"token";q=1000000000;w=60, "address";q=1000000000;w=60, ' +
  '"client";q=1000000000;w=60';

function shaped(): Deno.ServeHandler<Deno.NetAddr> {
  const lines = new LineBatch({
    writeSync: (bytes) => Deno.stdout.writeSync(bytes),
    schedule: (flush) => Deno.unrefTimer(setTimeout(flush, 0)),
  });
  let remaining = 1_000_000_000;
  let lastMs = NaN;
  let iso = "";
  return (request, info) => {
    const start = performance.now();
    let bytes = 0;
    let authorization = null as string | null;
    request.headers.forEach((value, name) => {
      bytes += name.length + value.length;
      if (name === "authorization") authorization = value;
    });
    const address = info.remoteAddr.hostname;
    const url = request.url;
    const response = new Response(NAVIGATION_BODY, {
      headers: { "content-type": "application/json" },
    });
    const headers = response.headers;
    headers.set("x-content-type-options", "nosniff");
    headers.set("x-frame-options", "DENY");
    headers.set("referrer-policy", "no-referrer");
    headers.set("cross-origin-resource-policy", "same-origin");
    headers.set("ratelimit-policy", POLICY);
    headers.set("ratelimit", `"address";r=${--remaining};t=60`);
    const now = Date.now();
    if (now !== lastMs) iso = new Date(lastMs = now).toISOString();
    lines.push(
      `{"time":"${iso}","level":"info","msg":"request","method":"${request.method}","route":"GET /v1/navigation","status":200,"durationMs":${
        Math.round((performance.now() - start) * 1000) / 1000
      },"clientId":"stuttgart-bewohnerparken","transferId":null,"requestId":null,"traceparent":null,"bytes":${bytes},"url":${url.length},"address":${address.length},"authorized":${
        authorization !== null
      }}`,
      false,
    );
    return response;
  };
}

let handler: Deno.ServeHandler<Deno.NetAddr>;
if (Deno.args.includes("--hono")) {
  const app = new Hono();
  app.get("*", (c) => c.json(body));
  handler = app.fetch;
} else if (Deno.args.includes("--shaped")) {
  handler = shaped();
} else {
  handler = () => Response.json(body);
}

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handler);
