/**
 * Lotse's one logger: one JSON line per event (`time`, `level`, `msg`, then the event's
 * fields), filtered by level. `src/main.ts` makes it from the configuration
 * (`LOTSE_LOG_LEVEL`) and passes it down; nothing else decides where logs go.
 *
 * Lines to standard output are batched: the lines of one event-loop turn leave in one write that
 * does not block the event loop when the turn ends, so a busy server pays one write per turn,
 * not a blocking system call per request. A `warn` or `error` line, exit (`unload`, an uncaught
 * error) and {@linkcode flushLogs} write everything held, in order. While standard output is
 * too slow, at most {@linkcode MAX_HELD_BYTES} of lines wait and further `info`/`debug` lines
 * are dropped and counted. See {@linkcode LineBatch}.
 *
 * Errors in fields are written as `{ name, message }`; their stack only at level `debug`.
 * Fields named like a credential or an IDNr are written as `"[redacted]"`: callers log no
 * request data, and this catches the slip.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: "warn" });
 * log.info("Not written");
 * log.error("Table refresh failed", { error: new Error("Connection refused") });
 * // {"time":"2026-01-01T00:00:00.000Z","level":"error","msg":"Table refresh failed","error":{"name":"Error","message":"Connection refused"}}
 * ```
 *
 * @module
 */

/** The levels, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = typeof LOG_LEVELS[number];

/** An event's own fields, written after `time`, `level` and `msg`. */
export type LogFields = Readonly<Record<string, unknown>>;

/** Writes events at or above its level as JSON lines. */
export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Least severe level written; default `"info"`. */
  level?: LogLevel;
  /** Takes one line (without its line break); default: standard output, batched per turn. */
  write?: (line: string) => void;
  /** The clock, in ms since the epoch; default `Date.now`. */
  now?: () => number;
}

const SECRET_FIELD = /token|secret|password|passwd|authorization|assertion|idnr|^key$|private/i;

/** Most bytes of `info`/`debug` lines held while standard output is slow; more are dropped. */
export const MAX_HELD_BYTES = 8 * 1024 * 1024;

/** Options for {@linkcode LineBatch}. */
export interface LineBatchOptions {
  /** Writes bytes without blocking, resolving to how many it took (`Deno.stdout.write`). */
  write: (bytes: Uint8Array) => Promise<number>;
  /** Writes bytes synchronously (`Deno.stdout.writeSync`): only at exit. */
  writeSync: (bytes: Uint8Array) => number;
  /** Runs `flush` once the current event-loop turn ends; default a 0 ms timer. */
  schedule?: (flush: () => void) => void;
  /** Held bytes (UTF-16 code units) past which non-urgent lines are dropped and counted. */
  maxBytes?: number;
  /** The line that stands where `count` dropped lines were. */
  droppedLine?: (count: number) => string;
}

/**
 * Lines held until the end of the event-loop turn and written together, in the order they
 * came, by one write that does not block the event loop (lines that come while it runs
 * follow in the next). An urgent line (warn, error) is written at once with all held before
 * it (blocking, unless a write is under way: then it follows that one). When the output
 * cannot keep up, at most `maxBytes` of lines wait; further non-urgent lines are dropped and
 * counted in one line written in their place, so a slow log reader slows neither the requests
 * nor grows memory. Urgent lines are never dropped. At exit, {@linkcode flushSync} writes what
 * is held.
 *
 * @example
 * ```ts
 * const out = new LineBatch({
 *   write: (b) => Deno.stdout.write(b),
 *   writeSync: (b) => Deno.stdout.writeSync(b),
 * });
 * out.push('{"msg":"request"}', false); // written when this turn ends
 * out.push('{"msg":"trouble"}', true); // both written now
 * await out.flush();
 * ```
 */
export class LineBatch {
  readonly #write: (bytes: Uint8Array) => Promise<number>;
  readonly #writeSync: (bytes: Uint8Array) => number;
  readonly #schedule: (flush: () => void) => void;
  readonly #maxBytes: number;
  readonly #droppedLine: (count: number) => string;
  readonly #encoder = new TextEncoder();
  #lines: string[] = [];
  #size = 0;
  #dropped = 0;
  #scheduled = false;
  #writing: Promise<void> | null = null;
  #lost = 0;

  constructor(options: LineBatchOptions) {
    this.#write = options.write;
    this.#writeSync = options.writeSync;
    this.#schedule = options.schedule ?? ((flush) => setTimeout(flush, 0));
    this.#maxBytes = options.maxBytes ?? MAX_HELD_BYTES;
    this.#droppedLine = options.droppedLine ?? ((count) => `${count} log lines dropped`);
  }

  /** Number of lines held. */
  get held(): number {
    return this.#lines.length;
  }

  /** Lines lost: dropped while the output was slow, or refused by it (closed, broken pipe). */
  get lost(): number {
    return this.#lost;
  }

  /** Holds `line` (without its line break); writes all held at once when `urgent`. */
  push(line: string, urgent: boolean): void {
    if (!urgent && this.#size > this.#maxBytes) {
      this.#dropped++;
      this.#lost++;
      return;
    }
    this.#take(line);
    if (urgent) {
      // Rare, and wanted now (the process may be about to exit): written before returning,
      // unless a write is under way, which takes it next, in order.
      if (this.#writing === null) this.flushSync();
    } else if (!this.#scheduled && this.#writing === null) {
      this.#scheduled = true;
      this.#schedule(() => {
        this.#scheduled = false;
        void this.flush();
      });
    }
  }

  /** Writes every held line; resolves when they (and any write under way) are out. */
  flush(): Promise<void> {
    // A write under way takes the lines held meanwhile too, before it resolves.
    if (this.#writing !== null) return this.#writing;
    if (this.#lines.length === 0) return Promise.resolve();
    this.#writing = this.#drain();
    return this.#writing;
  }

  /** Writes every held line now, blocking: for urgent lines and exit. */
  flushSync(): void {
    if (this.#lines.length === 0) return;
    const [bytes, count] = this.#batch();
    let written = 0;
    try {
      while (written < bytes.length) written += this.#writeSync(bytes.subarray(written));
    } catch {
      this.#lost += count;
    }
  }

  #take(line: string): void {
    this.#noteDropped();
    this.#lines.push(line);
    this.#size += line.length + 1;
  }

  // The dropped lines' count, where they would have been.
  #noteDropped(): void {
    if (this.#dropped === 0) return;
    const gap = this.#droppedLine(this.#dropped);
    this.#dropped = 0;
    this.#lines.push(gap);
    this.#size += gap.length + 1;
  }

  #batch(): [Uint8Array, number] {
    this.#noteDropped();
    const count = this.#lines.length;
    const bytes = this.#encoder.encode(this.#lines.join("\n") + "\n");
    this.#lines = [];
    this.#size = 0;
    return [bytes, count];
  }

  async #drain(): Promise<void> {
    try {
      while (this.#lines.length > 0) {
        const [bytes, count] = this.#batch();
        let written = 0;
        try {
          while (written < bytes.length) written += await this.#write(bytes.subarray(written));
        } catch {
          // An output that refuses lines must not take the server down from a timer; there
          // is nowhere left to report it.
          this.#lost += count;
        }
      }
    } finally {
      // Cleared in the same step as the last check, so a line pushed after it schedules anew.
      this.#writing = null;
    }
  }
}

let stdoutBatch: LineBatch | null = null;

// Created at the first line, not at import: importing the logger does no I/O.
function stdout(): LineBatch {
  if (stdoutBatch !== null) return stdoutBatch;
  const batch = new LineBatch({
    write: (bytes) => Deno.stdout.write(bytes),
    writeSync: (bytes) => Deno.stdout.writeSync(bytes),
    // Unref'd: held lines never keep a finished process alive; exit writes them.
    schedule: (flush) => Deno.unrefTimer(setTimeout(flush, 0)),
    droppedLine: (count) =>
      JSON.stringify({
        time: new Date().toISOString(),
        level: "warn",
        msg: "Log lines dropped: standard output is not keeping up",
        count,
      }),
  });
  const flush = () => batch.flushSync();
  globalThis.addEventListener("unload", flush);
  globalThis.addEventListener("error", flush);
  globalThis.addEventListener("unhandledrejection", flush);
  stdoutBatch = batch;
  return batch;
}

/**
 * Writes every line the loggers hold for standard output; resolves when they are out. Call it
 * before `Deno.exit` on a normal shutdown (exit also writes what is held, but cannot wait for
 * a write under way).
 */
export function flushLogs(): Promise<void> {
  return stdoutBatch?.flush() ?? Promise.resolve();
}

function errorFields(error: Error, stack: boolean): Record<string, unknown> {
  const fields: Record<string, unknown> = { name: error.name, message: error.message };
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" || typeof code === "number") fields.code = code;
  if (stack && error.stack) fields.stack = error.stack;
  if (error.cause instanceof Error) fields.cause = errorFields(error.cause, stack);
  return fields;
}

/** Makes a logger; see the module's documentation for the line format. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  const min = LOG_LEVELS.indexOf(level);
  const custom = options.write;
  const now = options.now ?? Date.now;
  const stack = level === "debug";
  const event = (at: LogLevel) => {
    if (LOG_LEVELS.indexOf(at) < min) return () => {};
    const urgent = at === "warn" || at === "error";
    return (msg: string, fields?: LogFields) => {
      const line: Record<string, unknown> = { time: isoTime(now()), level: at, msg };
      for (const name in fields) {
        if (name === "time" || name === "level" || name === "msg") continue;
        const value = fields[name];
        if (secretField(name)) line[name] = "[redacted]";
        else if (value instanceof Error) line[name] = errorFields(value, stack);
        else line[name] = value;
      }
      let text: string;
      try {
        text = JSON.stringify(line);
      } catch {
        // A field that cannot be written (a cycle, a BigInt) must not lose the event.
        text = JSON.stringify({ time: line.time, level: at, msg, fields: "[unserializable]" });
      }
      if (custom) custom(text);
      else stdout().push(text, urgent);
    };
  };
  return {
    level,
    debug: event("debug"),
    info: event("info"),
    warn: event("warn"),
    error: event("error"),
  };
}

// Field names come from the code, a handful of them: each is tested once.
const secretNames = new Map<string, boolean>();

function secretField(name: string): boolean {
  let secret = secretNames.get(name);
  if (secret === undefined) {
    secret = SECRET_FIELD.test(name);
    if (secretNames.size < 1024) secretNames.set(name, secret);
  }
  return secret;
}

// Many lines fall in the same millisecond.
let lastMs = NaN;
let lastIso = "";

function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}

/** A logger that writes nothing, for tests and tools that keep their output clean. */
export const silentLogger: Logger = createLogger({ level: "error", write: () => {} });
