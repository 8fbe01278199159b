/**
 * What matching a request to its routes costs on the app's own route list: the router
 * `createApp()` builds (the admin routes apart, every other route in `RegExpRouter`) against
 * `TrieRouter` with all routes, where Hono's default router put the app before (ARCHITECTURE.md,
 * "Routing"). The saving per request the Hono app answers, without the rest of the request.
 *
 * `deno bench -A routes/router_bench.ts`
 *
 * @module
 */
import type { Router } from "hono/router";
import { TrieRouter } from "hono/router/trie-router";
import { benchApp } from "./_served_bench.ts";

const { app } = await benchApp();
const trie = new TrieRouter<unknown>();
for (const route of app.routes) trie.add(route.method, route.path, [route.handler, route]);

const REQUESTS: [string, string][] = [
  ["POST", "/v1/authorizations"],
  ["GET", "/v1/evidence-types/fahrzeugzulassung"],
  ["GET", "/healthz"],
  ["GET", "/admin/v1/regions/08111000"],
];

for (const [method, path] of REQUESTS) {
  const routers: [string, Router<unknown>][] = [["TrieRouter, all routes", trie], [
    app.router.name.split(" (")[0]!,
    app.router,
  ]];
  for (const [name, router] of routers) {
    if (router.match(method, path)[0].length < 2) throw new Error(`${name}: ${method} ${path}`);
    Deno.bench({
      name,
      group: `${method} ${path}`,
      baseline: router === trie,
      fn() {
        router.match(method, path);
      },
    });
  }
}
