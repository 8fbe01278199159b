/**
 * `GET /.well-known/oauth-authorization-server`: OAuth 2.0 authorization server metadata
 * (RFC 8414), so that a standard OAuth client finds the token endpoint, the client
 * authentication Lotse takes and the keys it signs with by discovery from the issuer alone.
 *
 * Lotse is an OAuth authorization server for machines (client credentials only), not an
 * OpenID provider: it issues no ID tokens and knows no end users. So it publishes no
 * `/.well-known/openid-configuration`; a client discovers it as a plain OAuth server.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import { CLIENT_ASSERTION_ALGORITHMS } from "../crypto/mod.ts";
import { describe } from "../src/openapi.ts";

/** The metadata document, as served. */
export const authorizationServerMetadata = z.object({
  issuer: z.url(),
  token_endpoint: z.url(),
  jwks_uri: z.url(),
  grant_types_supported: z.array(z.literal("client_credentials")),
  response_types_supported: z.array(z.string()).length(0),
  token_endpoint_auth_methods_supported: z.array(z.literal("private_key_jwt")),
  token_endpoint_auth_signing_alg_values_supported: z.array(z.string()),
  service_documentation: z.url(),
}).meta({ id: "AuthorizationServerMetadata" });

/** The metadata of the authorization server whose issuer identifier is `publicUrl`. */
export function metadataFor(publicUrl: string): z.infer<typeof authorizationServerMetadata> {
  return {
    issuer: publicUrl,
    token_endpoint: `${publicUrl}/v1/token`,
    jwks_uri: `${publicUrl}/.well-known/jwks.json`,
    grant_types_supported: ["client_credentials"],
    // Required by RFC 8414 § 2; empty: Lotse has no authorization endpoint.
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ["private_key_jwt"],
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGORITHMS],
    service_documentation: `${publicUrl}/docs`,
  };
}

const METADATA_DOC = describe({
  summary: "OAuth 2.0 authorization server metadata (RFC 8414)",
  tags: ["IAM"],
  responses: { 200: { description: "The metadata", schema: authorizationServerMetadata } },
});

export function oauthMetadataRoutes(options: { publicUrl: string }): Hono {
  const app = new Hono();
  const body = JSON.stringify(metadataFor(options.publicUrl));
  app.get("/.well-known/oauth-authorization-server", METADATA_DOC, (c) =>
    c.body(body, 200, {
      "content-type": "application/json",
      "cache-control": "public, max-age=300",
    }));
  return app;
}
