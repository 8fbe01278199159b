/**
 * The one database interface Lotse uses. Two implementations stand behind it:
 * postgres.js against a PostgreSQL server, and embedded PGlite. Both speak the same SQL.
 *
 * Queries are tagged templates: every interpolated value becomes a bind parameter, never
 * part of the SQL text.
 *
 * @example
 * ```ts
 * const rows = await db.sql<{ ags: string }>`select ags from regions where name = ${name}`;
 * ```
 *
 * @module
 */

export type Row = Record<string, unknown>;

/** What a query can run on: the database itself or an open transaction. */
export interface Queryable {
  /** Runs one statement; interpolated values are bound as `$1`, `$2`, … */
  sql<T = Row>(strings: TemplateStringsArray, ...values: unknown[]): Promise<T[]>;
  /**
   * Starts `COPY … FROM STDIN` (text format) and returns where its rows go; only where the
   * driver streams COPY (postgres.js). Nothing else may run on this connection until the
   * sink has ended. The statement takes no values (COPY has no bind parameters).
   */
  copyIn?(strings: TemplateStringsArray): Promise<CopySink>;
  /**
   * Starts `COPY … TO STDOUT` and returns where its output comes from; only where the driver
   * streams COPY (postgres.js). Nothing else may run on this connection until it is read to
   * the end. The statement takes no values (like `copyIn`).
   */
  copyOut?(strings: TemplateStringsArray): Promise<CopySource>;
}

/** The rows of a `COPY … FROM STDIN` under way, in PostgreSQL's text format. */
export interface CopySink {
  /**
   * Sends `data` (whole lines, or bytes of them cut anywhere); resolves when more may be sent
   * (backpressure).
   */
  write(data: string | Uint8Array): Promise<void>;
  /** Ends the COPY; resolves once the server has taken every row, rejects with its error. */
  end(): Promise<void>;
  /**
   * Abandons the COPY (CopyFail): the server refuses it, the transaction is left failed and
   * can be rolled back. Needed before anything else may use the connection after an error.
   */
  abort(): Promise<void>;
}

/** The output of a `COPY … TO STDOUT` under way. */
export interface CopySource {
  /**
   * Hands the output to `onChunk` as it arrives, in pieces cut anywhere (a view the caller
   * copies to keep); when `onChunk` returns a promise, the next piece waits for it. Resolves
   * once the COPY is done, rejects with the server's error or the first one `onChunk` threw
   * or rejected with (the COPY still runs out then, so the connection stays usable).
   */
  read(
    onChunk: (chunk: Uint8Array) => void | Promise<void>,
    options?: CopyReadOptions,
  ): Promise<void>;
}

/** Options for {@linkcode CopySource.read}. */
export interface CopyReadOptions {
  /**
   * Pause for one turn of the event loop after this many milliseconds of reading (a reload
   * while the instance serves); default never (a start, before it serves).
   */
  sliceMs?: number;
}

export interface Db extends Queryable {
  readonly kind: "postgres" | "pglite";
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  /** Runs `fn` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Subscribes to `LISTEN channel`; resolves once listening, to a function that stops it. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /** `NOTIFY channel, payload`. */
  notify(channel: string, payload: string): Promise<void>;
  close(): Promise<void>;
}
