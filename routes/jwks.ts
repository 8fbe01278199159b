/** `GET /.well-known/jwks.json`: the public keys that verify Lotse's tokens. */
import { Hono } from "hono";
import { z } from "zod";
import { describe } from "../src/openapi.ts";
import type { Iam } from "../src/iam.ts";

/** What the JWKS route reads. */
export interface JwksRoutesOptions {
  readonly iam: { readonly keys: Pick<Iam["keys"], "jwks"> };
}

const JWKS_DOC = describe({
  summary: "Public keys that verify Lotse's tokens (RFC 7517)",
  tags: ["IAM"],
  responses: {
    200: {
      description: "JWK set",
      schema: z.object({
        keys: z.array(z.looseObject({ kty: z.string(), kid: z.string() })),
      }).meta({ id: "Jwks" }),
    },
  },
});

export function jwksRoutes(deps: JwksRoutesOptions): Hono {
  const app = new Hono();
  app.get("/.well-known/jwks.json", JWKS_DOC, (c) =>
    c.json(deps.iam.keys.jwks(), 200, {
      // Short: a rotated-in key must reach providers well within a token's lifetime.
      "cache-control": "public, max-age=60",
    }));
  return app;
}
