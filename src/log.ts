/**
 * Lotse's one logger: one JSON line per event (`time`, `level`, `msg`, then the event's
 * fields), filtered by level. `src/main.ts` makes it from the configuration
 * (`LOTSE_LOG_LEVEL`) and passes it down; nothing else decides where logs go.
 *
 * Lines to standard output are batched: they leave in one write at most {@linkcode FLUSH_MS}
 * after the first of them was held, or at once when {@linkcode MAX_HELD_CHARS} are held, so a
 * busy server pays one system call per few milliseconds, not one per request or per event-loop
 * turn (and none in the request's own path). A `warn` or `error` line, exit (`unload`, an
 * uncaught error) and {@linkcode flushLogs} write everything held, in order. See
 * {@linkcode LineBatch}.
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
  /**
   * Writes an `info` event whose fields the caller has serialised already, as JSON object
   * members (`"status":200,"route":"GET /v1/navigation"`): the request log line, written for
   * every request, skips building an object and stringifying it. The caller vouches that the
   * members are valid JSON and name no credential (they pass no redaction).
   */
  infoJson(msg: string, members: string): void;
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

/** Options for {@linkcode LineBatch}. */
export interface LineBatchOptions {
  /** Writes bytes, returning how many it took (`Deno.stdout.writeSync`). */
  writeSync: (bytes: Uint8Array) => number;
  /** Runs `flush` later (after this event-loop turn at the earliest); default a 0 ms timer. */
  schedule?: (flush: () => void) => void;
  /** Held characters (line breaks included) at which a push writes everything; default 64 Ki. */
  maxHeld?: number;
}

/**
 * How long standard output's lines are held at most. Flushed per turn (a 0 ms timer), a server
 * held at a steady rate made a write and a timer every ~8 requests (0.13 per request at 8k/s):
 * one line written alone cost ~1.8 µs, one in a batch of 75 ~0.2 µs (BENCHMARKS.md, "Session 8,
 * P2 and P1").
 */
export const FLUSH_MS = 5;
/** Held characters at which standard output's lines are written at once (under a pipe's 64 KiB). */
export const MAX_HELD_CHARS = 32 * 1024;

/**
 * Lines held until `schedule` runs the flush (or until `maxHeld` characters are held) and
 * written together, in the order they came: one write per batch instead of one per line. An
 * urgent line (warn, error) is written at once with all held before it.
 *
 * The write is synchronous on purpose: `Deno.stdout.write()` (async) still writes on the
 * calling thread when it can, and with it a crash-recovery test saw the process stall for a
 * second (tests/connections_test.ts, 3 failures in 11 runs against 0 in 8 with writeSync).
 *
 * @example
 * ```ts
 * const out = new LineBatch({ writeSync: (b) => Deno.stdout.writeSync(b) });
 * out.push('{"msg":"request"}', false); // written when this turn ends
 * out.push('{"msg":"trouble"}', true); // both written now
 * ```
 */
export class LineBatch {
  readonly #writeSync: (bytes: Uint8Array) => number;
  readonly #schedule: (flush: () => void) => void;
  readonly #encoder = new TextEncoder();
  readonly #maxHeld: number;
  #lines: string[] = [];
  #chars = 0;
  #scheduled = false;
  #lost = 0;

  constructor(options: LineBatchOptions) {
    this.#writeSync = options.writeSync;
    this.#schedule = options.schedule ?? ((flush) => setTimeout(flush, 0));
    this.#maxHeld = options.maxHeld ?? 64 * 1024;
  }

  /** Number of lines held. */
  get held(): number {
    return this.#lines.length;
  }

  /** Lines the output refused (closed, broken pipe). */
  get lost(): number {
    return this.#lost;
  }

  /** Holds `line` (without its line break); writes all held at once when `urgent`. */
  push(line: string, urgent: boolean): void {
    this.#lines.push(line);
    this.#chars += line.length + 1;
    if (urgent || this.#chars >= this.#maxHeld) {
      this.flush();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      this.#schedule(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  /** Writes every held line now. */
  flush(): void {
    if (this.#lines.length === 0) return;
    const count = this.#lines.length;
    const bytes = this.#encoder.encode(this.#lines.join("\n") + "\n");
    this.#lines = [];
    this.#chars = 0;
    let written = 0;
    try {
      while (written < bytes.length) written += this.#writeSync(bytes.subarray(written));
    } catch {
      // An output that refuses lines must not take the server down from a timer or an exit
      // handler; there is nowhere left to report it.
      this.#lost += count;
    }
  }
}

let stdoutBatch: LineBatch | null = null;

// Created at the first line, not at import: importing the logger does no I/O.
function stdout(): LineBatch {
  if (stdoutBatch !== null) return stdoutBatch;
  const batch = new LineBatch({
    writeSync: (bytes) => Deno.stdout.writeSync(bytes),
    // Unref'd: held lines never keep a finished process alive; exit writes them.
    schedule: (flush) => Deno.unrefTimer(setTimeout(flush, FLUSH_MS)),
    maxHeld: MAX_HELD_CHARS,
  });
  const flush = () => batch.flush();
  globalThis.addEventListener("unload", flush);
  globalThis.addEventListener("error", flush);
  globalThis.addEventListener("unhandledrejection", flush);
  stdoutBatch = batch;
  return batch;
}

/** Writes every line the loggers hold for standard output now (before `Deno.exit`, say). */
export function flushLogs(): void {
  stdoutBatch?.flush();
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
  const write = (text: string, urgent: boolean) => {
    if (custom) custom(text);
    else stdout().push(text, urgent);
  };
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
      write(text, urgent);
    };
  };
  const infoJson = LOG_LEVELS.indexOf("info") < min ? () => {} : (msg: string, members: string) => {
    const head = `{"time":"${isoTime(now())}","level":"info","msg":${JSON.stringify(msg)}`;
    write(members === "" ? `${head}}` : `${head},${members}}`, false);
  };
  return {
    level,
    infoJson,
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
