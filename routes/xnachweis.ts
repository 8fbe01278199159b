/**
 * The XNachweis 1.2.0 face (docs/api.md §3.1): `POST /xnachweis/v1/evidence-requests` takes a
 * `DE.EvidenceRequest.0101`, parses and validates it (src/xnachweis), maps requester,
 * provider, evidence type classification and IDNr onto the evidence use case
 * (src/transfer.ts) with the request hash as `req_digest`, forwards the message with the
 * `IssuedToken` filled in to the provider's `xnachweisEndpoint`, and streams the provider's
 * 0102/0103 back unchanged. Every refusal of Lotse's own is a 0103 with the status of §3.
 *
 * @module
 */
import { Hono } from "hono";
import { type AuthVariables, requireRole, type TokenChecker } from "../src/auth.ts";
import { headerText } from "../src/headers.ts";
import { Problem, refusalProblem } from "../src/problem.ts";
import type { Refusal } from "../src/refusal.ts";
import { type TransferDeps, transferEvidence } from "../src/transfer.ts";
import {
  type Agent,
  canonicalRequest,
  deferredWatch,
  errorResponse,
  type EvidenceRequest,
  parseXml,
  readEvidenceRequest,
  REQUESTER_CLASSIFICATION,
  rootName,
  validateXml,
  XML_CONTENT_TYPE,
  XmlRefusal,
} from "../src/xnachweis/mod.ts";
import { requestBytes } from "../src/validate.ts";
import type { Config } from "../src/config.ts";
import { checkIdnr, type KeyRing, verifyEvidenceToken } from "../crypto/mod.ts";
import { describe, type ResponseDoc } from "../src/openapi.ts";
import { z } from "zod";

/** What the XNachweis routes need. */
export interface XnachweisRoutesOptions extends TransferDeps {
  readonly checker: TokenChecker;
  /** Lotse's keys: seals tokens and checks the ones consumers bring. */
  readonly keys: Pick<KeyRing, "signingKey" | "jwks">;
  /** `bodyTimeoutMs`: how long the whole 0101 may take to arrive (a 408 0103 past it). */
  readonly config: Pick<Config, "bodyTimeoutMs">;
}

/** The message context a 0103 answers with. */
interface Context {
  requestId?: string;
  requesters?: readonly Agent[];
}

/** A refusal of the face itself, carrying what the 0103 needs. */
class FaceRefusal extends Error {
  readonly problem: Problem;
  readonly context: Context;
  constructor(problem: Problem, context: Context) {
    super(problem.message);
    this.problem = problem;
    this.context = context;
  }
}

function refuse(type: Problem["type"], detail: string, context: Context): never {
  throw new FaceRefusal(new Problem(type, detail), context);
}

function optionalText(value: string | undefined, name: string): string | null {
  if (value === undefined) return null;
  const text = headerText(value)?.trim();
  if (!text || text.length > 200) {
    throw new Problem("invalid-request", `Header ${name} must hold 1 to 200 characters`);
  }
  return text;
}

const XML_TYPE = /^(application|text)\/([\w.+-]+\+)?xml\s*(;|$)/i;

const XML = { type: "application/xml", schema: { type: "string" } } as const;
const E0103 = (description: string): ResponseDoc => ({
  description: `DE.EvidenceErrorResponse.0103: ${description}`,
  ...XML,
});

const DOC = describe({
  summary: "XNachweis 1.2.0: a DE.EvidenceRequest.0101, answered by the provider's 0102 or 0103",
  description: "Lotse's own refusals are a DE.EvidenceErrorResponse.0103 whose error code is the " +
    "problem type; purpose and legal basis from the headers when Lotse seals the IssuedToken.",
  tags: ["XNachweis"],
  roles: ["consumer"],
  headers: {
    "Lotse-Purpose": { schema: z.string().max(200), description: "When IssuedToken is empty" },
    "Lotse-Legal-Basis": { schema: z.string().max(200), description: "When IssuedToken is empty" },
  },
  body: { ...XML, description: "DE.EvidenceRequest.0101, schema-valid" },
  responses: {
    200: {
      description: "The provider's DE.EvidenceResponse.0102 (or its 0103), streamed unchanged",
      ...XML,
      headers: {
        "Lotse-Transfer-Id": { description: "The transfer's id (UUID)" },
        "Lotse-Provider": { description: "The provider's id" },
      },
    },
    400: E0103("not schema-valid, wrong IDNr or IssuedToken, unknown classification"),
    401: E0103("no valid access token"),
    403: E0103("wrong role, or no permission covers the request"),
    404: E0103("unknown provider, or no XNachweis endpoint"),
    408: E0103("request-timeout: the 0101 did not arrive within LOTSE_BODY_TIMEOUT_MS"),
    413: E0103("message over LOTSE_MAX_REQUEST_BYTES"),
    415: E0103("not XML"),
    500: E0103("an unexpected error (never with internals)"),
    502: E0103("the provider failed"),
    503: E0103("the tables are still loading"),
    504: E0103("the provider did not answer in time"),
  },
});

export function xnachweisRoutes(deps: XnachweisRoutesOptions): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();
  const now = deps.now ?? Date.now;

  // Every error of this face, the caller's authentication included, is a 0103.
  app.onError((error, c) => {
    if (error instanceof FaceRefusal) {
      return errorResponse(error.problem.type, error.problem.message, {
        ...error.context,
        headers: error.problem.headers,
      });
    }
    if (error instanceof Problem) {
      const principal = c.get("principal");
      return errorResponse(error.type, error.message, {
        requesters: principal ? [callerAgent(principal.clientId)] : [],
        headers: error.headers,
      });
    }
    deps.logger?.error("Unexpected error in the XNachweis face", { error });
    return errorResponse("internal", "Internal error");
  });

  app.post("/evidence-requests", requireRole(deps.checker, ["consumer"]), DOC, async (c) => {
    const caller = c.get("principal").clientId;
    const context: Context = { requesters: [callerAgent(caller)] };
    const type = c.req.header("content-type") ?? "";
    if (!XML_TYPE.test(type)) {
      refuse(
        "unsupported-media-type",
        `Expected Content-Type "application/xml", got "${type}"`,
        context,
      );
    }
    const max = deps.limits.maxRequestBytes;
    // One read of the declared length (a refusal is a Problem: onError answers it as a 0103).
    const bytes = await requestBytes(c.req.raw, max, deps.config.bodyTimeoutMs);
    if (bytes.byteLength === 0) refuse("invalid-request", "Missing request body", context);
    let doc;
    try {
      doc = parseXml(bytes, { maxBytes: max });
    } catch (error) {
      if (!(error instanceof XmlRefusal)) throw error;
      refuse(error.problemType, error.message, context);
    }
    try {
      try {
        validateXml(doc);
      } catch (error) {
        if (!(error instanceof XmlRefusal)) throw error;
        refuse("invalid-request", error.message, context);
      }
      const root = rootName(doc);
      if (root !== "DE.EvidenceRequest.0101") {
        refuse("invalid-request", `Expected DE.EvidenceRequest.0101, got "${root}"`, context);
      }
      const message = readEvidenceRequest(doc);
      context.requestId = message.id;
      context.requesters = message.requesters;
      const onBehalfOf = actingFor(message, caller, context);
      const snapshot = deps.store.snapshot;
      if (!snapshot) refuse("unavailable", "Tables are still loading", context);
      const evidenceType = snapshot!.nav.evidenceTypeByClassification(message.classification);
      if (!evidenceType) {
        refuse(
          "not-found",
          `No evidence type has classification "${message.classification}"`,
          context,
        );
      }
      const provider = snapshot!.nav.provider(message.provider.id);
      if (!provider) refuse("not-found", `Unknown provider "${message.provider.id}"`, context);
      const idnr = message.subject.kind === "natural" ? message.subject.idnr ?? null : null;
      if (idnr !== null) {
        const reason = checkIdnr(idnr);
        if (reason) refuse("invalid-request", reason, context);
      }
      // One canonicalisation for the hash and for the message forwarded with the token.
      const canonical = canonicalRequest(doc);
      const digest = canonical.digest;

      let purpose = optionalText(c.req.header("lotse-purpose"), "Lotse-Purpose");
      let legalBasis = optionalText(c.req.header("lotse-legal-basis"), "Lotse-Legal-Basis");
      let presealed: { token: string; jti: string; expiresAt: string } | undefined;
      if (message.issuedToken !== "") {
        const checked = await verifyEvidenceToken(message.issuedToken, deps.keys.jwks(), {
          audience: provider!.id,
          issuer: deps.issuer,
          now: now(),
        });
        if (!checked.ok) {
          refuse(
            checked.fault === "audience" ? "forbidden" : "unauthorized",
            `IssuedToken refused: ${checked.description}`,
            context,
          );
        }
        const claims = checked.claims;
        const mismatch = claims.sub !== caller
          ? `it was issued to "${claims.sub}"`
          : claims.evidence_type !== evidenceType!.id
          ? `it is for evidence type "${claims.evidence_type}"`
          : claims.req_digest !== digest
          ? "its req_digest is not the request hash of this message"
          : (claims.on_behalf_of ?? null) !== onBehalfOf
          ? "it was issued for another authority"
          : claims.idnr_used !== (idnr !== null)
          ? "its idnr_used does not match the message"
          : null;
        if (mismatch) refuse("forbidden", `IssuedToken refused: ${mismatch}`, context);
        purpose = claims.purpose;
        legalBasis = claims.legal_basis;
        presealed = {
          token: message.issuedToken,
          jti: claims.jti,
          expiresAt: new Date(claims.exp * 1000).toISOString(),
        };
      }
      if (purpose === null) refuse("invalid-request", "Missing header Lotse-Purpose", context);
      if (legalBasis === null) {
        refuse("invalid-request", "Missing header Lotse-Legal-Basis", context);
      }

      const result = await transferEvidence({
        consumerId: caller,
        evidenceType: evidenceType!.id,
        target: { providerId: provider!.id },
        purpose: purpose!,
        legalBasis: legalBasis!,
        idnr,
        body: null,
        contentType: XML_CONTENT_TYPE,
        contentLength: null,
        requestDigest: null,
        sealedDigest: digest,
        signal: c.req.raw.signal,
        ...(onBehalfOf === null ? {} : { onBehalfOf }),
        ...(presealed === undefined ? {} : { presealed }),
        upstream: {
          endpoint: (p) => p.xnachweisEndpoint ?? null,
          body: (sealed) => canonical.seal(sealed.token),
          watch: deferredWatch,
        },
      }, deps);
      if (!result.ok) return refusalXml(result.refusal, context);
      return result.response;
    } finally {
      doc?.dispose();
    }
  });
  return app;
}

/** The caller as a requester, for 0103s before the message could be read. */
function callerAgent(clientId: string): Agent {
  return { id: clientId, name: clientId, classification: REQUESTER_CLASSIFICATION };
}

/**
 * The authority an EfA service acts for: one `EvidenceRequester` must be the caller; at
 * most one other may be named, classified `ER`, and is the authority (checked against the
 * permission's `onBehalfOf` by the Vermittlungsstelle).
 */
function actingFor(message: EvidenceRequest, caller: string, context: Context): string | null {
  const own = message.requesters.filter((r) => r.id === caller);
  if (own.length !== 1) {
    refuse("forbidden", `Exactly one EvidenceRequester must be the caller "${caller}"`, context);
  }
  const others = message.requesters.filter((r) => r.id !== caller);
  if (others.length === 0) return null;
  if (others.length > 1) {
    refuse("invalid-request", "At most one authority may be named besides the caller", context);
  }
  const authority = others[0]!;
  if (authority.classification !== REQUESTER_CLASSIFICATION) {
    refuse(
      "invalid-request",
      `The authority "${authority.id}" must be classified "${REQUESTER_CLASSIFICATION}"`,
      context,
    );
  }
  return authority.id;
}

/** A use-case refusal as a 0103 (a client gone away: a bare 499). */
function refusalXml(refusal: Refusal, context: Context): Response {
  if (refusal.kind === "client-closed") return new Response(null, { status: 499 });
  const problem = refusalProblem(refusal);
  return errorResponse(problem.type, problem.message, { ...context, headers: problem.headers });
}
