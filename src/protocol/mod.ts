/**
 * The protocol log of Lotse (§ 9 IDNrG, docs/api.md §4): every transfer decision and outcome,
 * durable before the first evidence byte reaches the consumer, hash-chained, kept two years.
 *
 * - {@linkcode openProtocolLog} — the writer: group commits into PostgreSQL, a local spool
 *   while PostgreSQL is away, replay when it is back.
 * - {@linkcode idnrHmac} — the only form of an IDNr the protocol holds.
 * - {@linkcode startRetention} — purges entries past the retention, keeping the chain
 *   verifiable.
 * - Reads and checks: {@linkcode recordsForIdnr}, {@linkcode transferById},
 *   {@linkcode verifyChain}.
 *
 * @example
 * ```ts
 * import { idnrHmac, openProtocolLog, startRetention } from "./protocol/mod.ts";
 *
 * const hmacKey = new TextEncoder().encode(config.protocolKey);
 * const log = await openProtocolLog(db, { spoolDir: config.spoolDir, hmacKey });
 * const stopRetention = startRetention(db, { retentionDays: config.protocolRetentionDays });
 *
 * await log.begin({ transferId, consumerId, providerId, evidenceType, purpose, legalBasis,
 *   idnrUsed: idnr !== null, idnr, jti });
 * log.finish(transferId, { outcome: "delivered", status: 200, bytes, digest, durationMs });
 *
 * // SIGTERM
 * await stopRetention();
 * await log.close();
 * ```
 *
 * @module
 */
export {
  type ChainedEntry,
  idnrHmac,
  type Outcome,
  type ProtocolEntry,
  type TransferDecision,
  type TransferOutcome,
  type TransferRefusal,
} from "./_entry.ts";
export {
  type BatchTiming,
  openProtocolLog,
  ProtocolLog,
  type ProtocolLogOptions,
  type ProtocolLogStats,
} from "./_log.ts";
export { type RetentionOptions, startRetention } from "./_retention.ts";
export {
  type ChainVerification,
  type ProtocolRecord,
  purge,
  recordsForIdnr,
  type RecordsOptions,
  transferById,
  type TransferRecord,
  verifyChain,
} from "./_queries.ts";
