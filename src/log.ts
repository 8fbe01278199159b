/**
 * Lotse's one logger: one JSON line per event (`time`, `level`, `msg`, then the event's
 * fields), filtered by level. `src/main.ts` makes it from the configuration
 * (`LOTSE_LOG_LEVEL`) and passes it down; nothing else decides where logs go.
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
  /** Takes one line (without its line break); default: standard output. */
  write?: (line: string) => void;
  /** The clock, in ms since the epoch; default `Date.now`. */
  now?: () => number;
}

const SECRET_FIELD = /token|secret|password|passwd|authorization|assertion|idnr|^key$|private/i;

const encoder = new TextEncoder();

function writeStdout(line: string): void {
  const bytes = encoder.encode(line + "\n");
  let written = 0;
  while (written < bytes.length) written += Deno.stdout.writeSync(bytes.subarray(written));
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
  const write = options.write ?? writeStdout;
  const now = options.now ?? Date.now;
  const stack = level === "debug";
  const event = (at: LogLevel) => (msg: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(at) < min) return;
    const line: Record<string, unknown> = {
      time: new Date(now()).toISOString(),
      level: at,
      msg,
    };
    for (const [name, value] of Object.entries(fields ?? {})) {
      if (name === "time" || name === "level" || name === "msg") continue;
      if (SECRET_FIELD.test(name)) line[name] = "[redacted]";
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
    write(text);
  };
  return {
    level,
    debug: event("debug"),
    info: event("info"),
    warn: event("warn"),
    error: event("error"),
  };
}

/** A logger that writes nothing, for tests and tools that keep their output clean. */
export const silentLogger: Logger = createLogger({ level: "error", write: () => {} });
