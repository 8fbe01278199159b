/**
 * The protocol writer: takes entries from the routes, writes them to PostgreSQL in group
 * commits, and falls back to the local spool when PostgreSQL cannot take them.
 *
 * One loop does all writing, so the order of entries is kept without locks: while a write is
 * in flight, new entries queue up and go together in the next one (group commit: batches
 * grow with the load, an idle log writes at once). An outcome, which no answer waits for,
 * waits up to `outcomeMaxDelayMs` to go with the next decision, grant or refusal: ~1 commit
 * per transfer instead of ~1.4 (measured at a held 200/s), and a decision less often queued
 * behind a write of outcomes alone. While the spool holds anything, new entries go to the
 * spool too, behind it, and the loop drains the spool into PostgreSQL a
 * chunk at a time between them; the spool is empty again before anything goes straight to
 * PostgreSQL.
 *
 * Chain: one hash chain for all instances, appended under the row lock of `protocol_chain`
 * inside each batch's transaction (_queries.ts). One chain means one walk verifies
 * everything and deleting all entries of one instance is still detected, which per-instance
 * chains would need a registry of chains for; the lock is taken once per batch, so its cost
 * is spread over the batch and instances wait on each other for the length of one insert.
 *
 * @module
 */
import type { Db } from "../../db/types.ts";
import {
  decisionEntry,
  outcomeEntry,
  type ProtocolEntry,
  type TransferDecision,
  type TransferOutcome,
  type TransferRefusal,
} from "./_entry.ts";
import { appendEntries, type ChainHead } from "./_append.ts";
import { Spool } from "./_spool.ts";
import { Waker, withTimeout } from "./_waker.ts";
import { createLogger } from "../log.ts";

/** Options for {@linkcode openProtocolLog}. */
export interface ProtocolLogOptions {
  /** This instance's own spool directory (one process per directory). */
  spoolDir: string;
  /** The HMAC key for IDNrs (`LOTSE_PROTOCOL_KEY`). */
  hmacKey: Uint8Array | string;
  /** Time of entries that bring none; default `() => new Date()`. */
  clock?: () => Date;
  /** Most entries in one write; default 2000. */
  batchMaxRecords?: number;
  /** How long a batch may wait for company; default 0 (group commit needs no wait). */
  batchMaxDelayMs?: number;
  /**
   * How long outcomes ({@linkcode ProtocolLog.finish}) may wait for an entry someone waits on
   * (a decision, grant or refusal) to be written with; default 10. `flush()`, `drain()` and
   * `close()` write them at once.
   */
  outcomeMaxDelayMs?: number;
  /** A PostgreSQL write slower than this counts as failed and goes to the spool; default 1000. */
  writeTimeoutMs?: number;
  /** First and longest pause between attempts to reach PostgreSQL again; default 250, 5000. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Entries per transaction when draining the spool; default 5000. */
  drainChunk?: number;
  /** Spool segment size; default 64 MiB. */
  segmentMaxBytes?: number;
  /**
   * Told when PostgreSQL fails (once per outage) and of spool trouble; default: logged as an
   * error by a default logger.
   */
  onError?: (error: unknown) => void;
  /**
   * Told, for each batch that went straight to PostgreSQL, when its entries were logged, sent,
   * answered and the callers waiting on them had run on (P6's stages, for /metrics).
   */
  onBatch?: (timing: BatchTiming) => void;
}

/** The stages of one batch's way to durable, in `performance.now()` milliseconds. */
export interface BatchTiming {
  /**
   * When each entry of the batch that a caller answers after was logged (decisions, grants,
   * refusals; not outcomes, which may wait for company on purpose).
   */
  enqueuedAt: readonly number[];
  /** Entries in the batch, outcomes included. */
  entries: number;
  /** When the batch was handed to the database client. */
  sentAt: number;
  /** When its commit was seen by JavaScript. */
  answeredAt: number;
  /** When the callers awaiting its entries had run on to their next pause. */
  resumedAt: number;
}

/** Counters for /metrics and tests. */
export interface ProtocolLogStats {
  /** Writes to PostgreSQL, fresh and from the spool. */
  batches: number;
  /** Entries committed to PostgreSQL. */
  recordsWritten: number;
  /** Entries written to the spool. */
  spooled: number;
  /** Entries moved from the spool into PostgreSQL. */
  replayed: number;
  /** Failed attempts to write to PostgreSQL. */
  dbErrors: number;
}

interface Pending {
  entry: ProtocolEntry;
  n: number;
  enqueuedAt: number;
  resolve(): void;
  reject(error: unknown): void;
  /** A decision: when it cannot be made durable the caller must know, and not deliver. */
  critical: boolean;
  /** An outcome: may wait for a batch with an entry that someone waits on. */
  deferrable: boolean;
}

/** When a write to PostgreSQL was sent and answered; null when it was not written. */
type Attempt = { sentAt: number; answeredAt: number } | null;

/** The durable protocol log of one Lotse instance; see {@linkcode openProtocolLog}. */
export class ProtocolLog {
  #db: Db;
  #spool: Spool;
  #key: Uint8Array | string;
  #clock: () => Date;
  #max: number;
  #delay: number;
  #outcomeDelay: number;
  #writeTimeout: number;
  #retryMin: number;
  #retryMax: number;
  #drainChunk: number;
  #onError: (error: unknown) => void;
  #onBatch: ((timing: BatchTiming) => void) | null;

  #queue: Pending[] = [];
  /** A batch sent to PostgreSQL while the one before it is being settled. */
  #ahead: Pending[] | null = null;
  #next = 1;
  #settled = 0;
  #waiters: { n: number; drain: boolean; resolve(): void }[] = [];
  #writer = new Waker();
  #drainer = new Waker();
  #closing = false;
  #loops: Promise<void>[];
  #retryAt = 0;
  #retryDelay: number;
  #healthy = true;
  /** The chain's head after this instance's last write, when known. */
  #head: ChainHead | null = null;
  #stats: ProtocolLogStats = {
    batches: 0,
    recordsWritten: 0,
    spooled: 0,
    replayed: 0,
    dbErrors: 0,
  };

  /** Use {@linkcode openProtocolLog}. */
  constructor(db: Db, spool: Spool, options: ProtocolLogOptions) {
    this.#db = db;
    this.#spool = spool;
    this.#key = options.hmacKey;
    this.#clock = options.clock ?? (() => new Date());
    this.#max = options.batchMaxRecords ?? 2000;
    this.#delay = options.batchMaxDelayMs ?? 0;
    this.#outcomeDelay = options.outcomeMaxDelayMs ?? 10;
    this.#writeTimeout = options.writeTimeoutMs ?? 1000;
    this.#retryMin = options.retryMinMs ?? 250;
    this.#retryMax = options.retryMaxMs ?? 5000;
    this.#drainChunk = options.drainChunk ?? 5000;
    this.#onError = options.onError ??
      ((error) => createLogger().error("Protocol log trouble", { error }));
    this.#onBatch = options.onBatch ?? null;
    this.#retryDelay = this.#retryMin;
    this.#loops = [this.#writeLoop(), this.#drainLoop()];
  }

  /**
   * Records a transfer decision; resolves once it is durable (committed in PostgreSQL, or
   * fsynced to the spool). Await it before the first evidence byte reaches the consumer; when
   * it rejects, neither could take it and the transfer must not go ahead.
   */
  begin(decision: TransferDecision): Promise<void> {
    return this.#add(() => decisionEntry(decision, this.#options("in-flight")), true, false);
  }

  /**
   * Records a granted authorization (an evidence access token handed out); resolves once
   * durable. Rejects like {@linkcode ProtocolLog.begin}: then the token must not be handed out.
   */
  granted(decision: TransferDecision): Promise<void> {
    return this.#add(() => decisionEntry(decision, this.#options("granted")), true, false);
  }

  /** Records a refusal; resolves once durable. Never rejects for I/O: it is retried. */
  refused(refusal: TransferRefusal): Promise<void> {
    return this.#add(() => decisionEntry(refusal, this.#options("refused")), false, false);
  }

  /**
   * Appends a transfer's outcome; resolves once durable, which may be up to
   * `outcomeMaxDelayMs` later than for a decision (it goes with the next one). Never rejects
   * for I/O.
   */
  finish(transferId: string, outcome: TransferOutcome): Promise<void> {
    return this.#add(
      () => outcomeEntry(transferId, outcome, { now: this.#clock(), hmacKey: this.#key }),
      false,
      true,
    );
  }

  /** Resolves when everything logged so far is durable (in PostgreSQL or the spool). */
  flush(): Promise<void> {
    return this.#waitFor(false);
  }

  /** Resolves when everything logged so far is in PostgreSQL and the spool is empty. */
  drain(): Promise<void> {
    return this.#waitFor(true);
  }

  /**
   * Makes everything logged so far durable and stops (for SIGTERM). What is in the spool stays
   * there for the next open.
   */
  async close(): Promise<void> {
    this.#closing = true;
    this.#writer.wake();
    this.#drainer.wake();
    await Promise.all(this.#loops);
    await this.#spool.close();
  }

  /** Entries not yet in PostgreSQL: queued in memory or waiting in the spool. */
  get queueDepth(): number {
    return this.#queue.length + this.#spool.pending;
  }

  /** Entries waiting in the spool. */
  get spoolDepth(): number {
    return this.#spool.pending;
  }

  /** A copy of the counters. */
  get stats(): ProtocolLogStats {
    return { ...this.#stats };
  }

  #options(outcome: "in-flight" | "refused" | "granted") {
    return { now: this.#clock(), hmacKey: this.#key, outcome };
  }

  #add(build: () => ProtocolEntry, critical: boolean, deferrable: boolean): Promise<void> {
    if (this.#closing) return Promise.reject(new Error("Cannot log: the protocol log is closed"));
    let entry: ProtocolEntry;
    try {
      entry = build();
    } catch (error) {
      return Promise.reject(error);
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    this.#queue.push({
      entry,
      n: this.#next++,
      enqueuedAt: performance.now(),
      resolve,
      reject,
      critical,
      deferrable,
    });
    this.#writer.wake();
    return promise;
  }

  #waitFor(drain: boolean): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ n: this.#next - 1, drain, resolve });
    this.#notify();
    this.#writer.wake(); // outcomes waiting for company go now
    return promise;
  }

  /**
   * How long the queue may still wait before it is written: 0 when it holds an entry someone
   * waits on, when its oldest outcome has waited `outcomeMaxDelayMs`, or when someone flushes
   * or the log closes.
   */
  #holdMs(): number {
    if (this.#closing || this.#waiters.length > 0) return 0;
    if (this.#queue.some((p) => !p.deferrable)) return 0;
    const oldest = this.#queue[0];
    return oldest === undefined ? 0 : oldest.enqueuedAt + this.#outcomeDelay - performance.now();
  }

  #notify(): void {
    const idle = this.#queue.length === 0 && this.#spool.pending === 0;
    this.#waiters = this.#waiters.filter((w) => {
      const done = w.n <= this.#settled && (!w.drain || idle);
      if (done) w.resolve();
      return !done;
    });
  }

  // Fresh entries: to PostgreSQL while the spool is empty, else behind it into the spool. When
  // a write to PostgreSQL succeeds and more entries wait, the next write is sent before the
  // callers of the finished one are resumed: what they run would otherwise delay it. Outcomes
  // alone wait (#holdMs) for an entry someone waits on, so they share its commit.
  async #writeLoop(): Promise<void> {
    let sending: { batch: Pending[]; attempt: Promise<Attempt> } | null = null;
    for (;;) {
      if (sending === null) {
        if (this.#queue.length === 0) {
          if (this.#closing) return;
          await this.#writer.sleep(Infinity);
          continue;
        }
        const hold = this.#holdMs();
        if (hold > 0) {
          await this.#writer.sleep(hold);
          continue;
        }
        const deadline = performance.now() + this.#delay;
        while (this.#queue.length < this.#max && !this.#closing && performance.now() < deadline) {
          await this.#writer.sleep(deadline - performance.now());
        }
        const batch = this.#queue.splice(0, this.#max);
        sending = { batch, attempt: this.#attempt(batch) };
      }
      const { batch, attempt } = sending;
      const result = await attempt;
      sending = null;
      this.#ahead = null;
      if (
        result !== null && this.#queue.length > 0 && this.#delay === 0 && this.#holdMs() <= 0
      ) {
        const next = this.#queue.splice(0, this.#max);
        this.#ahead = next;
        sending = { batch: next, attempt: this.#attempt(next) };
      }
      await this.#conclude(batch, result);
    }
  }

  // One write of fresh entries to PostgreSQL, unless the spool holds entries (they go first) or
  // PostgreSQL failed a moment ago; null when not written.
  async #attempt(batch: Pending[]): Promise<Attempt> {
    if (this.#spool.pending !== 0 || performance.now() < this.#retryAt) return null;
    try {
      const sentAt = performance.now();
      await this.#append(batch.map((p) => p.entry), false);
      return { sentAt, answeredAt: performance.now() };
    } catch (error) {
      this.#failed(error);
      return null;
    }
  }

  // Settles a batch PostgreSQL took, or takes it to the spool.
  async #conclude(batch: Pending[], written: Attempt): Promise<void> {
    if (written !== null) {
      this.#settle(batch);
      if (this.#onBatch !== null) this.#timed(batch, written.sentAt, written.answeredAt);
      return;
    }
    const entries = batch.map((p) => p.entry);
    try {
      await this.#spool.append(entries);
      this.#stats.spooled += entries.length;
      this.#drainer.wake();
      this.#settle(batch);
    } catch (error) {
      // Neither PostgreSQL nor the disk took it. A decision is refused (the transfer must
      // not happen unrecorded); an outcome or refusal is kept and tried again.
      this.#onError(error);
      const kept = batch.filter((p) => !p.critical);
      for (const p of batch) if (p.critical) p.reject(error);
      this.#queue.unshift(...kept);
      this.#settle(batch.filter((p) => p.critical));
      await this.#writer.sleep(this.#retryDelay);
    }
  }

  // Queued behind the reactions #settle scheduled, so it runs once every caller awaiting this
  // batch has run on.
  #timed(batch: Pending[], sentAt: number, answeredAt: number): void {
    const enqueuedAt = batch.filter((p) => !p.deferrable).map((p) => p.enqueuedAt);
    const entries = batch.length;
    queueMicrotask(() => {
      try {
        this.#onBatch!({ enqueuedAt, entries, sentAt, answeredAt, resumedAt: performance.now() });
      } catch (error) {
        this.#onError(error);
      }
    });
  }

  // The spool, oldest first, into PostgreSQL once it answers again. A task of its own, so an
  // attempt that hangs until its timeout does not hold up fresh entries going to the spool.
  async #drainLoop(): Promise<void> {
    while (!this.#closing) {
      const wait = this.#spool.pending === 0 ? Infinity : this.#retryAt - performance.now();
      if (wait > 0) {
        await this.#drainer.sleep(wait);
        continue;
      }
      try {
        const read = await this.#spool.read(this.#drainChunk);
        if (read.entries.length > 0) this.#stats.replayed += await this.#append(read.entries, true);
        await this.#spool.commit(read);
        this.#notify();
      } catch (error) {
        this.#failed(error);
      }
    }
  }

  async #append(entries: ProtocolEntry[], replay: boolean): Promise<number> {
    const what = "write the protocol to PostgreSQL";
    let result: { written: number; head: ChainHead | null };
    try {
      const attempt = appendEntries(this.#db, entries, { checkExisting: replay, head: this.#head });
      this.#head = null; // unknown until this write is known to have committed
      result = await withTimeout(attempt, this.#writeTimeout, what);
    } catch (error) {
      // A fresh entry that is already stored: a caller logged a transfer twice.
      if ((error as { code?: string }).code !== "23505" || replay) throw error;
      const attempt = appendEntries(this.#db, entries, { checkExisting: true });
      result = await withTimeout(attempt, this.#writeTimeout, what);
    }
    this.#head = result.head;
    this.#stats.batches++;
    this.#stats.recordsWritten += result.written;
    this.#healthy = true;
    this.#retryDelay = this.#retryMin;
    return result.written;
  }

  #failed(error: unknown): void {
    this.#stats.dbErrors++;
    if (this.#healthy) this.#onError(error);
    this.#healthy = false;
    this.#retryAt = performance.now() + this.#retryDelay;
    this.#retryDelay = Math.min(this.#retryDelay * 2, this.#retryMax);
  }

  // Called by the write loop once a batch is done (and kept entries are back in the queue):
  // every entry older than the first of the batch sent ahead, or else of the queue, is then
  // settled. Entries a failed batch keeps go back to the front of the queue, older than a
  // decision of the same batch that was refused, so the mark follows the queue, not the
  // batch's last entry.
  #settle(batch: Pending[]): void {
    for (const p of batch) p.resolve();
    const oldest = this.#ahead?.[0] ?? this.#queue[0];
    const settled = oldest === undefined ? this.#next - 1 : oldest.n - 1;
    this.#settled = Math.max(this.#settled, settled);
    this.#notify();
  }
}

/**
 * Opens the protocol log: the spool in `options.spoolDir` is opened (its torn tail cut) and
 * whatever it holds from an earlier run is replayed into PostgreSQL in the background, in
 * order, before anything new goes there.
 *
 * @example
 * ```ts
 * const log = await openProtocolLog(db, { spoolDir: config.spoolDir, hmacKey });
 * await log.begin({ transferId, consumerId, providerId, evidenceType, purpose, legalBasis,
 *   idnrUsed: true, idnr, jti });
 * // … stream the evidence …
 * log.finish(transferId, { outcome: "delivered", status: 200, bytes, digest, durationMs });
 * // on SIGTERM:
 * await log.close();
 * ```
 */
export async function openProtocolLog(db: Db, options: ProtocolLogOptions): Promise<ProtocolLog> {
  const spool = await Spool.open(options.spoolDir, {
    segmentMaxBytes: options.segmentMaxBytes,
    onWarning: options.onError ? (m) => options.onError!(new Error(m)) : undefined,
  });
  return new ProtocolLog(db, spool, options);
}
