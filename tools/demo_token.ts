/**
 * Prints an access token for a demo client, for the README walk-through:
 * `deno task demo:token stuttgart-bewohnerparken [http://127.0.0.1:8080]`.
 * Signs a `private_key_jwt` client assertion with the client's DEMO key and exchanges it
 * at `POST /v1/token`, exactly as a real consumer would.
 */
import { importJWK, SignJWT } from "jose";
import { DEMO_KEYS } from "../db/demo_clients.ts";

const [clientId, base = "http://127.0.0.1:8080"] = Deno.args;
const jwk = clientId ? DEMO_KEYS[clientId] : undefined;
if (!clientId || !jwk) {
  console.error(`Usage: deno task demo:token <${Object.keys(DEMO_KEYS).join("|")}> [lotse-url]`);
  Deno.exit(2);
}
const tokenUrl = `${base.replace(/\/+$/, "")}/v1/token`;
const now = Math.floor(Date.now() / 1000);
const assertion = await new SignJWT({})
  .setProtectedHeader({ alg: "ES256", kid: `${clientId}-demo` })
  .setIssuer(clientId)
  .setSubject(clientId)
  .setAudience(tokenUrl)
  .setJti(crypto.randomUUID())
  .setIssuedAt(now)
  .setExpirationTime(now + 60)
  .sign(await importJWK({ ...jwk }, "ES256"));
const res = await fetch(tokenUrl, {
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams({
    grant_type: "client_credentials",
    client_id: clientId,
    client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    client_assertion: assertion,
  }),
});
const body = await res.json();
if (!res.ok) {
  console.error(`Token request failed (${res.status}): ${JSON.stringify(body)}`);
  Deno.exit(1);
}
console.log(body.access_token);
