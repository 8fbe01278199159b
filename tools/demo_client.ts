/**
 * A demo consumer's side of `POST /v1/token`: signs a `private_key_jwt` client assertion
 * (RFC 7523) with a demo client's published key and exchanges it for an access token. Used
 * by `deno task demo:token`, the load tests and the integration tests alike.
 *
 * @module
 */
import { importJWK, SignJWT } from "jose";
import { DEMO_KEYS } from "../demo/clients.ts";

export const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** Signs a client assertion for `clientId` with `audience` (the token URL). */
export async function demoClientAssertion(
  clientId: string,
  audience: string,
  claims: { exp?: number; jti?: string; iat?: number } = {},
): Promise<string> {
  const jwk = DEMO_KEYS[clientId];
  if (!jwk) throw new Error(`No demo key for "${clientId}"`);
  const now = Math.floor(Date.now() / 1000);
  return await new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: `${clientId}-demo` })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(audience)
    .setJti(claims.jti ?? crypto.randomUUID())
    .setIssuedAt(claims.iat ?? now)
    .setExpirationTime(claims.exp ?? now + 60)
    .sign(await importJWK({ ...jwk }, "ES256"));
}

/** The form of a token request. */
export function tokenForm(clientId: string, assertion: string): URLSearchParams {
  return new URLSearchParams({
    grant_type: "client_credentials",
    client_id: clientId,
    client_assertion_type: ASSERTION_TYPE,
    client_assertion: assertion,
  });
}

/** Gets an access token for a demo client from the Lotse at `lotseUrl`. */
export async function fetchDemoToken(lotseUrl: string, clientId: string): Promise<string> {
  const tokenUrl = `${lotseUrl.replace(/\/+$/, "")}/v1/token`;
  const res = await fetch(tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: tokenForm(clientId, await demoClientAssertion(clientId, tokenUrl)),
  });
  const body = await res.json();
  if (res.status !== 200) {
    throw new Error(`Token request failed (${res.status}): ${JSON.stringify(body)}`);
  }
  return body.access_token as string;
}
