/**
 * Lotse's own refusals and failures in the XNachweis dialect: a schema-valid
 * `DE.EvidenceErrorResponse.0103` whose exception code is the problem type of docs/api.md §3 and
 * whose HTTP status is that type's, from the same table as the JSON face
 * ({@linkcode PROBLEM_TYPES}).
 *
 * @example
 * ```ts
 * import { errorResponse } from "./errors.ts";
 * return errorResponse("not-permitted", "No permission covers the request", {
 *   requestId: request.id, requesters: request.requesters,
 * });
 * ```
 *
 * @module
 */
import { PROBLEM_TYPES, type ProblemType } from "../problem.ts";
import {
  type Agent,
  buildErrorResponse,
  INTERMEDIARY_CLASSIFICATION,
  XML_CONTENT_TYPE,
} from "./messages.ts";

/** Lotse as the `ErrorProvider` of its own 0103s. */
export const LOTSE_AGENT: Agent = {
  id: "lotse",
  name: "Lotse Vermittlungsstelle",
  classification: INTERMEDIARY_CLASSIFICATION,
};

/** Options for {@linkcode errorResponse}. */
export interface ErrorResponseOptions {
  /** The 0101's `id`, when it could be read. */
  requestId?: string;
  /** The 0101's requesters, or the authenticated caller. */
  requesters?: readonly Agent[];
  headers?: Record<string, string>;
  now?: number;
}

/** A complete 0103 response with the status of `type`. */
export function errorResponse(
  type: ProblemType,
  detail: string,
  options: ErrorResponseOptions = {},
): Response {
  const body = buildErrorResponse({
    code: type,
    detail,
    requestId: options.requestId,
    requesters: options.requesters ?? [],
    errorProvider: LOTSE_AGENT,
    now: options.now,
  });
  return new Response(body, {
    status: PROBLEM_TYPES[type].status,
    headers: { ...options.headers, "content-type": XML_CONTENT_TYPE },
  });
}
