/**
 * A demo eDelivery access point: plays the backend of an AS4 access point (Domibus, phase4,
 * Harmony) that received an EDM evidence request from another member state. It signs in as
 * the demo client `eu-access-point` (role `gateway`, `private_key_jwt`), posts the EDM
 * `query:QueryRequest` to `POST /eu/v1/evidence-requests` and prints Lotse's answer: the EDM
 * `query:QueryResponse` with the evidence (the register's document decoded from
 * `rim:RepositoryItem`), or the EDM exception.
 *
 * ```sh
 * deno task demo:eu [lotse-url] [edm-request.xml]
 * # default: http://127.0.0.1:8080 and demo/eu/gewerbeanmeldung.edm.xml
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { fetchDemoToken } from "../tools/demo_client.ts";

const [base = "http://127.0.0.1:8080", file] = Deno.args;
const path = file ?? new URL("./eu/gewerbeanmeldung.edm.xml", import.meta.url);
const body = await Deno.readFile(path);

let token: string;
try {
  token = await fetchDemoToken(base, "eu-access-point");
} catch (error) {
  console.error(`Cannot sign in as eu-access-point: ${(error as Error).message}`);
  Deno.exit(1);
}
const started = performance.now();
const res = await fetch(`${base}/eu/v1/evidence-requests`, {
  method: "POST",
  headers: { authorization: `Bearer ${token}`, "content-type": "application/xml" },
  body,
});
const text = await res.text();
const ms = (performance.now() - started).toFixed(1);
console.log(
  `HTTP ${res.status} in ${ms} ms, Lotse-Transfer-Id: ${res.headers.get("lotse-transfer-id")}`,
);
console.log(text);
const item = /<rim:RepositoryItem>([A-Za-z0-9+/=]+)<\/rim:RepositoryItem>/.exec(text)?.[1];
if (item !== undefined) {
  console.log("\n# The evidence (rim:RepositoryItem, base64-decoded): the register's document");
  console.log(Buffer.from(item, "base64").toString("utf8"));
}
if (!res.ok) Deno.exit(1);
