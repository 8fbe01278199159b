/**
 * Fixtures for the protocol log's tests and benchmarks: a plausible transfer decision, and a
 * deadline for a promise.
 *
 * @example
 * ```ts
 * await log.begin(sampleDecision({ purpose: "p1" }));
 * ```
 *
 * @module
 */
import type { TransferDecision } from "./_entry.ts";

/** A granted decision of the pilot (vehicle data for Stuttgart), fresh ids each call. */
export function sampleDecision(overrides: Partial<TransferDecision> = {}): TransferDecision {
  return {
    transferId: crypto.randomUUID(),
    consumerId: "stuttgart-parken",
    providerId: "kba-zfzr",
    evidenceType: "fahrzeugzulassung",
    purpose: "bewohnerparkausweis",
    legalBasis: "StVO §45 Abs. 1b",
    idnrUsed: true,
    idnr: "86095742719",
    jti: crypto.randomUUID(),
    ...overrides,
  };
}

/** `promise`, or a rejection after `ms`: a drain that never ends fails a test instead of hanging it. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
