/**
 * The {@linkcode Db} over a PostgreSQL server, through postgres.js.
 *
 * @module
 */
import postgres from "postgres";
import type { Readable, Writable } from "node:stream";
import type { CopySink, CopySource, Db, Queryable, Row } from "./types.ts";
import { toQuery } from "./_template.ts";
import { connectionReason, isConnectionError } from "./errors.ts";

/**
 * The environment variables postgres.js consults (libpq's `PG*` names, and the user name
 * it falls back to). The container allows Lotse to read these and its own configuration,
 * nothing else; `PGPASSWORD` lets an operator keep the password out of `DATABASE_URL`.
 */
export const POSTGRES_ENV_VARIABLES: readonly string[] = [
  "PGHOST",
  "PGPORT",
  "PGDATABASE",
  "PGUSER",
  "PGUSERNAME",
  "PGPASSWORD",
  "PGAPPNAME",
  "PGTARGETSESSIONATTRS",
  "PGSSL",
  "PGSSLNEGOTIATION",
  "PGMAX_LIFETIME",
  "PGMAX_PIPELINE",
  "PGKEEP_ALIVE",
  "PGPREPARE",
  "PGDEBUG",
  "PGFETCH_TYPES",
  "PGPUBLICATIONS",
  "PGTARGET_SESSION_ATTRS",
  "USER",
  "USERNAME",
  "LOGNAME",
];

/**
 * Whether `error` is postgres.js writing to a connection it has already closed: its
 * `nextWrite()` dereferences the null socket and the `TypeError` escapes every promise
 * (porsager/postgres#1066, #1154, #1208; still in 3.4.9, fixes proposed in #1168, #1176,
 * #1209). Queries of that connection were already rejected (`CONNECTION_CLOSED`) or are
 * rejected by the pool's next connection attempt.
 */
export function isClosedSocketWrite(error: unknown): boolean {
  return error instanceof TypeError &&
    /reading 'write'|evaluating 'socket\.write'/.test(error.message) &&
    /postgres\/src\/connection\.js/.test(error.stack ?? "") &&
    /\bnextWrite\b/.test(error.stack ?? "");
}

/**
 * Keeps the process alive through {@linkcode isClosedSocketWrite}: without this, PostgreSQL
 * stopping or a backend being terminated at the wrong moment ends Lotse with an uncaught
 * `TypeError` instead of the degraded mode it is built for. Every other uncaught error still
 * ends the process. Each occurrence is one warning.
 */
function surviveClosedSocketWrites(logger: { warn(message: string): void }): void {
  globalThis.addEventListener("error", (event) => {
    if (!isClosedSocketWrite(event.error)) return;
    event.preventDefault();
    logger.warn(
      "postgres.js wrote to a connection it had closed (porsager/postgres#1208); carrying on",
    );
  });
}

/**
 * Keeps the process alive through a rejected database call that nothing waited for when the
 * connection was lost ({@linkcode isDriverConnectionError}: a reset, a refusal, a server
 * shutting down):
 * losing PostgreSQL is an outage Lotse serves through (src/db_health.ts), never a reason to
 * end. Seen once in tests/degraded_test.ts (`read ECONNRESET` with no caller on the stack).
 * Every other unhandled rejection still ends the process. One warning each.
 */
export function surviveLostConnections(logger: { warn(message: string): void }): void {
  if (lostConnectionGuard) return;
  lostConnectionGuard = true;
  surviveClosedSocketWrites(logger);
  globalThis.addEventListener("unhandledrejection", (event) => {
    if (!isDriverConnectionError(event.reason)) return;
    event.preventDefault();
    logger.warn(
      `A database call failed on a lost connection with no one waiting for it (${
        connectionReason(event.reason)
      }); carrying on`,
    );
  });
}
let lostConnectionGuard = false;

/**
 * A connection error that postgres.js itself raises: its socket's (node:net, with `syscall` or
 * `errno`), its own `CONNECTION_*` errors (with `errno`), or the server's (with `severity`). Not
 * a provider fetch's reset, or anything wrapping one in its `cause`: the guard lets those end the
 * process like any other unhandled rejection.
 */
function isDriverConnectionError(reason: unknown): boolean {
  if (reason === null || typeof reason !== "object") return false;
  const { syscall, errno, severity, code } = reason as Record<string, unknown>;
  if (syscall === undefined && errno === undefined && severity === undefined) return false;
  return typeof code === "string" && isConnectionError({ code });
}

/** Options for {@linkcode connectPostgres}. */
export interface PostgresOptions {
  /** Pool size; default 10. */
  max?: number;
  /** Seconds to wait for a connection; default 10. */
  connectTimeout?: number;
  /** Do not try a first query: return at once even when the server cannot be reached. */
  lazy?: boolean;
  /** A Unix socket to connect to instead of the URL's host and port. */
  path?: string;
}

// deno-lint-ignore no-explicit-any
type Sql = postgres.Sql<any>;

function queryable(sql: Sql | postgres.TransactionSql): Queryable {
  return {
    async sql<T = Row>(strings: TemplateStringsArray, ...values: unknown[]): Promise<T[]> {
      const { text, params } = toQuery(strings, values);
      // deno-lint-ignore no-explicit-any
      const rows = await sql.unsafe(text, params as any[], { prepare: true });
      // A plain array: postgres.js' Result carries extra fields callers must not see.
      return Array.from(rows) as unknown as T[];
    },
    async copyIn(strings: TemplateStringsArray): Promise<CopySink> {
      if (strings.length !== 1) throw new Error("Cannot bind values in a COPY statement");
      return copySink(await sql.unsafe(strings[0]!).writable());
    },
    async copyOut(strings: TemplateStringsArray): Promise<CopySource> {
      if (strings.length !== 1) throw new Error("Cannot bind values in a COPY statement");
      return copySource(await sql.unsafe(strings[0]!).readable());
    },
  };
}

/**
 * A promise that resolves after a turn of the event loop in which Deno's HTTP server runs too.
 * A timer, not a microtask, `setImmediate` or a `MessageChannel`: with any of those the runtime
 * never waits, and the server's tasks were not run (a request waited for the whole COPY).
 */
function turn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * A postgres.js `COPY … TO STDOUT` stream, read in flowing mode: one call per chunk, paused
 * while a promise the call returned is pending, and for one turn of the event loop after every
 * `sliceMs` of reading. A socket that always has the next piece ready is otherwise read chunk
 * after chunk without the HTTP server getting a turn: during a 1 M-route reload a navigation
 * request waited 2.2–7.0 s, until the COPY was done (BENCHMARKS.md, "Session 7, swap stall").
 */
/** Bytes read between two looks at the clock in a sliced read (~1 ms of rows). */
const BYTES_PER_CLOCK = 65_536;

function copySource(stream: Readable): CopySource {
  return {
    async read(onChunk, options = {}) {
      const sliceMs = options.sliceMs;
      let failed: { error: unknown } | null = null;
      let sliceStart = performance.now();
      // The clock only where the read is sliced (a reload), and once per ~64 KiB read: the
      // driver hands a chunk per COPY message, for many tables one per row, and a start that
      // read the clock per row spent ~25 ms of 200,000 rows on it (BENCHMARKS.md,
      // "Session 9, P8").
      let unclocked = 0;
      try {
        await new Promise<void>((resolve, reject) => {
          stream.on("data", (chunk: Uint8Array) => {
            if (failed !== null) return;
            try {
              let more = onChunk(chunk);
              if (more === undefined && sliceMs !== undefined) {
                unclocked += chunk.length;
                if (unclocked >= BYTES_PER_CLOCK) {
                  unclocked = 0;
                  if (performance.now() - sliceStart >= sliceMs) more = turn();
                }
              }
              if (more === undefined) return;
              // Backpressure: no more chunks until the reader took this one.
              stream.pause();
              more.then(() => {
                sliceStart = performance.now();
                stream.resume();
              }, (error) => {
                failed = { error };
                stream.resume();
              });
            } catch (error) {
              failed = { error };
            }
          });
          stream.once("end", resolve);
          stream.once("error", reject);
        });
      } finally {
        // postgres.js pauses the connection's socket whenever a push finds the stream's buffer
        // full, and resumes it only from the stream's `_read()`, which a stream that has ended
        // never calls again: when the COPY's last rows, its end and ReadyForQuery come in one
        // read, the socket stays paused and the next query on that connection never gets its
        // answer (a transaction after a COPY hung). Ask once more: it resumes the socket.
        (stream as Readable & { _read(size: number): void })._read(0);
      }
      if (failed !== null) throw (failed as { error: unknown }).error;
    },
  };
}

/** A postgres.js COPY stream with backpressure and the server's answer as promises. */
function copySink(stream: Writable): CopySink {
  let failed: Error | null = null;
  stream.on("error", (error) => failed ??= error);
  return {
    async write(data) {
      if (failed) throw failed;
      if (stream.write(data)) return;
      await new Promise<void>((resolve, reject) => {
        const done = (error?: Error) => {
          stream.off("drain", done);
          stream.off("error", done);
          if (error) reject(error);
          else resolve();
        };
        stream.on("drain", done);
        stream.on("error", done);
      });
    },
    end() {
      if (failed) return Promise.reject(failed);
      return new Promise((resolve, reject) => {
        stream.end((error?: Error | null) => (error ? reject(error) : resolve()));
      });
    },
    abort() {
      if (stream.destroyed) return Promise.resolve();
      return new Promise((resolve) => {
        stream.once("close", () => resolve());
        stream.destroy(new Error("COPY abandoned"));
      });
    },
  };
}

/**
 * Opens a pool to the server at `url`. Fails when the server cannot be reached, unless
 * `lazy`: then every query fails until it can (the pool reconnects by itself).
 */
export async function connectPostgres(url: string, options: PostgresOptions = {}): Promise<Db> {
  const sql: Sql = postgres(url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeout ?? 10,
    idle_timeout: 60,
    // Reconnect within a second after an outage (the default backoff grows to 20 s).
    backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, 1),
    onnotice: () => {},
    connection: { application_name: "lotse" },
    ...(options.path ? { path: options.path } : {}),
  });
  if (!options.lazy) {
    try {
      await sql`select 1`;
    } catch (error) {
      await sql.end({ timeout: 0 });
      throw error;
    }
  }
  const base = queryable(sql);
  return {
    kind: "postgres",
    sql: base.sql,
    copyOut: base.copyOut,
    async exec(script) {
      await sql.unsafe(script);
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      return await sql.begin((tx) => fn(queryable(tx))) as T;
    },
    async listen(channel, onNotify) {
      const sub = await sql.listen(channel, (payload) => onNotify(payload));
      return () => sub.unlisten();
    },
    async notify(channel, payload) {
      await sql`select pg_notify(${channel}, ${payload})`;
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}
