import assert from "node:assert/strict";
import type { Result, Router } from "hono/router";
import { RegExpRouter } from "hono/router/reg-exp-router";
import type { SmartRouter } from "hono/router/smart-router";
import { TrieRouter } from "hono/router/trie-router";
import type { RouterRoute } from "hono/types";
import { SegmentRouter } from "./_segment_router.ts";
import { createApp } from "./app.ts";
import { parseConfig } from "./config.ts";
import { createIam } from "./iam.ts";
import { silentLogger } from "./log.ts";
import { Metrics } from "./metrics.ts";
import type { TableStore } from "./store.ts";
import { KeyRing, memoryKeyStore } from "../crypto/mod.ts";

/**
 * The routes a match found, in order, each named by `name` and followed by its parameters
 * (`RegExpRouter` answers parameter indexes into a stash, `TrieRouter` the values).
 */
function matched<T>(result: Result<T>, name: (found: T) => string = String): string[] {
  const [entries, stash] = result as [[T, Record<string, string | number>][], string[]?];
  return entries.map(([found, params]) => {
    const values = Object.entries(params).map(([key, at]) =>
      `${key}=${stash === undefined ? at : stash[at as number]}`
    );
    return values.length === 0 ? name(found) : `${name(found)} (${values.join(", ")})`;
  });
}

const ROUTES: [string, string][] = [
  ["ALL", "/*"],
  ["GET", "/healthz"],
  ["GET", "/v1/navigation"],
  ["GET", "/v1/evidence-types/:id"],
  ["ALL", "/v1/*"],
  ["ALL", "/admin/v1/*"],
  ["GET", "/admin/v1/tables"],
  ["GET", "/admin/v1/registrations"],
  ["POST", "/admin/v1/registrations/:id/approve"],
  ["GET", "/admin/v1/:table/:id"],
  ["PUT", "/admin/v1/:table/:id"],
  ["GET", "/admin"],
  ["GET", "/adminx"],
];

const PATHS = [
  "/",
  "/healthz",
  "/v1/navigation",
  "/v1/evidence-types/a",
  "/v1",
  "/v1/x/y",
  "/admin",
  "/admin/",
  "/adminx",
  "/admin/help",
  "/v1/help",
  "/admin/v1",
  "/admin/v1/tables",
  "/admin/v1/registrations",
  "/admin/v1/registrations/r1/approve",
  "/admin/v1/regions/08111000",
  "/admin/v1/tables/x",
  "//admin/v1/tables",
  "/nowhere",
];

// Goes to both sides, and keeps RegExpRouter from taking the routes outside the prefix.
const NOT_LITERAL: [string, string] = ["GET", "/:page/help"];

function fill<R extends Router<string>>(router: R, routes = ROUTES): R {
  for (const [method, path] of routes) router.add(method, path, `${method} ${path}`);
  return router;
}

Deno.test("SegmentRouter matches every path as one TrieRouter with all the routes does", () => {
  const routes = [...ROUTES.slice(0, 5), NOT_LITERAL, ...ROUTES.slice(5)];
  const split = fill(new SegmentRouter<string>("/admin"), routes);
  const whole = fill(new TrieRouter<string>(), routes);
  for (const method of ["GET", "POST", "PUT", "DELETE"]) {
    for (const path of PATHS) {
      assert.deepEqual(
        matched(split.match(method, path)),
        matched(whole.match(method, path)),
        `${method} ${path}`,
      );
    }
  }
});

Deno.test("SegmentRouter leaves the routes outside the prefix to RegExpRouter", () => {
  const split = fill(new SegmentRouter<string>("/admin"));
  assert.deepEqual(matched(split.match("GET", "/v1/evidence-types/a")), [
    "ALL /*",
    "GET /v1/evidence-types/:id (id=a)",
    "ALL /v1/*",
  ]);
  assert.deepEqual(matched(split.match("GET", "/admin/v1/regions/1")), [
    "ALL /*",
    "ALL /admin/v1/*",
    "GET /admin/v1/:table/:id (table=regions, id=1)",
  ]);
  const outside = split.outside as SmartRouter<string>;
  const inside = split.inside as SmartRouter<string>;
  assert.ok(outside.activeRouter instanceof RegExpRouter, outside.activeRouter.name);
  // The admin rows' route is the one RegExpRouter refuses.
  assert.ok(inside.activeRouter instanceof TrieRouter, inside.activeRouter.name);
  assert.equal(
    split.name,
    "SegmentRouter (/admin: SmartRouter + TrieRouter; others: SmartRouter + RegExpRouter)",
  );
});

Deno.test("SegmentRouter puts a route whose first segment is not literal on both sides", () => {
  const split = fill(new SegmentRouter<string>("/admin"), [...ROUTES, NOT_LITERAL]);
  assert.deepEqual(matched(split.match("GET", "/admin/help")), [
    "ALL /*",
    "GET /:page/help (page=admin)",
  ]);
  assert.deepEqual(matched(split.match("GET", "/v1/help")), [
    "ALL /*",
    "ALL /v1/*",
    "GET /:page/help (page=v1)",
  ]);
});

Deno.test("SegmentRouter refuses a prefix that is not one literal segment", () => {
  for (const prefix of ["admin", "/admin/", "/admin/v1", "/:x", "/*", "/"]) {
    assert.throws(() => new SegmentRouter(prefix), TypeError, prefix);
  }
});

/** Lotse's app as `createApp()` builds it; its routes need no tables, database or sockets. */
async function productApp() {
  const keys = await KeyRing.open(memoryKeyStore("router-test-secret-of-at-least-32-chars"));
  const store = { snapshot: undefined } as unknown as TableStore;
  const config = parseConfig({ LOTSE_PUBLIC_URL: "http://lotse.test" });
  return createApp({
    config,
    db: null as never,
    store,
    metrics: new Metrics(),
    iam: createIam(keys, store, { publicUrl: config.publicUrl }),
    protocol: null as never,
    providerClients: null as never,
    idnrHash: () => "",
    logger: silentLogger,
  });
}

Deno.test("createApp() matches every route outside /admin through RegExpRouter", async () => {
  const app = await productApp();
  // Which public route RegExpRouter refuses, by name, if one ever is.
  const regExp = new RegExpRouter<RouterRoute>();
  const refused: string[] = [];
  for (const route of app.routes) {
    if (route.path.startsWith("/admin/")) continue;
    try {
      regExp.add(route.method, route.path, route);
    } catch {
      refused.push(`${route.method} ${route.path}`);
    }
  }
  assert.deepEqual(refused, []);
  const router = app.router;
  assert.ok(router instanceof SegmentRouter, router.name);
  router.match("GET", "/v1/navigation");
  const outside = (router.outside as SmartRouter<unknown>).activeRouter;
  assert.ok(outside instanceof RegExpRouter, router.name);
});

Deno.test("createApp()'s router matches each route as one TrieRouter with all of them", async () => {
  const app = await productApp();
  const whole = new TrieRouter<[unknown, RouterRoute]>();
  for (const route of app.routes) whole.add(route.method, route.path, [route.handler, route]);
  const name = ([, route]: [unknown, RouterRoute]) => `${app.routes.indexOf(route)}`;
  // A path for every pattern (parameters and wildcards filled in), and the prefix's edges.
  const paths = new Set(["/", "/admin", "/admin/", "/adminx", "//admin/v1/tables", "/x/y"]);
  for (const { path } of app.routes) {
    paths.add(path.replace(/:[^/]+/g, "p1").replace(/\*$/, "w1/w2"));
  }
  let compared = 0;
  for (const method of ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
    for (const path of paths) {
      const found = matched(app.router.match(method, path), name);
      assert.deepEqual(found, matched(whole.match(method, path), name), `${method} ${path}`);
      if (found.length > 1) compared++;
    }
  }
  // Most of those requests reach a route beside the global middleware.
  assert.ok(compared > paths.size, `${compared} of ${paths.size * 6}`);
});
