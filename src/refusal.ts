/**
 * A domain refusal: why a use case does not deliver, as a plain value. Use cases return
 * refusals instead of throwing HTTP errors, and every face renders them in its own dialect:
 * the JSON routes as problem+json through {@linkcode refusalProblem} (src/problem.ts), the
 * XML face as an XNachweis 0103, the EU face as an EDM exception.
 *
 * @example
 * ```ts
 * const result = await transferEvidence(request, deps);
 * if (!result.ok) return toResponse(refusalProblem(result.refusal));
 * ```
 *
 * @module
 */
import type { RegionCandidate } from "./nav_index.ts";

/**
 * Every reason a use case can give. The names are the problem types of the JSON face
 * (docs/api.md §3), so that face maps them one to one; other faces map them in their own table.
 */
export const REFUSAL_KINDS = [
  /** The input is malformed (a location that does not parse, a body that breaks its digest). */
  "invalid-request",
  /** An evidence type or provider that is not in the tables. */
  "not-found",
  /** A location that names no known region. */
  "unknown-region",
  /** A PLZ (with or without Ort) that covers several Gemeinden; see `candidates`. */
  "ambiguous-region",
  /** Nobody is responsible for this evidence type in this region (or for this face). */
  "no-responsible-provider",
  /** The Vermittlungsstelle said no; the refusal is recorded under `transferId`. */
  "not-permitted",
  /** The request body is larger than the limit, announced or counted. */
  "payload-too-large",
  /** The provider failed: unreachable, a 5xx (`providerStatus`), a malformed answer. */
  "provider-failed",
  /** The provider sent no answer in time. */
  "provider-timeout",
  /** Lotse cannot serve now: tables loading, or the protocol cannot record the transfer. */
  "unavailable",
  /** The caller went away before the answer. */
  "client-closed",
  /** Too many of the caller's transfers (or in total) are running; see `retryAfterSeconds`. */
  "too-many-requests",
] as const;

export type RefusalKind = typeof REFUSAL_KINDS[number];

/** Why a use case refused; plain data, no HTTP. */
export interface Refusal {
  readonly kind: RefusalKind;
  /** For the caller: what went wrong, in std's message style, free of personal data. */
  readonly detail: string;
  /** The transfer the refusal belongs to, once one was opened (and recorded). */
  readonly transferId?: string;
  /** The provider that was asked, when the refusal comes from asking it. */
  readonly providerId?: string;
  /** The provider's own status behind a `provider-failed` (e.g. 503). */
  readonly providerStatus?: number;
  /** The Gemeinden an `ambiguous-region` could mean. */
  readonly candidates?: readonly RegionCandidate[];
  /** When to try again, for `unavailable`. */
  readonly retryAfterSeconds?: number;
}

/** Builds a refusal; `extra` adds the optional fields. */
export function refusal(
  kind: RefusalKind,
  detail: string,
  extra: Omit<Refusal, "kind" | "detail"> = {},
): Refusal {
  return { kind, detail, ...extra };
}
