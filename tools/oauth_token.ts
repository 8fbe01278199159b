/**
 * An access token from Lotse the way any OAuth 2.0 client gets one, with the standard client
 * library oauth4webapi and nothing of Lotse's own: discovery from the issuer alone (RFC 8414,
 * `/.well-known/oauth-authorization-server`), then the client credentials grant with a
 * `private_key_jwt` client assertion (RFC 7523, `aud` = the issuer).
 *
 * `deno task oauth:token <client-id> <private-jwk-file> [issuer]` prints the token. The key
 * file holds the client's private JWK (ES256 or EdDSA) with its `kid`; with `--demo` instead
 * of a file, a demo client's key is used.
 *
 * @module
 */
import { importJWK, type JWK } from "jose";
import * as oauth from "oauth4webapi";
import { DEMO_KEYS } from "../demo/clients.ts";

/** Options for {@linkcode oauthToken}. */
export interface OAuthTokenOptions {
  /** The client's private JWK; its `kid` names the registered key. */
  readonly jwk: JWK;
  /** Injected `fetch` (tests look at what the library sends). */
  readonly fetch?: typeof fetch;
}

/** Discovers the authorization server at `issuer` and gets a token for `clientId`. */
export async function oauthToken(
  issuer: URL,
  clientId: string,
  options: OAuthTokenOptions,
): Promise<string> {
  // Plain http only for a Lotse on this machine (the demo); anything else must be https.
  const http = {
    [oauth.allowInsecureRequests]: isLoopback(issuer),
    ...(options.fetch ? { [oauth.customFetch]: options.fetch } : {}),
  };
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...http }),
  );
  const alg = options.jwk.crv === "Ed25519" ? "EdDSA" : "ES256";
  const key = await importJWK(options.jwk, alg) as CryptoKey;
  const client: oauth.Client = { client_id: clientId };
  const response = await oauth.clientCredentialsGrantRequest(
    as,
    client,
    oauth.PrivateKeyJwt({ key, kid: options.jwk.kid }),
    new URLSearchParams(),
    http,
  );
  return (await oauth.processClientCredentialsResponse(as, client, response)).access_token;
}

function isLoopback(url: URL): boolean {
  return url.hostname === "localhost" || url.hostname === "[::1]" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(url.hostname);
}

if (import.meta.main) {
  const [clientId, keyFile, issuer = "http://127.0.0.1:8080"] = Deno.args;
  if (!clientId || !keyFile) {
    console.error("Usage: deno task oauth:token <client-id> <private-jwk-file|--demo> [issuer]");
    Deno.exit(2);
  }
  try {
    const demo = DEMO_KEYS[clientId];
    const jwk: JWK = keyFile === "--demo" && demo
      ? { ...demo, kid: `${clientId}-demo` }
      : JSON.parse(await Deno.readTextFile(keyFile));
    console.log(await oauthToken(new URL(issuer), clientId, { jwk }));
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(1);
  }
}
