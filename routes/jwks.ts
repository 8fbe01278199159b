/** `GET /.well-known/jwks.json`: the public keys that verify Lotse's tokens. */
import { Hono } from "hono";
import type { AppDeps } from "../src/app.ts";

export function jwksRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  app.get("/.well-known/jwks.json", (c) =>
    c.json(deps.iam.keys.jwks(), 200, {
      // Short: a rotated-in key must reach providers well within a token's lifetime.
      "cache-control": "public, max-age=60",
    }));
  return app;
}
