/**
 * The provider of the P11 benchmark (`loadtest/run.ts xnachweis`): one register answering
 * both faces from the same data. `POST /providers/<id>` (JSON face) and
 * `POST /xnachweis/providers/<id>` (XNachweis face) both check the evidence token against
 * Lotse's JWKS; the XML one with the provider kit (token, request hash) and answers a 0102
 * carrying the same JSON document the JSON one answers.
 *
 * With `--check-every N` (N > 1) the register does that whole work on the first request of each
 * path and on every N-th after it, and answers the others with the answer of the last checked
 * one (the body read, nothing else): wrk sends one message over and over, so the answer is the
 * same document either way, and the register no longer takes the load core from wrk and
 * PostgreSQL (session 10: checking and building a 0102 cost it ~1,230 µs CPU per request against
 * ~390 for a JSON answer, enough to set the XML face's rate). A check that fails is still answered
 * as a refusal, which wrk counts, and the next request is checked again; `GET /stats` says how
 * many requests were checked and how many of those failed (the runner fails the scenario on any).
 *
 * ```sh
 * deno run -A loadtest/xnachweis_provider.ts --port 9300 --jwks http://127.0.0.1:8080/.well-known/jwks.json [--check-every 100]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Jwks, verifyEvidenceToken } from "../crypto/mod.ts";
import { DEMO_CLASSIFICATIONS } from "../demo/tables.ts";
import { xnachweisRegister } from "../src/xnachweis/mod.ts";
import { registerDocument } from "./_register_document.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    jwks: { type: "string" },
    issuer: { type: "string" },
    "check-every": { type: "string" },
  },
});
const checkEvery = Number(values["check-every"] ?? 1);
if (!Number.isInteger(checkEvery) || checkEvery < 1) {
  throw new Error(`--check-every takes a whole number ≥ 1, not "${values["check-every"]}"`);
}
let jwks: Jwks | null = null;
const keys = async () => jwks ??= await (await fetch(values.jwks!)).json() as Jwks;

/** The same document for both faces. */

const register = xnachweisRegister({
  jwks: keys,
  issuer: values.issuer,
  classifications: DEMO_CLASSIFICATIONS,
  evidence: (type, subject) =>
    registerDocument(type, subject.kind === "natural" ? subject.familyName : subject.legalName),
});

/** The last checked 200 answer of each path, and how many requests each path had. */
const prepared = new Map<string, { body: Uint8Array<ArrayBuffer>; headers: [string, string][] }>();
const seen = new Map<string, number>();
/** Requests checked in full, and those of them refused. */
const stats = { checked: 0, failed: 0 };

Deno.serve({ hostname: "127.0.0.1", port: Number(values.port ?? 0) }, async (request) => {
  const path = new URL(request.url).pathname;
  if (request.method === "GET" && path === "/stats") return Response.json(stats);
  const n = seen.get(path) ?? 0;
  seen.set(path, n + 1);
  const ready = prepared.get(path);
  if (ready && n % checkEvery !== 0) {
    await request.arrayBuffer();
    return new Response(ready.body, { headers: ready.headers });
  }
  const response = await answer(request, path);
  stats.checked++;
  if (response.status !== 200) {
    stats.failed++;
    // Until a check passes again, every request is checked: a fault is not answered away.
    prepared.delete(path);
  }
  if (checkEvery > 1 && response.status === 200) {
    const body = new Uint8Array(await response.arrayBuffer());
    const headers = [...response.headers];
    prepared.set(path, { body, headers });
    return new Response(body, { headers });
  }
  return response;
});

/** The whole work: the token (and the request hash) checked, the answer built. */
async function answer(request: Request, path: string): Promise<Response> {
  const id = path.slice(path.lastIndexOf("/") + 1);
  if (path.startsWith("/xnachweis/providers/")) return await register(request, { id, name: id });
  const token = request.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
  const checked = await verifyEvidenceToken(token, await keys(), {
    audience: id,
    issuer: values.issuer,
  });
  if (!checked.ok) return Response.json({ detail: checked.description }, { status: 401 });
  const input = await request.json() as { familienname?: string };
  return Response.json(registerDocument(checked.claims.evidence_type, input.familienname ?? ""));
}
