/**
 * The provider of the P11 benchmark (`loadtest/run.ts xnachweis`): one register answering
 * both faces from the same data. `POST /providers/<id>` (JSON face) and
 * `POST /xnachweis/providers/<id>` (XNachweis face) both check the evidence token against
 * Lotse's JWKS; the XML one with the provider kit (token, request hash) and answers a 0102
 * carrying the same JSON document the JSON one answers.
 *
 * ```sh
 * deno run -A loadtest/xnachweis_provider.ts --port 9300 --jwks http://127.0.0.1:8080/.well-known/jwks.json
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Jwks, verifyEvidenceToken } from "../crypto/mod.ts";
import { DEMO_CLASSIFICATIONS } from "../demo/tables.ts";
import { xnachweisRegister } from "../src/xnachweis/mod.ts";

const { values } = parseArgs({
  options: { port: { type: "string" }, jwks: { type: "string" }, issuer: { type: "string" } },
});
let jwks: Jwks | null = null;
const keys = async () => jwks ??= await (await fetch(values.jwks!)).json() as Jwks;

/** The same document for both faces. */
function evidence(evidenceType: string, familyName: string): unknown {
  return {
    evidenceType,
    register: "Zentrales Fahrzeugregister (KBA) — Benchmark",
    halter: { familienname: familyName, vornamen: "Anna" },
    fahrzeug: { kennzeichen: "S-LT 1234", marke: "VOLKSWAGEN", fin: "WVWZZZ1KZ123456AB" },
  };
}

const register = xnachweisRegister({
  jwks: keys,
  issuer: values.issuer,
  classifications: DEMO_CLASSIFICATIONS,
  evidence: (type, subject) =>
    evidence(type, subject.kind === "natural" ? subject.familyName : subject.legalName),
});

Deno.serve({ hostname: "127.0.0.1", port: Number(values.port ?? 0) }, async (request) => {
  const path = new URL(request.url).pathname;
  const id = path.slice(path.lastIndexOf("/") + 1);
  if (path.startsWith("/xnachweis/providers/")) return await register(request, { id, name: id });
  const token = request.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
  const checked = await verifyEvidenceToken(token, await keys(), {
    audience: id,
    issuer: values.issuer,
  });
  if (!checked.ok) return Response.json({ detail: checked.description }, { status: 401 });
  const input = await request.json() as { familienname?: string };
  return Response.json(evidence(checked.claims.evidence_type, input.familienname ?? ""));
});
