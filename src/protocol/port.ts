/**
 * What the routes need of the protocol log. {@linkcode ProtocolLog} is the durable
 * implementation; the interface keeps the routes independent of how it writes.
 *
 * @module
 */
import type { TransferDecision, TransferOutcome, TransferRefusal } from "./_entry.ts";

export interface ProtocolPort {
  /** Records a transfer's decision; resolves when it is durable. Await before delivering. */
  begin(decision: TransferDecision): Promise<void>;
  /** Records a refusal; resolves when durable. */
  refused(refusal: TransferRefusal): Promise<void>;
  /** Records a granted authorization (an evidence token handed out); resolves when durable. */
  granted(decision: TransferDecision): Promise<void>;
  /** Appends how a transfer ended. */
  finish(transferId: string, outcome: TransferOutcome): Promise<void>;
  readonly queueDepth: number;
}
