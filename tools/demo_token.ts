/**
 * Prints an access token for a demo client, for the README walk-through:
 * `deno task demo:token stuttgart-bewohnerparken [http://127.0.0.1:8080]`.
 * Signs a `private_key_jwt` client assertion with the client's DEMO key and exchanges it
 * at `POST /v1/token`, exactly as a real consumer would.
 */
import { DEMO_KEYS } from "../demo/clients.ts";
import { fetchDemoToken } from "./demo_client.ts";

const [clientId, base = "http://127.0.0.1:8080"] = Deno.args;
if (!clientId || !DEMO_KEYS[clientId]) {
  console.error(`Usage: deno task demo:token <${Object.keys(DEMO_KEYS).join("|")}> [lotse-url]`);
  Deno.exit(2);
}
try {
  console.log(await fetchDemoToken(base, clientId));
} catch (error) {
  console.error((error as Error).message);
  Deno.exit(1);
}
