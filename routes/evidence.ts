/**
 * `POST /v1/evidence/{evidenceType}` — the transfer: check the IDNr, authenticate,
 * navigate, authorize and seal, record the decision durably, forward the consumer's body
 * to the provider and stream the evidence back. `GET /v1/transfers/{id}` reads the record
 * of one of the caller's own transfers.
 *
 * @module
 */
import { Hono, type MiddlewareHandler } from "hono";
import type { AppDeps } from "../src/app.ts";
import { type AuthVariables, requireRole } from "../src/auth.ts";
import { headerText } from "../src/headers.ts";
import { locate, responsible } from "../src/locate.ts";
import { Problem, problemResponse } from "../src/problem.ts";
import { SHA256_DIGEST, SLUG } from "../src/schemas.ts";
import type { Provider } from "../src/tables.ts";
import { forward } from "../src/transport.ts";
import { checkIdnr, sealEvidenceToken } from "../crypto/mod.ts";
import { transferById } from "../db/protocol_queries.ts";
import { createLogger } from "../src/log.ts";
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Refuses a wrong IDNr before anything else happens (§ 5 Abs. 3 IDNrG). */
const checkIdnrHeader: MiddlewareHandler = async (c, next) => {
  const idnr = c.req.header("lotse-idnr");
  if (idnr !== undefined) {
    const reason = checkIdnr(idnr.trim());
    if (reason) throw new Problem("invalid-request", reason);
  }
  await next();
};

function requiredText(value: string | undefined, name: string): string {
  if (value === undefined) throw new Problem("invalid-request", `Missing header ${name}`);
  const text = headerText(value)?.trim();
  if (!text || text.length > 200) {
    throw new Problem("invalid-request", `Header ${name} must hold 1 to 200 characters`);
  }
  return text;
}

export function evidenceRoutes(deps: AppDeps): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();
  const { config, metrics, protocol } = deps;
  const now = deps.now ?? Date.now;
  const logger = deps.logger ?? createLogger();
  const limits = {
    maxRequestBytes: config.maxRequestBytes,
    providerTimeoutMs: config.providerTimeoutMs,
    providerIdleTimeoutMs: config.providerIdleTimeoutMs,
  };

  app.post(
    "/evidence/:evidenceType",
    checkIdnrHeader,
    requireRole(deps.iam.checker, ["consumer"]),
    EVIDENCE_DOC,
    async (c) => {
      const snapshot = deps.store.snapshot;
      if (!snapshot) throw new Problem("unavailable", "Tables are still loading");
      const evidenceType = c.req.param("evidenceType");
      if (!SLUG.test(evidenceType)) {
        throw new Problem("invalid-request", "Cannot parse evidence type: expected a slug");
      }
      const purpose = requiredText(c.req.header("lotse-purpose"), "Lotse-Purpose");
      const legalBasis = requiredText(c.req.header("lotse-legal-basis"), "Lotse-Legal-Basis");
      const idnr = c.req.header("lotse-idnr")?.trim() ?? null;
      const reprDigest = c.req.header("repr-digest") ?? null;
      let requestDigest: string | undefined;
      if (reprDigest !== null) {
        const sha = reprDigest.split(",").map((s) => s.trim()).find((s) =>
          s.startsWith("sha-256=")
        );
        if (!sha || !SHA256_DIGEST.test(sha)) {
          throw new Problem("invalid-request", 'Repr-Digest must carry "sha-256=:<base64>:"');
        }
        requestDigest = sha;
      }
      const declared = c.req.header("content-length");
      if (declared !== undefined && Number(declared) > config.maxRequestBytes) {
        throw new Problem(
          "payload-too-large",
          `Request body exceeds ${config.maxRequestBytes} bytes`,
        );
      }

      const { providerId: chosen, ...location } = c.req.query();
      let provider: Provider;
      if (chosen !== undefined) {
        if (Object.keys(location).length > 0) {
          throw new Problem("invalid-request", "Give either providerId or a location, not both");
        }
        if (!SLUG.test(chosen)) throw new Problem("invalid-request", "Cannot parse providerId");
        if (!snapshot.nav.evidenceType(evidenceType)) {
          throw new Problem("not-found", `Unknown evidence type "${evidenceType}"`);
        }
        const found = snapshot.nav.provider(chosen);
        if (!found) throw new Problem("not-found", `Unknown provider "${chosen}"`);
        provider = found;
      } else {
        provider = responsible(snapshot.nav, evidenceType, locate(snapshot.nav, location)).provider;
      }

      const grant = {
        consumerId: c.get("principal").clientId,
        providerId: provider.id,
        evidenceType,
        purpose,
        legalBasis,
        idnrUsed: idnr !== null,
      };
      const transferId = crypto.randomUUID();
      const decided = { ...grant, transferId, idnr };
      const decision = snapshot.permissions.decide(grant, now());
      if (!decision.granted) {
        await protocol.refused({ ...decided, status: 403, reason: decision.reason });
        throw new Problem("not-permitted", decision.reason, {
          headers: { "lotse-transfer-id": transferId },
        });
      }
      const sealed = await sealEvidenceToken(
        requestDigest ? { ...grant, requestDigest } : grant,
        { keys: deps.iam.keys, issuer: deps.iam.issuer, now: now() },
      );

      // The decision becomes durable while the provider is asked: both must succeed before
      // the first evidence byte leaves.
      const abort = new AbortController();
      const durable = protocol.begin({ ...decided, jti: sealed.jti });
      durable.catch(() => abort.abort());
      const result = await forward(c.req.raw, {
        provider,
        token: sealed.token,
        transferId,
        evidenceType,
        reprDigest: requestDigest ?? null,
        limits,
        signal: AbortSignal.any([c.req.raw.signal, abort.signal]),
        clients: deps.providerClients,
      });
      try {
        await durable;
      } catch {
        if (result.ok) await result.response.body?.cancel().catch(() => {});
        protocol.finish(transferId, { outcome: "failed", status: 503, reason: "protocol" })
          .catch(() => {});
        return problemResponse("unavailable", "The transfer cannot be recorded; try again", {
          headers: { "retry-after": "1", "lotse-transfer-id": transferId },
        });
      }
      // A provider's own 5xx is a failed provider to the consumer: a 502 problem, not the
      // provider's internals. Its 4xx (e.g. no such vehicle) passes through as it is.
      let providerStatus: number | null = null;
      if (result.ok && result.response.status >= 500) {
        providerStatus = result.response.status;
        await result.response.body?.cancel().catch(() => {});
      }
      result.done.then((summary) => {
        if (providerStatus !== null) {
          summary = {
            ...summary,
            outcome: "failed",
            status: 502,
            reason: `provider answered ${providerStatus}`,
          };
        }
        metrics.count(`lotse_transfers_total{outcome="${summary.outcome}"}`);
        if (summary.bytes) metrics.addTransferBytes("response", summary.bytes);
        return protocol.finish(transferId, {
          outcome: summary.outcome,
          status: summary.status,
          bytes: summary.bytes,
          digest: summary.digest,
          durationMs: Math.round(summary.durationMs),
          reason: summary.reason ?? null,
        });
      }).catch((error) =>
        logger.error("Cannot record the end of a transfer", {
          transferId,
          error,
        })
      );
      if (!result.ok) {
        const { type, detail } = result.failure;
        if (type === "client-closed") return new Response(null, { status: 499 });
        return problemResponse(type, detail, {
          headers: { "lotse-transfer-id": transferId, "lotse-provider": provider.id },
        });
      }
      if (providerStatus !== null) {
        return problemResponse(
          "provider-failed",
          `Provider "${provider.id}" answered ${providerStatus}`,
          {
            extra: { providerStatus },
            headers: { "lotse-transfer-id": transferId, "lotse-provider": provider.id },
          },
        );
      }
      return result.response;
    },
  );

  app.get("/transfers/:id", requireRole(deps.iam.checker, ["consumer"]), RECORD_DOC, async (c) => {
    const id = c.req.param("id").toLowerCase();
    if (!UUID.test(id)) {
      throw new Problem("invalid-request", "Cannot parse transfer id: expected a UUID");
    }
    const record = await transferById(deps.db, id);
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
