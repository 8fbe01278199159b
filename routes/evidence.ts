/**
 * The JSON face of the evidence transfer: `POST /v1/evidence/{evidenceType}` parses the
 * IDNr, the caller, the headers and the location, calls the use case (src/transfer.ts) and
 * renders its answer: the provider's stream, or the refusal as problem+json.
 * `GET /v1/transfers/{id}` reads the record of one of the caller's own transfers.
 *
 * @module
 */
import { Hono, type MiddlewareHandler } from "hono";
import { type AuthVariables, requireRole, type TokenChecker } from "../src/auth.ts";
import { requiredHeaderText } from "../src/headers.ts";
import { Problem, refusalResponse } from "../src/problem.ts";
import type { TransferRecord } from "../src/protocol/mod.ts";
import { SHA256_DIGEST, SLUG, UUID } from "../src/schemas.ts";
import { type TransferDeps, transferEvidence, type TransferTarget } from "../src/transfer.ts";
import { checkIdnr } from "../crypto/mod.ts";
import { describe, LOADING, problem } from "../src/openapi.ts";
import {
  ambiguousProblem,
  navigationQuery,
  slugSchema,
  transferRecordSchema,
} from "../src/schemas.ts";
import { z } from "zod";

const TRANSFER_HEADERS = {
  "Lotse-Transfer-Id": { description: "The transfer's id (UUID)" },
  "Lotse-Provider": { description: "The provider's id" },
};

const EVIDENCE_DOC = describe({
  summary: "Transfer evidence: navigate, authorize, stream the request and the answer",
  description: "The provider's status, content type and Repr-Digest pass through.",
  tags: ["Transport"],
  roles: ["consumer"],
  params: { evidenceType: slugSchema },
  query: navigationQuery.omit({ evidenceType: true }).extend({
    providerId: slugSchema.optional(),
  }),
  headers: {
    "Lotse-Purpose": { schema: z.string().max(200), required: true },
    "Lotse-Legal-Basis": { schema: z.string().max(200), required: true },
    "Lotse-Idnr": { schema: z.string().regex(/^\d{11}$/), description: "Check digit verified" },
    "Repr-Digest": { schema: z.string(), description: "RFC 9530 digest of the request body" },
  },
  body: { type: "*/*", description: "The request for the provider, streamed" },
  responses: {
    200: {
      description: "The provider's evidence, streamed; its status and type pass through",
      type: "*/*",
      headers: TRANSFER_HEADERS,
    },
    400: problem("Malformed input, wrong IDNr or request digest mismatch"),
    403: problem("Wrong role, or no permission covers the request (not-permitted)"),
    404: problem("Unknown region or evidence type, or no responsible provider"),
    409: problem("Ambiguous PLZ", ambiguousProblem),
    413: problem("Request body over LOTSE_MAX_REQUEST_BYTES"),
    502: problem("The provider failed"),
    504: problem("The provider did not answer in time"),
    ...LOADING,
  },
});

const RECORD_DOC = describe({
  summary: "The protocol record of one of the caller's transfers",
  tags: ["Transport"],
  roles: ["consumer"],
  params: { id: z.uuid() },
  responses: {
    200: { description: "The record", schema: transferRecordSchema },
    400: problem("Not a UUID"),
    404: problem("Not yours or unknown"),
  },
});

/** What the evidence routes need. */
export interface EvidenceRoutesOptions extends TransferDeps {
  readonly checker: TokenChecker;
  /** One transfer's record, or null (src/protocol's `transferById` on the database). */
  readonly transferRecord: (id: string) => Promise<TransferRecord | null>;
}

/** Refuses a wrong IDNr before anything else happens (§ 5 Abs. 3 IDNrG). */
const checkIdnrHeader: MiddlewareHandler = async (c, next) => {
  const idnr = c.req.header("lotse-idnr");
  if (idnr !== undefined) {
    const reason = checkIdnr(idnr.trim());
    if (reason) throw new Problem("invalid-request", reason);
  }
  await next();
};

/** The `sha-256` member of `Repr-Digest` (RFC 9530), which the token seals; null without one. */
function requestDigest(header: string | undefined): string | null {
  if (header === undefined) return null;
  const sha = header.split(",").map((s) => s.trim()).find((s) => s.startsWith("sha-256="));
  if (!sha || !SHA256_DIGEST.test(sha)) {
    throw new Problem("invalid-request", 'Repr-Digest must carry "sha-256=:<base64>:"');
  }
  return sha;
}

export function evidenceRoutes(deps: EvidenceRoutesOptions): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();

  app.post(
    "/evidence/:evidenceType",
    checkIdnrHeader,
    requireRole(deps.checker, ["consumer"]),
    EVIDENCE_DOC,
    async (c) => {
      const evidenceType = c.req.param("evidenceType");
      if (!SLUG.test(evidenceType)) {
        throw new Problem("invalid-request", "Cannot parse evidence type: expected a slug");
      }
      const purpose = requiredHeaderText(c.req.header("lotse-purpose"), "Lotse-Purpose");
      const legalBasis = requiredHeaderText(c.req.header("lotse-legal-basis"), "Lotse-Legal-Basis");
      const digest = requestDigest(c.req.header("repr-digest"));
      const declared = c.req.header("content-length");
      const { providerId, ...location } = c.req.query();
      let target: TransferTarget = { location };
      if (providerId !== undefined) {
        if (Object.keys(location).length > 0) {
          throw new Problem("invalid-request", "Give either providerId or a location, not both");
        }
        if (!SLUG.test(providerId)) throw new Problem("invalid-request", "Cannot parse providerId");
        target = { providerId };
      }
      const result = await transferEvidence({
        consumerId: c.get("principal").clientId,
        evidenceType,
        target,
        purpose,
        legalBasis,
        idnr: c.req.header("lotse-idnr")?.trim() ?? null,
        body: c.req.raw.body,
        contentType: c.req.header("content-type") ?? null,
        contentLength: declared === undefined ? null : Number(declared),
        requestDigest: digest,
        signal: c.req.raw.signal,
      }, deps);
      return result.ok ? result.response : refusalResponse(result.refusal);
    },
  );

  app.get("/transfers/:id", requireRole(deps.checker, ["consumer"]), RECORD_DOC, async (c) => {
    const id = c.req.param("id").toLowerCase();
    if (!UUID.test(id)) {
      throw new Problem("invalid-request", "Cannot parse transfer id: expected a UUID");
    }
    const record = await deps.transferRecord(id);
    if (!record || record.consumerId !== c.get("principal").clientId) {
      throw new Problem("not-found", `No transfer "${id}" of yours`);
    }
    // Failure reasons are for operators (they may name provider internals); a refusal's
    // reason is what the consumer was told already.
    const { reason: _operatorsOnly, ...rest } = record;
    return c.json(record.outcome === "refused" ? record : { ...rest, reason: null });
  });
  return app;
}
