/**
 * The JSON face of the Identitätsdatenabruf (docs/api.md §3.4): `POST /v1/identity-queries`
 * parses the query (DIN 91379 names, dates, address, IDNr with its check digit) and the
 * purpose headers, calls the use case (src/identity.ts) and renders its answer: the IDNr and
 * Basisdaten, or a problem (404 no person, 409 several, the refusals of any transfer).
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import { type AuthVariables, requireRole, type TokenChecker } from "../src/auth.ts";
import { requiredHeaderText } from "../src/headers.ts";
import { identityQuerySchema, identityResultSchema, queryIdentity } from "../src/identity.ts";
import { describe, LOADING, problem } from "../src/openapi.ts";
import { Problem, refusalResponse } from "../src/problem.ts";
import type { TransferDeps } from "../src/transfer.ts";
import { parseWith, readJson } from "../src/validate.ts";

const IDENTITY_DOC = describe({
  summary: "Identitätsdatenabruf: find a person's IDNr and Basisdaten",
  description: "Routed to the provider of `identitaetsdaten` (Bund), authorized, sealed and " +
    "recorded like any evidence; the IDNr found is checked (check digit) and recorded, so " +
    "the person sees the query in the Datenschutzcockpit. Names: DIN 91379 data type A.",
  tags: ["Identitätsdatenabruf"],
  roles: ["consumer"],
  headers: {
    "Lotse-Purpose": { schema: z.string().max(200), required: true },
    "Lotse-Legal-Basis": { schema: z.string().max(200), required: true },
  },
  body: { type: "application/json", schema: identityQuerySchema },
  responses: {
    200: {
      description: "Exactly one person matches",
      schema: identityResultSchema,
      headers: { "Lotse-Transfer-Id": { description: "The transfer's id (UUID)" } },
    },
    400: problem("Invalid query (names outside DIN 91379, a date, a wrong IDNr)"),
    403: problem("Wrong role, or no permission covers the query (not-permitted, recorded)"),
    404: problem("No person matches"),
    409: problem("Several persons match: add place of birth, address or IDNr"),
    413: problem("Body over 16 KiB"),
    415: problem("Not JSON"),
    502: problem("The register failed or gave an invalid answer (e.g. a wrong check digit)"),
    504: problem("The register did not answer in time"),
    ...LOADING,
  },
});

/** What the identity route needs. */
export interface IdentityRoutesOptions extends TransferDeps {
  readonly checker: TokenChecker;
  readonly config: { readonly bodyTimeoutMs: number };
}

export function identityRoutes(deps: IdentityRoutesOptions): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();
  app.post(
    "/identity-queries",
    requireRole(deps.checker, ["consumer"]),
    IDENTITY_DOC,
    async (c) => {
      const purpose = requiredHeaderText(c.req.header("lotse-purpose"), "Lotse-Purpose");
      const legalBasis = requiredHeaderText(
        c.req.header("lotse-legal-basis"),
        "Lotse-Legal-Basis",
      );
      const body = await readJson(c, 16 * 1024, deps.config.bodyTimeoutMs);
      const query = parseWith(identityQuerySchema, body, "identity query");
      const result = await queryIdentity({
        consumerId: c.get("principal").clientId,
        purpose,
        legalBasis,
        query,
        signal: c.req.raw.signal,
      }, deps);
      switch (result.kind) {
        case "refused":
          return refusalResponse(result.refusal);
        case "no-match":
          throw new Problem("not-found", "No person matches the query", {
            headers: { "lotse-transfer-id": result.transferId },
          });
        case "several":
          throw new Problem(
            "conflict",
            "Several persons match the query: add placeOfBirth, address or idnr",
            { headers: { "lotse-transfer-id": result.transferId } },
          );
        case "found":
          return c.json({ idnr: result.idnr, basisdaten: result.basisdaten }, 200, {
            "lotse-transfer-id": result.transferId,
            "cache-control": "no-store",
          });
      }
    },
  );
  return app;
}
