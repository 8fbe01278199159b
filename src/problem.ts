/**
 * RFC 9457 problem details. Every error Lotse answers is one of these, with a `type` from
 * the fixed list of docs/api.md §3, and never a stack trace.
 *
 * @example
 * ```ts
 * throw new Problem("not-found", `Unknown evidence type "${id}"`);
 * ```
 *
 * @module
 */
import type { Refusal, RefusalKind } from "./refusal.ts";

export const PROBLEM_TYPES = {
  "invalid-request": { status: 400, title: "Invalid request" },
  "unauthorized": { status: 401, title: "Unauthorized" },
  "forbidden": { status: 403, title: "Forbidden" },
  "not-permitted": { status: 403, title: "Not permitted" },
  "unknown-region": { status: 404, title: "Unknown region" },
  "no-responsible-provider": { status: 404, title: "No responsible provider" },
  "not-found": { status: 404, title: "Not found" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  "request-timeout": { status: 408, title: "Request timeout" },
  "conflict": { status: 409, title: "Conflict" },
  "ambiguous-region": { status: 409, title: "Ambiguous region" },
  "payload-too-large": { status: 413, title: "Payload too large" },
  "unsupported-media-type": { status: 415, title: "Unsupported media type" },
  "unprocessable": { status: 422, title: "Unprocessable content" },
  "too-many-requests": { status: 429, title: "Too many requests" },
  "request-header-fields-too-large": { status: 431, title: "Request header fields too large" },
  "uri-too-long": { status: 414, title: "URI too long" },
  "not-implemented": { status: 501, title: "Not implemented" },
  "internal": { status: 500, title: "Internal error" },
  "provider-failed": { status: 502, title: "Provider failed" },
  "unavailable": { status: 503, title: "Service unavailable" },
  "provider-timeout": { status: 504, title: "Provider timeout" },
} as const;

export type ProblemType = keyof typeof PROBLEM_TYPES;

export const PROBLEM_BASE = "https://lotse.dev/problems/";

/** An error the HTTP edge turns into `application/problem+json`. */
export class Problem extends Error {
  override name = "Problem";
  readonly type: ProblemType;
  readonly status: number;
  readonly extra: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    type: ProblemType,
    detail: string,
    options?: { extra?: Record<string, unknown>; headers?: Record<string, string> },
  ) {
    super(detail);
    this.type = type;
    this.status = PROBLEM_TYPES[type].status;
    this.extra = options?.extra;
    this.headers = options?.headers;
  }
}

/** The JSON body of a problem. */
export function problemBody(
  type: ProblemType,
  detail: string,
  extra?: Record<string, unknown>,
): Record<string, unknown> {
  const { status, title } = PROBLEM_TYPES[type];
  return { ...extra, type: PROBLEM_BASE + type, title, status, detail };
}

/** A complete problem+json response. */
export function problemResponse(
  type: ProblemType,
  detail: string,
  options?: { extra?: Record<string, unknown>; headers?: Record<string, string> },
): Response {
  return new Response(JSON.stringify(problemBody(type, detail, options?.extra)), {
    status: PROBLEM_TYPES[type].status,
    headers: { ...options?.headers, "content-type": "application/problem+json" },
  });
}

/** Turns a {@linkcode Problem} into its response. */
export function toResponse(problem: Problem): Response {
  return problemResponse(problem.type, problem.message, {
    extra: problem.extra,
    headers: problem.headers,
  });
}

/**
 * The JSON face's dialect for domain refusals: refusal kind → problem type. `null` is a
 * caller that went away: status 499 and no body. Other faces keep a table of their own.
 */
export const REFUSAL_PROBLEM_TYPES: { readonly [K in RefusalKind]: ProblemType | null } = {
  "invalid-request": "invalid-request",
  "not-found": "not-found",
  "unknown-region": "unknown-region",
  "ambiguous-region": "ambiguous-region",
  "no-responsible-provider": "no-responsible-provider",
  "not-permitted": "not-permitted",
  "payload-too-large": "payload-too-large",
  "provider-failed": "provider-failed",
  "provider-timeout": "provider-timeout",
  "unavailable": "unavailable",
  "client-closed": null,
  "too-many-requests": "too-many-requests",
};

/** The HTTP status of a refusal in the JSON face (499 for a caller that went away). */
export function refusalStatus(kind: RefusalKind): number {
  const type = REFUSAL_PROBLEM_TYPES[kind];
  return type === null ? 499 : PROBLEM_TYPES[type].status;
}

/**
 * A refusal as a {@linkcode Problem}: the transfer id and the asked provider go into the
 * `Lotse-Transfer-Id` and `Lotse-Provider` headers, `Retry-After` when given, candidates
 * and the provider's status into the body.
 */
export function refusalProblem(refusal: Refusal): Problem {
  const type = REFUSAL_PROBLEM_TYPES[refusal.kind] ?? "invalid-request";
  const headers: Record<string, string> = {};
  if (refusal.retryAfterSeconds !== undefined) {
    headers["retry-after"] = String(refusal.retryAfterSeconds);
  }
  if (refusal.transferId !== undefined) headers["lotse-transfer-id"] = refusal.transferId;
  if (refusal.providerId !== undefined) headers["lotse-provider"] = refusal.providerId;
  const extra: Record<string, unknown> = {};
  if (refusal.candidates !== undefined) extra.candidates = refusal.candidates;
  if (refusal.providerStatus !== undefined) extra.providerStatus = refusal.providerStatus;
  return new Problem(type, refusal.detail, {
    ...(Object.keys(extra).length > 0 ? { extra } : {}),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
  });
}

/** A refusal as the JSON face answers it: problem+json, or a bare 499. */
export function refusalResponse(refusal: Refusal): Response {
  if (REFUSAL_PROBLEM_TYPES[refusal.kind] === null) return new Response(null, { status: 499 });
  return toResponse(refusalProblem(refusal));
}
