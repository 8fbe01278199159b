/**
 * Hands out fresh access tokens over loopback, for k6 runs longer than a token's 5 minutes
 * (loadtest/k6/soak.js): k6 cannot sign the ES256 client assertion `POST /v1/token` wants,
 * so this does it with the demo client's DEMO key and caches the token until a minute
 * before it expires.
 *
 * ```sh
 * deno run -A loadtest/token_server.ts [--lotse http://127.0.0.1:8080] \
 *   [--client stuttgart-bewohnerparken] [--port 8099]
 * # GET http://127.0.0.1:8099/token → the token as text/plain
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { demoToken } from "./_harness.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    lotse: { type: "string", default: "http://127.0.0.1:8080" },
    client: { type: "string", default: "stuttgart-bewohnerparken" },
    port: { type: "string", default: "8099" },
  },
});
const lotse = values.lotse.replace(/\/+$/, "");
const client = values.client;
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  throw new Error(`--port takes a port number, not "${values.port}"`);
}
// Lotse issues tokens for at most 5 minutes; renew with a minute to spare.
const RENEW_AFTER_MS = 4 * 60_000;

let current: { token: string; at: number } | null = null;
let pending: Promise<string> | null = null;

function fresh(): Promise<string> {
  if (current && Date.now() - current.at < RENEW_AFTER_MS) return Promise.resolve(current.token);
  pending ??= demoToken(lotse, client).then((token) => {
    current = { token, at: Date.now() };
    return token;
  }).finally(() => pending = null);
  return pending;
}

Deno.serve({ hostname: "127.0.0.1", port }, async (req) => {
  if (new URL(req.url).pathname !== "/token") return new Response("Not found", { status: 404 });
  try {
    return new Response(await fresh(), { headers: { "content-type": "text/plain" } });
  } catch (error) {
    return new Response(`Cannot get a token: ${(error as Error).message}`, { status: 502 });
  }
});
