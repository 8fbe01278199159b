/**
 * Lotse's refusals and failures in the EDM dialect: the eight EDM error codes of the OOTS
 * technical design (`EDM:ERR:0001`–`0008`, each with its `rs:` exception type), one table
 * mapping every domain refusal kind ({@linkcode REFUSAL_KINDS}) to one of them, beside the
 * JSON face's `REFUSAL_PROBLEM_TYPES` (src/problem.ts) and the XML face's 0103 codes, and a
 * table for what a national provider's 0303 answers.
 *
 * @example
 * ```ts
 * import { edmErrorResponse, REFUSAL_EDM_ERRORS } from "./errors.ts";
 * const { code, status } = REFUSAL_EDM_ERRORS[refusal.kind];
 * return edmErrorResponse(code, refusal.detail, { status, requestId, requester });
 * ```
 *
 * @module
 */
import type { RefusalKind } from "../refusal.ts";
import { buildExceptionResponse, EDM_CONTENT_TYPE, type EdmResponseContext } from "./edm.ts";

/** The EDM error codes and their exception types (OOTS TDD, EDM error response). */
export const EDM_ERRORS = {
  "EDM:ERR:0001": { type: "rs:AuthenticationExceptionType", message: "Failed Authentication" },
  "EDM:ERR:0002": { type: "rs:AuthorizationExceptionType", message: "Missing Authorization" },
  "EDM:ERR:0003": {
    type: "rs:InvalidRequestExceptionType",
    message: "Syntactically or semantically invalid request",
  },
  "EDM:ERR:0004": { type: "rs:ObjectNotFoundExceptionType", message: "Object not found" },
  "EDM:ERR:0005": { type: "rs:TimeoutExceptionType", message: "Exceeding timeout period" },
  "EDM:ERR:0006": {
    type: "rs:UnresolvedReferenceExceptionType",
    message: "Referenced object that cannot be resolved",
  },
  "EDM:ERR:0007": {
    type: "rs:UnsupportedCapabilityExceptionType",
    message: "Optional feature or capability is not supported",
  },
  "EDM:ERR:0008": {
    type: "query:QueryExceptionType",
    message: "Invalid query syntax or semantics that must be corrected",
  },
} as const;

export type EdmErrorCode = keyof typeof EDM_ERRORS;

/** Severity of every EDM error but a required preview. */
export const SEVERITY_ERROR = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error";
/** Severity of `EDM:ERR:0002` when the user must preview (with a `PreviewLocation`). */
export const SEVERITY_PREVIEW_REQUIRED =
  "urn:sr.oots.tech.ec.europa.eu:codes:ErrorSeverity:EDMErrorResponse:PreviewRequired";

/** An EDM error and the HTTP status the gateway gets with it. */
export interface EdmError {
  readonly code: EdmErrorCode;
  readonly status: number;
}

/**
 * Every domain refusal as an EDM error: the EU face's mapping table (the JSON face's is
 * `REFUSAL_PROBLEM_TYPES`, the XML face's the problem type as 0103 code).
 */
export const REFUSAL_EDM_ERRORS: { readonly [K in RefusalKind]: EdmError } = {
  "invalid-request": { code: "EDM:ERR:0003", status: 400 },
  "not-found": { code: "EDM:ERR:0004", status: 404 },
  "unknown-region": { code: "EDM:ERR:0004", status: 404 },
  "ambiguous-region": { code: "EDM:ERR:0008", status: 409 },
  "no-responsible-provider": { code: "EDM:ERR:0007", status: 404 },
  "not-permitted": { code: "EDM:ERR:0002", status: 403 },
  "payload-too-large": { code: "EDM:ERR:0003", status: 413 },
  "provider-failed": { code: "EDM:ERR:0006", status: 502 },
  "provider-timeout": { code: "EDM:ERR:0005", status: 504 },
  "unavailable": { code: "EDM:ERR:0005", status: 503 },
  "client-closed": { code: "EDM:ERR:0005", status: 499 },
  /** A rate limit: no EDM code says so; the transient one, with Retry-After. */
  "too-many-requests": { code: "EDM:ERR:0005", status: 429 },
};

/** The face's own refusals before the use case runs. */
export const FACE_EDM_ERRORS = {
  /** No or a wrong bearer token. */
  unauthorized: { code: "EDM:ERR:0001", status: 401 },
  /** A valid token without role `gateway`. */
  forbidden: { code: "EDM:ERR:0001", status: 403 },
  /** Not XML, not UTF-8, a DTD, not well-formed, not schema-valid, or incomplete. */
  "invalid-request": { code: "EDM:ERR:0003", status: 400 },
  "payload-too-large": { code: "EDM:ERR:0003", status: 413 },
  /** A body that stopped arriving: incomplete. */
  "request-timeout": { code: "EDM:ERR:0003", status: 408 },
  "unsupported-media-type": { code: "EDM:ERR:0003", status: 415 },
  /** A `ResponseOption` other than `LeafClassWithRepositoryItem`. */
  "unsupported-option": { code: "EDM:ERR:0007", status: 400 },
  /** The addressed data service is not a German provider Lotse knows. */
  "unknown-provider": { code: "EDM:ERR:0006", status: 404 },
  /** The evidence type classification is not in the catalogue. */
  "unknown-evidence-type": { code: "EDM:ERR:0004", status: 404 },
  "internal": { code: "EDM:ERR:0005", status: 500 },
} as const satisfies Record<string, EdmError>;

/**
 * What a national provider's 0303 (or 0103) code becomes: an EDM code the provider wrote
 * passes through; Lotse's problem types map as the table above; anything else is 0004.
 */
export function providerEdmError(code: string, status: number): EdmError {
  if (code in EDM_ERRORS) return { code: code as EdmErrorCode, status: status || 404 };
  const known = (REFUSAL_EDM_ERRORS as Record<string, EdmError>)[code];
  if (known) return { code: known.code, status: status || known.status };
  return { code: "EDM:ERR:0004", status: status || 404 };
}

/** Options for {@linkcode edmErrorResponse}. */
export interface EdmErrorOptions extends EdmResponseContext {
  readonly status: number;
  readonly previewLocation?: string;
  readonly headers?: Record<string, string>;
}

/** A complete EDM exception response. */
export function edmErrorResponse(
  code: EdmErrorCode,
  detail: string,
  options: EdmErrorOptions,
): Response {
  const { type, message } = EDM_ERRORS[code];
  const preview = code === "EDM:ERR:0002" && options.previewLocation !== undefined;
  const body = buildExceptionResponse({
    ...options,
    code,
    type,
    message,
    detail,
    severity: preview ? SEVERITY_PREVIEW_REQUIRED : SEVERITY_ERROR,
    ...(preview ? { previewLocation: options.previewLocation } : {}),
  });
  return new Response(body, {
    status: options.status,
    headers: { ...options.headers, "content-type": EDM_CONTENT_TYPE },
  });
}
