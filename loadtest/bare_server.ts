/**
 * The reference servers P1 is measured against: `Deno.serve` answering every request with a
 * small JSON body, directly or through a minimal Hono app. Nothing else, so the difference
 * to Lotse is what Lotse does per request.
 *
 * `deno run --allow-net loadtest/bare_server.ts [port] [--hono]`
 *
 * @module
 */
import { Hono } from "hono";

const port = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 8090);
const body = { status: "ok", region: { ags: "08111000", name: "Stuttgart" } };

let handler: (req: Request) => Response | Promise<Response>;
if (Deno.args.includes("--hono")) {
  const app = new Hono();
  app.get("*", (c) => c.json(body));
  handler = app.fetch;
} else {
  handler = () => Response.json(body);
}

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handler);
