/**
 * The Intermediäre Plattform (docs/api.md §3.2): the EU-OOTS face. The operator's eDelivery
 * access point (role `gateway`) posts an EDM `query:QueryRequest`; the face parses and
 * validates it (src/eu), maps the evidence type classification, the addressed data service
 * and the foreign requester onto the evidence use case (src/transfer.ts; purpose the EDM
 * procedure, legal basis Art. 14 SDG), sends a schema-valid `DE.EvidenceRequest.0301` with
 * the sealed `IssuedToken` to the provider's `xnachweisEndpoint`, and answers with an EDM
 * `query:QueryResponse` with the evidence documents of the provider's 0302, passed on as they
 * stream (src/eu/national_evidence.ts), or an EDM exception (src/eu/errors.ts: one table for every refusal).
 * `GET /dsd/rest/search` is the Data Service Directory query for German data services.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import { describe, type ResponseDoc } from "../src/openapi.ts";
import { type AuthVariables, requireRole, type TokenChecker } from "../src/auth.ts";
import { Problem } from "../src/problem.ts";
import { type InspectedOutcome, type TransferDeps, transferEvidence } from "../src/transfer.ts";
import {
  buildDsdException,
  buildDsdResponse,
  type DsdLookup,
  EDM_AGENT_SCHEME,
  EDM_CONTENT_TYPE,
  type EdmAgent,
  type EdmError,
  edmErrorResponse,
  type EdmEvidenceFrame,
  EdmReadError,
  type EdmRequest,
  evidenceResponseFrame,
  FACE_EDM_ERRORS,
  findDataServices,
  nationalEvidence,
  NationalEvidenceError,
  type NationalEvidenceEvent,
  nationalRequest,
  providerEdmError,
  readQueryRequest,
  REFUSAL_EDM_ERRORS,
  SDG_LEGAL_BASIS,
  validateEdm,
} from "../src/eu/mod.ts";
import {
  canonicalRequest,
  parseXml,
  readErrorResponse,
  XML_CONTENT_TYPE,
  XmlRefusal,
} from "../src/xnachweis/mod.ts";
import { readBytes, requestBytes } from "../src/validate.ts";
import type { Config } from "../src/config.ts";

/** What the EU routes need. */
export interface EuRoutesOptions extends TransferDeps {
  readonly checker: TokenChecker;
  /** `bodyTimeoutMs`: how long the whole EDM request may take to arrive (408 past it). */
  readonly config: Pick<Config, "bodyTimeoutMs">;
}

/** The request context an EDM exception answers with. */
interface Context {
  requestId?: string;
  requester?: EdmAgent;
}

/** A refusal of the face itself, before or beside the use case. */
class EdmRefusal extends Error {
  readonly error: EdmError;
  readonly context: Context;
  constructor(error: EdmError, detail: string, context: Context) {
    super(detail);
    this.error = error;
    this.context = context;
  }
}

function refuse(error: EdmError, detail: string, context: Context): never {
  throw new EdmRefusal(error, detail, context);
}

const XML_TYPE = /^(application|text)\/([\w.+-]+\+)?xml\s*(;|$)/i;
/** The largest 0303 Lotse reads from a provider to translate it. */
const MAX_PROVIDER_ERROR_BYTES = 64 * 1024;

const XML = { type: "application/xml", schema: { type: "string" } } as const;
const EDM_EXCEPTION = (description: string): ResponseDoc => ({
  description: `EDM query:QueryResponse with rs:Exception: ${description}`,
  ...XML,
});

const EVIDENCE_DOC = describe({
  summary: "EU-OOTS: an EDM query:QueryRequest from the eDelivery access point, answered in EDM",
  description: "Lotse sends DE.EvidenceRequest.0301 to the provider (purpose the EDM procedure, " +
    "legal basis Art. 14 VO (EU) 2018/1724) and passes the evidence documents of its 0302 on " +
    "as they stream, each in an EDM rim:RepositoryItem; every refusal is an EDM exception " +
    "(docs/eu.md).",
  tags: ["EU-OOTS"],
  roles: ["gateway"],
  body: { ...XML, description: "EDM 1.0–2.0 query:QueryRequest, schema-valid" },
  responses: {
    200: {
      description: "EDM query:QueryResponse (Success): one registry object per evidence " +
        "document of the provider's 0302",
      ...XML,
      headers: {
        "Lotse-Transfer-Id": { description: "The transfer's id (UUID)" },
        "Lotse-Provider": { description: "The provider's id" },
      },
    },
    400: EDM_EXCEPTION("EDM:ERR:0003 (not schema-valid, incomplete) or 0007 (response option)"),
    401: EDM_EXCEPTION("EDM:ERR:0001, no valid access token"),
    403: EDM_EXCEPTION("EDM:ERR:0001 (role) or 0002 (not permitted, preview required)"),
    404: EDM_EXCEPTION("EDM:ERR:0004 (evidence type), 0006 (data service), 0007 (no endpoint)"),
    408: EDM_EXCEPTION("EDM:ERR:0003, the request did not arrive within LOTSE_BODY_TIMEOUT_MS"),
    413: EDM_EXCEPTION("EDM:ERR:0003, message over LOTSE_MAX_REQUEST_BYTES"),
    415: EDM_EXCEPTION("EDM:ERR:0003, not XML"),
    500: EDM_EXCEPTION("EDM:ERR:0005, an unexpected error (never with internals)"),
    502: EDM_EXCEPTION("EDM:ERR:0006, the provider failed"),
    503: EDM_EXCEPTION("EDM:ERR:0005, tables loading or the protocol cannot record"),
    504: EDM_EXCEPTION("EDM:ERR:0005, the provider did not answer in time"),
  },
});

const DSD_EXCEPTION = (description: string): ResponseDoc => ({
  description: `ebRS QueryResponse with rs:Exception: ${description}`,
  ...XML,
});

const DSD_DOC = describe({
  summary: "EU-OOTS Data Service Directory: German data services for an evidence type",
  tags: ["EU-OOTS"],
  roles: ["gateway", "operator"],
  query: z.object({
    queryId: z.string().describe(
      "urn:fdc:oots:dsd:ebxml-regrep:queries:dataservices-by-evidencetype-and-jurisdiction",
    ),
    "evidence-type-classification": z.string(),
    "country-code": z.string().describe("DE"),
    "jurisdiction-admin-l2": z.string().optional().describe("A Land: 2-digit key or NUTS-1"),
    "jurisdiction-admin-l3": z.string().optional().describe("A Kreis (5) or Gemeinde (8 digits)"),
  }),
  responses: {
    200: { description: "ebRS QueryResponse listing the data services", ...XML },
    401: EDM_EXCEPTION("EDM:ERR:0001, no valid access token"),
    403: EDM_EXCEPTION("EDM:ERR:0001, neither gateway nor operator"),
    400: DSD_EXCEPTION("DSD:ERR:0003 (parameters) or 0004 (unknown query)"),
    404: DSD_EXCEPTION("DSD:ERR:0001 (no data service) or 0002 (no such evidence type)"),
    409: DSD_EXCEPTION("DSD:ERR:0005 with the jurisdiction determination"),
    503: DSD_EXCEPTION("the tables are still loading"),
  },
});

function problemError(problem: Problem): EdmError {
  const table = { ...REFUSAL_EDM_ERRORS, ...FACE_EDM_ERRORS } as Record<string, EdmError>;
  return table[problem.type] ?? FACE_EDM_ERRORS.internal;
}

export function euRoutes(deps: EuRoutesOptions): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();

  // Every error of this face, the caller's authentication included, is an EDM exception.
  app.onError((error, c) => {
    if (error instanceof EdmRefusal) {
      return edmErrorResponse(error.error.code, error.message, {
        ...error.context,
        status: error.error.status,
      });
    }
    if (error instanceof Problem) {
      const mapped = problemError(error);
      return edmErrorResponse(mapped.code, error.message, {
        status: mapped.status,
        ...(error.headers ? { headers: error.headers } : {}),
      });
    }
    deps.logger?.error("Unexpected error in the EU face", { error, path: c.req.path });
    return edmErrorResponse("EDM:ERR:0005", "Internal error", { status: 500 });
  });

  app.post(
    "/evidence-requests",
    requireRole(deps.checker, ["gateway"]),
    EVIDENCE_DOC,
    async (c) => {
      const gateway = c.get("principal").clientId;
      const context: Context = {};
      const type = c.req.header("content-type") ?? "";
      if (!XML_TYPE.test(type)) {
        refuse(
          FACE_EDM_ERRORS["unsupported-media-type"],
          `Expected Content-Type "application/xml", got "${type}"`,
          context,
        );
      }
      const max = deps.limits.maxRequestBytes;
      // One read of the declared length; an announced length over `max`, a body too large or
      // one that stops arriving is a Problem, which onError answers in EDM.
      const bytes = await requestBytes(c.req.raw, max, deps.config.bodyTimeoutMs);
      if (bytes.byteLength === 0) {
        refuse(FACE_EDM_ERRORS["invalid-request"], "Missing body", context);
      }
      const request = readRequest(bytes, max, context);
      context.requestId = request.id;
      context.requester = request.requester;

      const snapshot = deps.store.snapshot;
      if (!snapshot) refuse(REFUSAL_EDM_ERRORS.unavailable, "Tables are still loading", context);
      const evidenceType = snapshot!.nav.evidenceTypeByClassification(request.classification);
      if (!evidenceType) {
        refuse(
          FACE_EDM_ERRORS["unknown-evidence-type"],
          `No German evidence type has classification "${request.classification}"`,
          context,
        );
      }
      const provider = snapshot!.nav.provider(request.provider.id);
      if (!provider) {
        refuse(
          FACE_EDM_ERRORS["unknown-provider"],
          `No German data service "${request.provider.id}"`,
          context,
        );
      }

      // The national message: built, then checked against XNachweis like any other 0301.
      let national;
      try {
        national = nationalRequest(request, {
          provider: { id: provider!.id, name: provider!.name },
          evidenceTitle: evidenceType!.name,
          gateway,
        });
      } catch (error) {
        if (!(error instanceof XmlRefusal)) throw error;
        refuse(
          FACE_EDM_ERRORS["invalid-request"],
          `The request does not fit a national request: ${error.message}`,
          context,
        );
      }
      const doc = national!;
      // What the face finds in the register's answer (deferred, unusable), for the protocol.
      let settle!: (verdict: InspectedOutcome) => void;
      const verdict = new Promise<InspectedOutcome>((resolve) => settle = resolve);
      try {
        // One canonicalisation for the hash and for the 0301 forwarded with the token.
        const canonical = canonicalRequest(doc);
        const result = await transferEvidence({
          consumerId: gateway,
          evidenceType: evidenceType!.id,
          target: { providerId: provider!.id },
          purpose: request.procedure,
          legalBasis: SDG_LEGAL_BASIS,
          idnr: null,
          body: null,
          contentType: XML_CONTENT_TYPE,
          contentLength: null,
          requestDigest: null,
          sealedDigest: canonical.digest,
          signal: c.req.raw.signal,
          requester: request.requester.id,
          extraClaims: {
            edm_request_id: request.id,
            edm_requester: request.requester.id,
            edm_preview: request.previewLocation !== null
              ? "given"
              : request.possibilityForPreview
              ? "requested"
              : "none",
          },
          upstream: {
            endpoint: (p) => p.xnachweisEndpoint ?? null,
            body: (sealed) => canonical.seal(sealed.token),
            inspect: (response) => ({ response, outcome: verdict }),
          },
        }, deps);
        if (!result.ok) {
          settle(null);
          if (result.refusal.kind === "client-closed") return new Response(null, { status: 499 });
          const mapped = REFUSAL_EDM_ERRORS[result.refusal.kind];
          return edmErrorResponse(mapped.code, result.refusal.detail, {
            ...context,
            status: mapped.status,
            headers: {
              ...transferHeaders(result.refusal.transferId, undefined),
              ...(result.refusal.retryAfterSeconds === undefined
                ? {}
                : { "retry-after": String(result.refusal.retryAfterSeconds) }),
            },
          });
        }
        const answer = result.response;
        const headers = transferHeaders(result.transferId, provider!.id);
        if (answer.status !== 200 || answer.body === null) {
          settle(null);
          return await providerError(answer, {
            context,
            headers,
            deadlineMs: deps.limits.providerIdleTimeoutMs,
          });
        }
        // The evidence documents of the 0302, read as they stream: its head decides between
        // evidence, a deferred answer and a broken one before the gateway gets a byte.
        const events = nationalEvidence(answer.body);
        let first: IteratorResult<NationalEvidenceEvent>;
        try {
          first = await events.next();
        } catch (error) {
          if (!(error instanceof NationalEvidenceError)) throw error;
          settle({ failed: error.message });
          return edmErrorResponse(REFUSAL_EDM_ERRORS["provider-failed"].code, error.message, {
            ...context,
            status: REFUSAL_EDM_ERRORS["provider-failed"].status,
            headers,
          });
        }
        const event = first.value as NationalEvidenceEvent;
        if (event.type === "deferred") {
          settle("deferred");
          await events.return(undefined);
          return edmErrorResponse(
            "EDM:ERR:0005",
            `The register announces the evidence for ${event.availableAt}`,
            {
              ...context,
              status: 503,
              headers: { ...headers, "retry-after": String(retryAfter(event.availableAt)) },
            },
          );
        }
        const frame = evidenceResponseFrame({
          requestId: request.id,
          requester: request.requester,
          provider: { id: provider!.id, scheme: EDM_AGENT_SCHEME, name: provider!.name },
          classification: request.classification,
          evidenceTitle: request.evidenceTitle || evidenceType!.name,
          subject: request.subject,
        });
        return new Response(ReadableStream.from(framed(frame, event, events, settle)), {
          status: 200,
          headers: { ...headers, "content-type": EDM_CONTENT_TYPE },
        });
      } finally {
        doc.dispose();
      }
    },
  );

  app.get("/dsd/rest/search", requireRole(deps.checker, ["gateway", "operator"]), DSD_DOC, (c) => {
    const snapshot = deps.store.snapshot;
    if (!snapshot) {
      return dsdXml(
        buildDsdException({
          code: "DSD:ERR:0002",
          type: "rs:TimeoutExceptionType",
          message: "Service unavailable",
          detail: "Tables are still loading",
        }),
        503,
      );
    }
    const found: DsdLookup = findDataServices(snapshot, {
      queryId: c.req.query("queryId") ?? null,
      classification: c.req.query("evidence-type-classification") ?? null,
      countryCode: c.req.query("country-code") ?? null,
      adminL2: c.req.query("jurisdiction-admin-l2") ?? null,
      adminL3: c.req.query("jurisdiction-admin-l3") ?? null,
    });
    if (found.kind === "services") return dsdXml(buildDsdResponse(found.services), 200);
    return dsdXml(buildDsdException(found.exception), found.status);
  });
  return app;
}

/**
 * The EDM response: its head, each evidence document of the 0302 in a registry object as it
 * streams (base64 in both, passed on unchanged), its tail. A 0302 that breaks after the first
 * byte errors the stream, so the gateway's connection is cut, never closed cleanly.
 */
async function* framed(
  frame: EdmEvidenceFrame,
  first: NationalEvidenceEvent,
  events: AsyncGenerator<NationalEvidenceEvent>,
  settle: (verdict: InspectedOutcome) => void,
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  try {
    yield encoder.encode(frame.head);
    let object: { head: string; tail: string } | null = null;
    for (let event: NationalEvidenceEvent | undefined = first; event !== undefined;) {
      if (event.type === "item") {
        object = frame.object(event.format);
        yield encoder.encode(object.head);
      } else if (event.type === "data") {
        yield encoder.encode(event.base64);
      } else if (event.type === "item-end") {
        yield encoder.encode(object!.tail);
      }
      const next = await events.next();
      event = next.done ? undefined : next.value;
    }
    yield encoder.encode(frame.tail);
    settle(null);
  } catch (error) {
    if (!(error instanceof NationalEvidenceError)) throw error;
    settle({ failed: error.message });
    // A string, not an Error: Deno.serve prints what errors a response body, and a register's
    // broken answer is no reason for a stack trace in the log (the protocol has the reason).
    throw error.message;
  } finally {
    // The gateway went away (or the stream failed): stop reading the register's answer.
    settle(null);
    await events.return(undefined);
  }
}

/** Seconds until an announced time (at least 1; an unreadable time: 60). */
function retryAfter(at: string): number {
  const ms = Date.parse(at) - Date.now();
  if (Number.isNaN(ms)) return 60;
  return Math.max(1, Math.ceil(ms / 1000));
}

function dsdXml(body: string, status: number): Response {
  return new Response(body, { status, headers: { "content-type": EDM_CONTENT_TYPE } });
}

function transferHeaders(
  transferId: string | undefined,
  providerId: string | undefined,
): Record<string, string> {
  return {
    ...(transferId === undefined ? {} : { "lotse-transfer-id": transferId }),
    ...(providerId === undefined ? {} : { "lotse-provider": providerId }),
  };
}

/** Parses, validates and reads the EDM request; every failure is an EDM:ERR:0003. */
function readRequest(bytes: Uint8Array, max: number, context: Context): EdmRequest {
  let doc;
  try {
    doc = parseXml(bytes, { maxBytes: max });
  } catch (error) {
    if (!(error instanceof XmlRefusal)) throw error;
    refuse(
      FACE_EDM_ERRORS[error.problemType],
      error.message,
      context,
    );
  }
  try {
    const root = doc!.root;
    if (root.name === "QueryRequest") {
      // Name the request in the answer even when it turns out invalid.
      const id = root.attr("id")?.value.trim();
      if (id && id.length <= 200) context.requestId = id;
    }
    try {
      validateEdm(doc!, { acceptLater: true });
    } catch (error) {
      if (!(error instanceof XmlRefusal)) throw error;
      refuse(FACE_EDM_ERRORS["invalid-request"], error.message, context);
    }
    const option = root.get("*[local-name()='ResponseOption']/@returnType")?.content;
    if (option !== undefined && option !== "LeafClassWithRepositoryItem") {
      refuse(
        FACE_EDM_ERRORS["unsupported-option"],
        `Response option "${option}" is not supported: expected LeafClassWithRepositoryItem`,
        context,
      );
    }
    try {
      return readQueryRequest(doc!);
    } catch (error) {
      if (!(error instanceof EdmReadError)) throw error;
      refuse(FACE_EDM_ERRORS["invalid-request"], error.message, context);
    }
  } finally {
    doc!.dispose();
  }
}

/**
 * A provider's 0303 (or another non-200 answer) as an EDM exception; the answer must arrive
 * whole within `deadlineMs`.
 */
async function providerError(
  answer: Response,
  { context, headers, deadlineMs }: {
    context: Context;
    headers: Record<string, string>;
    deadlineMs: number;
  },
): Promise<Response> {
  let summary = null;
  try {
    const bytes = answer.body
      ? await readBytes(answer.body, MAX_PROVIDER_ERROR_BYTES, deadlineMs)
      : new Uint8Array();
    const doc = parseXml(bytes, { maxBytes: MAX_PROVIDER_ERROR_BYTES });
    try {
      summary = readErrorResponse(doc);
    } finally {
      doc.dispose();
    }
  } catch {
    summary = null;
  }
  if (summary === null) {
    const mapped = REFUSAL_EDM_ERRORS["provider-failed"];
    return edmErrorResponse(
      mapped.code,
      `The provider answered ${answer.status} without an XNachweis error response`,
      { ...context, status: mapped.status, headers },
    );
  }
  const mapped = providerEdmError(summary.code, answer.status);
  const preview = mapped.code === "EDM:ERR:0002" && /^https?:\/\/\S+$/.test(summary.detail)
    ? summary.detail
    : undefined;
  return edmErrorResponse(
    mapped.code,
    preview ? "The evidence must be previewed by the user" : summary.detail,
    {
      ...context,
      status: mapped.status,
      headers,
      ...(preview ? { previewLocation: preview } : {}),
    },
  );
}
