/**
 * Transfers interrupted by a crash are closed at the next start. Each instance keeps a small
 * journal of its own running transfers next to its protocol spool (one spool, and so one
 * journal, per instance): a line when a transfer's decision is recorded, one with its outcome
 * as soon as the stream ended, another once that outcome is durable. At start the transfers
 * not ended are this instance's interrupted ones; those the protocol still shows `in-flight`
 * get the outcome the journal kept (a transfer whose stream ended before the crash), or
 * `failed`, reason `interrupted`. An instance never touches another instance's transfers, so a fleet
 * needs no coordination.
 *
 * @example
 * ```ts
 * const journal = await InflightJournal.open(`${spoolDir}/inflight`);
 * const protocol = journal.track(log); // the port the routes use
 * await closeInterrupted(journal, protocol, (id) => transferById(db, id));
 * ```
 *
 * @module
 */
import type { ProtocolPort } from "./protocol/port.ts";
import type { TransferOutcome } from "./protocol/mod.ts";

const encoder = new TextEncoder();

/** Rewrites the journal with only the running transfers once it grows past this. */
const COMPACT_BYTES = 4 * 1024 * 1024;

/** The journal of one instance's running transfers. */
export class InflightJournal {
  readonly #path: string;
  #file: Deno.FsFile;
  #size: number;
  readonly #running = new Set<string>();
  #closed = false;
  /** Transfers begun before the last stop and never ended. */
  readonly interrupted: readonly string[];
  /** Of those, the outcomes that were known (stream ended) but not yet durable. */
  readonly known: ReadonlyMap<string, TransferOutcome>;

  private constructor(
    path: string,
    file: Deno.FsFile,
    interrupted: string[],
    known: Map<string, TransferOutcome>,
  ) {
    this.known = known;
    this.#path = path;
    this.#file = file;
    this.#size = 0;
    this.interrupted = interrupted;
  }

  /** Opens (or creates) the journal at `path` and reads what the last run left. */
  static async open(path: string): Promise<InflightJournal> {
    const left = new Set<string>();
    const known = new Map<string, TransferOutcome>();
    try {
      for (const line of (await Deno.readTextFile(path)).split("\n")) {
        const id = line.slice(1, 37);
        if (line.startsWith("+")) left.add(id);
        else if (line.startsWith("-")) {
          left.delete(id);
          known.delete(id);
        } else if (line.startsWith("=")) {
          try {
            const outcome = JSON.parse(line.slice(38));
            if (typeof outcome.time === "string") outcome.time = new Date(outcome.time);
            known.set(id, outcome);
          } catch { /* a torn last line: treated as not known */ }
        }
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const dir = path.slice(0, path.lastIndexOf("/"));
    if (dir) await Deno.mkdir(dir, { recursive: true });
    // The interrupted ones stay in the new journal until they are closed, so a start that
    // cannot close them (database down) leaves them for the next.
    for (const id of known.keys()) if (!left.has(id)) known.delete(id);
    await Deno.writeTextFile(
      path,
      [...left].map((id) =>
        `+${id}\n` + (known.has(id) ? `=${id} ${JSON.stringify(known.get(id))}\n` : "")
      ).join(""),
    );
    const file = await Deno.open(path, { append: true });
    const journal = new InflightJournal(path, file, [...left], known);
    for (const id of left) journal.#running.add(id);
    return journal;
  }

  /** Transfers running now (and interrupted ones not yet closed). */
  get running(): number {
    return this.#running.size;
  }

  #write(line: string): void {
    if (this.#closed) return;
    const bytes = encoder.encode(line);
    let written = 0;
    while (written < bytes.length) written += this.#file.writeSync(bytes.subarray(written));
    this.#size += bytes.length;
    if (this.#size > COMPACT_BYTES) this.#compact();
  }

  #compact(): void {
    this.#file.close();
    Deno.writeTextFileSync(this.#path, [...this.#running].map((id) => `+${id}\n`).join(""));
    this.#file = Deno.openSync(this.#path, { append: true });
    this.#size = 0;
  }

  /** Notes a transfer as running. */
  begin(transferId: string): void {
    this.#running.add(transferId);
    this.#write(`+${transferId}\n`);
  }

  /** Notes a transfer as ended (its outcome is durable). */
  end(transferId: string): void {
    if (!this.#running.delete(transferId)) return;
    this.#write(`-${transferId}\n`);
  }

  /** The protocol port with every decision and outcome noted in this journal. */
  track(protocol: ProtocolPort): ProtocolPort {
    return {
      begin: (decision) => {
        this.begin(decision.transferId);
        return protocol.begin(decision);
      },
      refused: (refusal) => protocol.refused(refusal),
      granted: (decision) => protocol.granted(decision),
      finish: async (transferId, outcome) => {
        // Known at once, durable a little later: a crash in between still keeps the truth.
        if (this.#running.has(transferId)) {
          this.#write(`=${transferId} ${JSON.stringify(outcome)}\n`);
        }
        await protocol.finish(transferId, outcome);
        this.end(transferId);
      },
      get queueDepth() {
        return protocol.queueDepth;
      },
    };
  }

  /** Closes the file; what ends afterwards stays noted as running (checked at the next start). */
  close(): void {
    this.#closed = true;
    try {
      this.#file.close();
    } catch { /* closed */ }
  }
}

/**
 * Closes this instance's interrupted transfers: each one the protocol still shows
 * `in-flight` gets the outcome `failed`, reason `interrupted`. One that cannot be looked up
 * now (database down) stays in the journal for the next start.
 *
 * @returns how many were closed
 */
export async function closeInterrupted(
  journal: InflightJournal,
  protocol: ProtocolPort,
  outcomeOf: (transferId: string) => Promise<string | null>,
  options: {
    /**
     * Whether the spool the last run left has reached PostgreSQL. If not, a transfer the
     * database does not know yet may be in it: it stays in the journal for the next start
     * instead of being taken for never recorded. Default true.
     */
    replayed?: boolean;
  } = {},
): Promise<number> {
  // The outcomes are queued together and awaited at the end: the protocol log holds an outcome
  // for company (`outcomeMaxDelayMs`), so awaiting each in turn would cost that hold per
  // transfer before the start is ready; together they go in one commit.
  const finishing: Promise<void>[] = [];
  for (const id of journal.interrupted) {
    let outcome: string | null;
    try {
      outcome = await outcomeOf(id);
    } catch {
      continue;
    }
    if (outcome === "in-flight") {
      const known = journal.known.get(id);
      finishing.push(protocol.finish(id, known ?? { outcome: "failed", reason: "interrupted" }));
    } else if (outcome !== null || options.replayed !== false) {
      // Ended after all (its outcome reached the database), or never recorded.
      journal.end(id);
    }
  }
  await Promise.all(finishing);
  return finishing.length;
}
