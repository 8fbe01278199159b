/**
 * The CPU of one `POST /v1/authorizations` inside the process, through the server's handler as
 * `deno task serve` runs it (edge, rate limits, Hono, token check, body, zod, decision, seal,
 * answer, security headers, log line), with the protocol answering at once, against building
 * and reading the same request alone; then each part alone. What the product adds on top is
 * the HTTP exchange over a socket and the protocol record (BENCHMARKS.md, "Session 6, P10").
 *
 * `deno bench -A routes/authorizations_bench.ts`
 */
import { Hono } from "hono";
import { edgeCheck } from "../src/edge.ts";
import { authorizationBody } from "../src/schemas.ts";
import { parseWith, readJson } from "../src/validate.ts";
import { demoPermissionsFor } from "../tools/generate.ts";
import { DEMO_PARKING_AUTHORIZATION } from "../demo/clients.ts";
import { sealEvidenceToken } from "../crypto/mod.ts";
import { benchApp } from "./_served_bench.ts";

const recorded = () => Promise.resolve();
const { store, keys, iam, rateLimits, token, info, handler } = await benchApp({
  permissions: demoPermissionsFor,
  protocol: {
    begin: recorded,
    refused: recorded,
    granted: recorded,
    finish: recorded,
    queueDepth: 0,
  },
});

const URL = "http://lotse.test/v1/authorizations";
const grant = DEMO_PARKING_AUTHORIZATION;
const body = JSON.stringify(grant);
const headers = {
  authorization: `Bearer ${token}`,
  "content-type": "application/json",
  "content-length": String(new TextEncoder().encode(body).byteLength),
};
const post = () => new Request(URL, { method: "POST", headers, body });

const check = await handler.fetch(post(), info);
if (check.status !== 201) throw new Error(`Authorization answered ${check.status}`);
await check.text();

Deno.bench({
  name: "the request alone: built and its body read",
  group: "authorizations",
  baseline: true,
  async fn() {
    await post().bytes();
  },
});

Deno.bench({
  name: "Lotse handler as served, protocol answering at once",
  group: "authorizations",
  async fn() {
    const res = await handler.fetch(post(), info);
    await res.text();
  },
});

const edge = edgeCheck({ limits: rateLimits, verifier: iam.verifier });
const request = post();
Deno.bench("edge: header pass, rate limits, token cache", { group: "parts" }, () => {
  if (edge(request, info).refusal !== null) throw new Error("refused");
});

const reading = new Hono();
reading.post("/v1/authorizations", async (c) => c.json(await readJson(c, 16 * 1024, 10_000)));
Deno.bench("Hono route reading the JSON body (request built)", { group: "parts" }, async () => {
  await (await reading.fetch(post())).text();
});

const parsed = JSON.parse(body);
Deno.bench("zod: the body's schema", { group: "parts" }, () => {
  parseWith(authorizationBody, parsed, "authorization request");
});

const permissions = store.snapshot!.permissions;
const asked = { consumerId: "stuttgart-bewohnerparken", ...grant };
Deno.bench("decision: permission index", { group: "parts" }, () => {
  if (!permissions.decide(asked, Date.now()).granted) throw new Error("refused");
});

const signer = keys.signingKey();
const input = new TextEncoder().encode(`${"x".repeat(80)}.${"y".repeat(420)}`);
Deno.bench(`signature alone (${signer.alg}, 500-byte input)`, { group: "parts" }, () => {
  signer.native!.sign(input);
});

Deno.bench("seal: claims, JSON, base64url, signature", { group: "parts" }, async () => {
  await sealEvidenceToken(asked, { keys, issuer: "http://lotse.test" });
});
