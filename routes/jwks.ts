/** `GET /.well-known/jwks.json`: the public keys that verify Lotse's tokens. */
import { Hono } from "hono";
import type { Iam } from "../src/iam.ts";

/** What the JWKS route reads. */
export interface JwksRoutesOptions {
  readonly iam: { readonly keys: Pick<Iam["keys"], "jwks"> };
}

export function jwksRoutes(deps: JwksRoutesOptions): Hono {
  const app = new Hono();
  app.get("/.well-known/jwks.json", (c) =>
    c.json(deps.iam.keys.jwks(), 200, {
      // Short: a rotated-in key must reach providers well within a token's lifetime.
      "cache-control": "public, max-age=60",
    }));
  return app;
}
