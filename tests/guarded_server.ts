/**
 * A guarded listener (src/serve.ts) on a free loopback port with short header and idle
 * timeouts, for tests on real sockets: src/serve_test.ts (what is cut, and when) and
 * tests/serve_activity_test.ts (its count of requests).
 *
 * @module
 */
import assert from "node:assert/strict";
import { type GuardedServer, serveGuarded } from "../src/serve.ts";

/** The header-read timeout of {@linkcode withGuardedServer}'s server. */
export const HEADER_MS = 300;
/** The idle timeout of {@linkcode withGuardedServer}'s server. */
export const IDLE_MS = 500;

const encoder = new TextEncoder();

/** The bytes of a plain `GET path` on HTTP/1.1. */
export const request = (path: string): Uint8Array =>
  encoder.encode(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);

/**
 * Runs `test` with a guarded server answering with `handler` (checks every 50 ms) and a way to
 * open connections to it; asserts the server warned of nothing, then closes every connection
 * and shuts the server down.
 */
export async function withGuardedServer(
  handler: Deno.ServeHandler<Deno.NetAddr>,
  test: (server: GuardedServer, open: () => Promise<Deno.Conn>) => Promise<void>,
): Promise<void> {
  const warnings: string[] = [];
  const server = await serveGuarded(handler, {
    hostname: "127.0.0.1",
    port: 0,
    checkMs: 50,
    softLimit: 1_000_000,
    headerTimeoutMs: HEADER_MS,
    idleTimeoutMs: IDLE_MS,
    logger: { warn: (message) => warnings.push(message) },
  });
  const conns: Deno.Conn[] = [];
  const open = async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    conns.push(conn);
    return conn;
  };
  try {
    assert.ok(server.timeouts, "the timeouts run here (Linux, FFI allowed)");
    await test(server, open);
    assert.deepEqual(warnings, []);
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
    await server.shutdown();
  }
}
