/**
 * Telling a database that cannot be reached from one that refused a statement. A refusal
 * (constraint, syntax) is the caller's or the code's fault; an unreachable database is an
 * outage that passes: Lotse then answers 503 with `Retry-After` and serves from memory.
 *
 * @example
 * ```ts
 * try {
 *   await db.sql`select 1`;
 * } catch (error) {
 *   if (isConnectionError(error)) console.log(connectionReason(error));
 * }
 * ```
 *
 * @module
 */

// Socket errors (node:net under postgres.js), postgres.js' own connection errors, and the
// server's SQLSTATEs for a connection that failed or a server that shuts down or starts.
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57P01",
  "57P02",
  "57P03",
  "53300",
]);

/** True when `error` says the database cannot be reached right now (not a refusal). */
export function isConnectionError(error: unknown): boolean {
  if (error === null || typeof error !== "object") return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && (SOCKET_CODES.has(code) || code.startsWith("08"))) return true;
  if (
    error instanceof Deno.errors.ConnectionRefused ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted || error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.TimedOut || error instanceof Deno.errors.NotConnected
  ) return true;
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error && isConnectionError(cause);
}

/** A one-line reason for an outage, without credentials: `"ECONNREFUSED"`, `"57P01 …"`. */
export function connectionReason(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  const message = String((error as { message?: unknown })?.message ?? error)
    // postgres.js puts host and port in messages; never a password, but keep it short.
    .split("\n")[0]!.slice(0, 200);
  return typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
}
