/**
 * The provider kit: what a register runs to check a `DE.EvidenceRequest.0101` (or the EU
 * face's `.0301`, answered with 0302/0303) that Lotse forwards, with nothing but Lotse's public JWKS (`/.well-known/jwks.json`). It checks that
 * the message is schema-valid XNachweis 1.2.0, that its `IssuedToken` is sealed by Lotse,
 * addressed to this provider (`aud`), unexpired, for the message's evidence type
 * classification, and that its `req_digest` is the request hash of exactly this message
 * (see `request_hash.ts`). A refusal comes with the 0103 to answer.
 *
 * @example
 * ```ts
 * import { checkEvidenceRequest, refusalResponse } from "./provider_kit.ts";
 * const jwks = await (await fetch("https://lotse.example/.well-known/jwks.json")).json();
 * Deno.serve(async (request) => {
 *   const checked = await checkEvidenceRequest(new Uint8Array(await request.arrayBuffer()), {
 *     jwks, providerId: "kba-zfzr", provider: { id: "kba-zfzr", name: "KBA", classification: "EP" },
 *   });
 *   if (!checked.ok) return refusalResponse(checked);
 *   // checked.request: requesters, subject (IDNr), classification; checked.claims: purpose …
 *   return new Response(buildEvidenceResponse({ … }), { headers: { "content-type": "application/xml" } });
 * });
 * ```
 *
 * @module
 */
import { type EvidenceTokenClaims, type Jwks, verifyEvidenceToken } from "../../crypto/mod.ts";
import {
  type Agent,
  buildErrorResponse,
  buildEvidenceResponse,
  type EvidenceRequest,
  PROVIDER_CLASSIFICATION,
  readEvidenceRequest,
  rootName,
  type Subject,
  XML_CONTENT_TYPE,
} from "./messages.ts";
import { parseXml, validateXml, XmlRefusal } from "./parse.ts";
import { requestDigest } from "./request_hash.ts";
import { SUBJECT_IDNR_HEADER } from "../header_names.ts";

/** Options for {@linkcode checkEvidenceRequest}. */
export interface CheckEvidenceRequestOptions {
  /** Lotse's public keys (`/.well-known/jwks.json`). */
  jwks: Jwks;
  /** This provider as it answers in a 0103 (its `id` must be the token's `aud`). */
  provider: Agent;
  /** Lotse's issuer URL, when known: `iss` must be it. */
  issuer?: string;
  /** The evidence type classifications this provider serves, by Lotse evidence type id. */
  classifications?: Readonly<Record<string, string>>;
  /** The `Authorization: Bearer` token, when Lotse sent one: it must be the `IssuedToken`. */
  bearer?: string | null;
  /** Largest accepted message; default 1 MiB. */
  maxBytes?: number;
  /** Epoch ms; default `Date.now()`. */
  now?: number;
}

/** An accepted request. */
export interface CheckedRequest {
  readonly ok: true;
  readonly request: EvidenceRequest;
  readonly claims: EvidenceTokenClaims;
}

/** A refused request and the 0103 to answer it with. */
export interface RefusedRequest {
  readonly ok: false;
  readonly status: 400 | 401 | 403 | 413;
  /** A problem type of Lotse's contract, used as the 0103 code. */
  readonly code: "invalid-request" | "unauthorized" | "forbidden" | "payload-too-large";
  readonly detail: string;
  /** The 0103 body. */
  readonly body: string;
}

/** Checks one incoming 0101. Never throws for bad input. */
export async function checkEvidenceRequest(
  bytes: Uint8Array,
  options: CheckEvidenceRequestOptions,
): Promise<CheckedRequest | RefusedRequest> {
  let doc;
  try {
    doc = parseXml(bytes, { maxBytes: options.maxBytes ?? 1 << 20 });
  } catch (error) {
    const refusal = error instanceof XmlRefusal ? error : new XmlRefusal("malformed", "Unreadable");
    return refuse(
      refusal.problemType,
      refusal.message,
      options,
    );
  }
  try {
    try {
      validateXml(doc);
    } catch (error) {
      return refuse("invalid-request", (error as Error).message, options);
    }
    const root = rootName(doc);
    if (root !== "DE.EvidenceRequest.0101" && root !== "DE.EvidenceRequest.0301") {
      return refuse("invalid-request", `Expected DE.EvidenceRequest.0101 or .0301`, options);
    }
    const request = readEvidenceRequest(doc);
    const context = {
      requestId: request.id,
      requesters: request.requesters,
      eu: request.type === "DE.EvidenceRequest.0301",
    };
    if (request.issuedToken === "") {
      return refuse("unauthorized", "The IssuedToken is empty", options, context);
    }
    if (options.bearer != null && options.bearer !== request.issuedToken) {
      return refuse("unauthorized", "The bearer token is not the IssuedToken", options, context);
    }
    const verified = await verifyEvidenceToken(request.issuedToken, options.jwks, {
      audience: options.provider.id,
      issuer: options.issuer,
      now: options.now,
    });
    if (!verified.ok) {
      return refuse(
        "unauthorized",
        `IssuedToken refused: ${verified.description}`,
        options,
        context,
      );
    }
    const claims = verified.claims;
    if (request.provider.id !== options.provider.id) {
      return refuse(
        "forbidden",
        `The message is addressed to "${request.provider.id}"`,
        options,
        context,
      );
    }
    const expected = options.classifications?.[claims.evidence_type];
    if (options.classifications && expected !== request.classification) {
      return refuse(
        "forbidden",
        `The IssuedToken is for evidence type "${claims.evidence_type}", not for this message`,
        options,
        context,
      );
    }
    if (claims.req_digest === undefined || claims.req_digest !== requestDigest(doc)) {
      return refuse(
        "forbidden",
        "The request hash does not match the IssuedToken's req_digest",
        options,
        context,
      );
    }
    return { ok: true, request, claims };
  } finally {
    doc.dispose();
  }
}

const STATUS = {
  "invalid-request": 400,
  "unauthorized": 401,
  "forbidden": 403,
  "payload-too-large": 413,
} as const;

function refuse(
  code: RefusedRequest["code"],
  detail: string,
  options: CheckEvidenceRequestOptions,
  context: { requestId?: string; requesters?: readonly Agent[]; eu?: boolean } = {},
): RefusedRequest {
  const body = buildErrorResponse({
    type: context.eu ? "DE.EvidenceErrorResponse.0303" : "DE.EvidenceErrorResponse.0103",
    code,
    detail,
    requestId: context.requestId,
    requesters: context.requesters ?? [],
    errorProvider: options.provider,
    now: options.now,
  });
  return { ok: false, status: STATUS[code], code, detail, body };
}

/** The HTTP response for a refusal: the 0103 with its status. */
export function refusalResponse(refused: RefusedRequest): Response {
  return new Response(refused.body, {
    status: refused.status,
    headers: { "content-type": XML_CONTENT_TYPE },
  });
}

/** Options for {@linkcode xnachweisRegister}. */
export interface XnachweisRegisterOptions {
  /** Lotse's current JWKS (fetched from `/.well-known/jwks.json`, or in-process). */
  jwks: () => Promise<Jwks> | Jwks;
  /** Lotse's issuer URL, when the register knows it. */
  issuer?: string;
  /** Evidence type id → EU classification, as in Lotse's catalogue. */
  classifications: Readonly<Record<string, string>>;
  /** The register's data for a subject: a JSON document, carried base64 in the 0102. */
  evidence: (evidenceType: string, subject: Subject, transferId: string | null) => unknown;
  /** Largest accepted request; default 1 MiB. */
  maxBytes?: number;
  /**
   * The register's preview space for an EU request (0301), by evidence type: when set and the
   * user may preview but has not (token claim `edm_preview` = `requested`), the register
   * answers a 0303 with code `EDM:ERR:0002` and the preview URL as its detail.
   */
  previewUrl?: (evidenceType: string, requestId: string) => string | null;
  /**
   * The IDNr of a person the register knows, for a 0301 that names the person by eIDAS
   * attributes only: sent back in `Lotse-Subject-IDNr`, so the transfer shows in that person's
   * Datenschutzcockpit (XNachweis 1.2.0 has no element for it in the 0302).
   */
  subjectIdnr?: (subject: Subject) => string | null;
}

/**
 * Builds the handler of one demo register's XNachweis endpoint: a 0101 is answered with a
 * 0102, a 0301 (the Intermediäre Plattform's, for an EU request) with a 0302 or 0303.
 */
export function xnachweisRegister(
  options: XnachweisRegisterOptions,
): (request: Request, provider: { id: string; name: string }) => Promise<Response> {
  return async (request, provider) => {
    const me = { id: provider.id, name: provider.name, classification: PROVIDER_CLASSIFICATION };
    const bytes = new Uint8Array(await request.arrayBuffer());
    const bearer = /^Bearer (\S+)$/.exec(request.headers.get("authorization") ?? "")?.[1] ?? null;
    const checked = await checkEvidenceRequest(bytes, {
      jwks: await options.jwks(),
      provider: me,
      issuer: options.issuer,
      classifications: options.classifications,
      bearer,
      maxBytes: options.maxBytes,
    });
    if (!checked.ok) return refusalResponse(checked);
    const { request: message, claims } = checked;
    const eu = message.type === "DE.EvidenceRequest.0301";
    const preview =
      eu && (claims as unknown as Record<string, unknown>)["edm_preview"] === "requested"
        ? options.previewUrl?.(claims.evidence_type, message.id) ?? null
        : null;
    if (preview !== null) {
      const body = buildErrorResponse({
        type: "DE.EvidenceErrorResponse.0303",
        code: "EDM:ERR:0002",
        detail: preview,
        requestId: message.id,
        requesters: message.requesters,
        errorProvider: me,
      });
      return new Response(body, { status: 403, headers: { "content-type": XML_CONTENT_TYPE } });
    }
    const document = options.evidence(
      claims.evidence_type,
      message.subject,
      request.headers.get("lotse-transfer-id"),
    );
    const body = buildEvidenceResponse({
      type: eu ? "DE.EvidenceResponse.0302" : "DE.EvidenceResponse.0102",
      requestId: message.id,
      provider: me,
      requesters: message.requesters,
      classification: message.classification,
      evidenceTitle: claims.evidence_type,
      subject: message.subject,
      evidence: { bytes: new TextEncoder().encode(JSON.stringify(document)) },
    });
    const headers = new Headers({ "content-type": XML_CONTENT_TYPE });
    const idnr = eu && message.subject.kind === "natural" && message.subject.idnr === undefined
      ? options.subjectIdnr?.(message.subject) ?? null
      : null;
    if (idnr !== null) headers.set(SUBJECT_IDNR_HEADER, idnr);
    return new Response(body, { headers });
  };
}
