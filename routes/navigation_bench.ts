/**
 * The cost of one authenticated `GET /v1/navigation` inside the process, through the whole
 * Hono app (routing, metrics, token check, lookup, JSON), against a bare Hono route
 * returning the same JSON: what Lotse adds on top of the framework, without sockets. And
 * through the server's handler as `deno task serve` runs it (edge checks, rate limits,
 * security headers, the fast path, the request log line formatted but not written), which is
 * where P1's CPU per request goes besides the runtime's own work.
 *
 * `deno bench -A routes/navigation_bench.ts`
 */
import { Hono } from "hono";
import { edgeCheck } from "../src/edge.ts";
import { fastNavigation } from "../src/fast_path.ts";
import { RequestLog } from "../src/request_log.ts";
import { benchApp, navigationUrls } from "./_served_bench.ts";

const {
  generated,
  deps,
  iam,
  store,
  logger,
  logged,
  rateLimits,
  token,
  info,
  app,
  handler,
  requestFacts,
} = await benchApp();
const headers = { authorization: `Bearer ${token}` };
const urls = navigationUrls(generated, 1024);

const first = await app.request(urls[0]!, { headers });
if (first.status !== 200) throw new Error(`Navigation answered ${first.status}`);

const bare = new Hono();
const body = await first.text();
bare.get("/v1/navigation", (c) => c.body(body, 200, { "content-type": "application/json" }));

let i = 0;
Deno.bench({
  name: "bare Hono route, same JSON",
  group: "navigation",
  baseline: true,
  async fn() {
    const res = await bare.fetch(new Request(urls[i++ & 1023]!, { headers }));
    await res.text();
  },
});

Deno.bench({
  name: "Lotse GET /v1/navigation (auth, lookup, JSON, metrics)",
  group: "navigation",
  async fn() {
    const res = await app.fetch(new Request(urls[i++ & 1023]!, { headers }));
    await res.text();
  },
});

Deno.bench({
  name: "Lotse handler as served (edge, limits, headers, fast path, log line)",
  group: "navigation",
  async fn() {
    const res = await handler.fetch(new Request(urls[i++ & 1023]!, { headers }), info);
    await res.text();
  },
});

// The handler's parts, each alone on the same requests (made once: no Request construction).
const requests = urls.map((url) => new Request(url, { headers }));
const edge = edgeCheck({ limits: rateLimits, verifier: iam.verifier });
const fast = fastNavigation({ store, verifier: iam.verifier, metrics: deps.metrics });
const requestLog = new RequestLog(logger);
const answer = new Response("{}");
Deno.bench("edge: header pass, rate limits, token cache", { group: "parts" }, () => {
  if (edge(requests[i++ & 1023]!, info).refusal !== null) throw new Error("refused");
});
Deno.bench("fast path: token, query, lookup, body, Response", { group: "parts" }, () => {
  if (fast(requests[i++ & 1023]!, { authorization: headers.authorization }) === null) {
    throw new Error("declined");
  }
});
Deno.bench("rate limits: address and client", { group: "parts" }, () => {
  rateLimits.take("address", "127.0.0.1");
  rateLimits.take("client", "stuttgart-bewohnerparken");
});
Deno.bench("request log line", { group: "parts" }, () => {
  requestLog.write(requests[i++ & 1023]!, answer, 0.0421, requestFacts);
});

const check = await handler.fetch(new Request(urls[0]!, { headers }), info);
if (check.status !== 200 || logged.lines === 0) throw new Error(`Handler answered ${check.status}`);
