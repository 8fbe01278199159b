/**
 * The entries of the protocol log and how they are built from what a route knows.
 *
 * @module
 */
import { createHmac } from "node:crypto";
import { UUID } from "../schemas.ts";

/**
 * What happened to a transfer: `in-flight` until its outcome entry is written, then
 * `delivered`, `deferred` (the provider announced when the evidence will be ready: an
 * XNachweis 0102 with `ResponseAvailableDateTime`) or `failed`; `refused` when no permission covered it; `granted` for an
 * authorization that handed out an evidence access token (`POST /v1/authorizations`).
 */
export type Outcome =
  | "in-flight"
  | "refused"
  | "granted"
  | "delivered"
  | "deferred"
  | "failed";

/**
 * One entry as the spool and the database hold it, before it is chained. A transfer has a
 * `decision` entry and, unless refused, an `outcome` entry; the fields the other kind carries
 * are null.
 */
export interface ProtocolEntry {
  transferId: string;
  kind: "decision" | "outcome";
  /** ISO 8601 with milliseconds, UTC. */
  at: string;
  consumerId: string | null;
  providerId: string | null;
  evidenceType: string | null;
  purpose: string | null;
  legalBasis: string | null;
  idnrUsed: boolean | null;
  idnrHmac: string | null;
  jti: string | null;
  outcome: Outcome;
  status: number | null;
  bytes: number | null;
  digest: string | null;
  durationMs: number | null;
  reason: string | null;
  /** Decisions: the authority an EfA service acted for (absent or null: none). */
  onBehalfOf?: string | null;
}

/** An entry with its place in the hash chain. */
export interface ChainedEntry extends ProtocolEntry {
  seq: number;
  prevHash: string;
  hash: string;
}

/** What a route knows when it decides a transfer (docs/api.md §4). */
export interface TransferDecision {
  /** UUID; the `Lotse-Transfer-Id` header. */
  transferId: string;
  /** Default: the log's clock. */
  time?: Date;
  consumerId: string;
  /** Null for refusals before navigation found a provider. */
  providerId: string | null;
  evidenceType: string;
  purpose: string;
  legalBasis: string;
  idnrUsed: boolean;
  /** The IDNr in clear; only its HMAC leaves the log's hands. */
  idnr?: string | null;
  /** The evidence access token's `jti`. */
  jti?: string | null;
  /** The authority an EfA service acts for (XNachweis `EvidenceRequester`). */
  onBehalfOf?: string | null;
}

/** A refusal: the decision and why. */
export interface TransferRefusal extends TransferDecision {
  /** HTTP status the consumer got, e.g. 403. */
  status?: number | null;
  /** Short and free of personal data, e.g. `no permission covers the purpose`. */
  reason: string;
}

/** How a transfer ended. */
export interface TransferOutcome {
  outcome: "delivered" | "deferred" | "failed";
  /** Default: the log's clock. */
  time?: Date;
  /** The provider's status, or the one Lotse answered with (502, 504). */
  status?: number | null;
  bytes?: number | null;
  /** The response's digest, e.g. `sha-256=:…:`. */
  digest?: string | null;
  durationMs?: number | null;
  /** For failures: short and free of personal data. */
  reason?: string | null;
  /**
   * The subject's IDNr as the provider reported it (`Lotse-Subject-IDNr`, docs/api.md §3) when
   * the request carried none, e.g. an EU request about a person known by eIDAS attributes; only
   * its HMAC is recorded, so the cockpit finds the transfer.
   */
  subjectIdnr?: string | null;
}

const MAX_TEXT = 500;
const MAX_REASON = 300;

/**
 * HMAC-SHA-256 of an IDNr under the protocol key, as lowercase hex: the only form in which
 * the IDNr reaches the protocol, so the cockpit can look it up and a dump does not reveal it.
 *
 * @example
 * ```ts
 * const hmac = idnrHmac(new TextEncoder().encode(config.protocolKey), "86095742719");
 * ```
 */
export function idnrHmac(key: Uint8Array | string, idnr: string): string {
  return createHmac("sha256", key).update(idnr, "utf8").digest("hex");
}

/** Whether `s` is a UUID (any case). */
export function isUuid(s: string): boolean {
  return UUID.test(s);
}

/**
 * PostgreSQL text holds no NUL and JSON no lone surrogate; an entry carrying either would be
 * refused for good and block every entry behind it. The edge refuses such input already; this
 * is the last line, so the log itself can never be poisoned.
 */
function storable(value: string): string {
  // Checked before copied: nearly every value is clean (half the time of always copying).
  const wellFormed = value.isWellFormed() ? value : value.toWellFormed();
  return wellFormed.includes("\0") ? wellFormed.replaceAll("\0", "\ufffd") : wellFormed;
}

function text(name: string, value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "string") throw new TypeError(`Cannot log ${name}: expected a string`);
  if (value.length > MAX_TEXT) {
    throw new RangeError(`Cannot log ${name}: longer than ${MAX_TEXT} characters`);
  }
  return storable(value);
}

function required(name: string, value: string | null | undefined): string {
  const v = text(name, value);
  if (!v) throw new TypeError(`Cannot log ${name}: missing`);
  return v;
}

function int(name: string, value: number | null | undefined, max: number): number | null {
  if (value === null || value === undefined) return null;
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new RangeError(`Cannot log ${name} "${value}": expected an integer from 0 to ${max}`);
  }
  return value;
}

function transferId(id: string): string {
  if (typeof id !== "string" || !UUID.test(id)) {
    throw new TypeError(`Cannot log transfer id "${String(id).slice(0, 40)}": expected a UUID`);
  }
  return id.toLowerCase();
}

function isoTime(time: Date): string {
  if (!(time instanceof Date) || Number.isNaN(time.getTime())) {
    throw new TypeError("Cannot log time: expected a valid Date");
  }
  return time.toISOString();
}

// Reasons are cut rather than refused: a failure must be recorded even when its message is long.
function reason(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return storable(String(value).slice(0, MAX_REASON));
}

/** Builds a decision entry; throws on input the database would not take. */
export function decisionEntry(
  decision: TransferDecision | TransferRefusal,
  options: {
    now: Date;
    hmacKey: Uint8Array | string;
    outcome: "in-flight" | "refused" | "granted";
  },
): ProtocolEntry {
  const idnr = decision.idnr ?? null;
  const refusal = options.outcome === "refused" ? decision as TransferRefusal : null;
  return {
    transferId: transferId(decision.transferId),
    kind: "decision",
    at: isoTime(decision.time ?? options.now),
    consumerId: required("consumer id", decision.consumerId),
    providerId: text("provider id", decision.providerId),
    evidenceType: required("evidence type", decision.evidenceType),
    purpose: required("purpose", decision.purpose),
    legalBasis: required("legal basis", decision.legalBasis),
    idnrUsed: Boolean(decision.idnrUsed),
    idnrHmac: idnr ? idnrHmac(options.hmacKey, idnr) : null,
    jti: text("jti", decision.jti),
    outcome: options.outcome,
    status: refusal ? int("status", refusal.status, 999) : null,
    bytes: null,
    digest: null,
    durationMs: null,
    reason: refusal ? reason(refusal.reason) : null,
    ...(decision.onBehalfOf ? { onBehalfOf: required("authority", decision.onBehalfOf) } : {}),
  };
}

/** Builds an outcome entry; throws on input the database would not take. */
export function outcomeEntry(
  id: string,
  outcome: TransferOutcome,
  options: { now: Date; hmacKey: Uint8Array | string },
): ProtocolEntry {
  if (!["delivered", "deferred", "failed"].includes(outcome.outcome)) {
    throw new TypeError(
      `Cannot log outcome "${
        String(outcome.outcome)
      }": expected "delivered", "deferred" or "failed"`,
    );
  }
  return {
    transferId: transferId(id),
    kind: "outcome",
    at: isoTime(outcome.time ?? options.now),
    consumerId: null,
    providerId: null,
    evidenceType: null,
    purpose: null,
    legalBasis: null,
    idnrUsed: null,
    idnrHmac: outcome.subjectIdnr ? idnrHmac(options.hmacKey, outcome.subjectIdnr) : null,
    jti: null,
    outcome: outcome.outcome,
    status: int("status", outcome.status, 999),
    bytes: int("bytes", outcome.bytes, Number.MAX_SAFE_INTEGER),
    digest: text("digest", outcome.digest),
    durationMs: int("duration", outcome.durationMs, 2_147_483_647),
    reason: reason(outcome.reason),
  };
}
