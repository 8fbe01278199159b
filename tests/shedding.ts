/**
 * The keep-alive race under shedding (src/serve_shed_test.ts, loadtest/shed_probe.ts): a
 * guarded server far over its soft limit (every check sheds), idle connections that come back
 * whenever they are closed, and a normal keep-alive client in a process of its own.
 *
 * @example
 * ```ts
 * const server = await startShedding({ rotation: false });
 * const idle = holdIdleConnections(server.addr.port, 20);
 * const client = await runKeepAliveClient(`http://127.0.0.1:${server.addr.port}/`, 3000);
 * await server.shutdown();
 * await idle.stop();
 * ```
 *
 * @module
 */
import { type GuardedServer, serveGuarded } from "../src/serve.ts";

/** Options for {@linkcode startShedding}. */
export interface SheddingOptions {
  /** Shed by rotating servers, as without the kernel's view (Lotse before session 7). */
  readonly rotation: boolean;
  /** Default 20 ms. */
  readonly checkMs?: number;
  /** Default: printed to stderr. */
  readonly warn?: (message: string) => void;
}

/**
 * A server that answers GET with "ok", POST (body read) with "posted", and always sheds (the
 * default `shedIdleMs`, 1 s: a client stalled for a few hundred milliseconds on a loaded machine
 * is still not idle enough to be shed).
 */
export function startShedding(options: SheddingOptions): Promise<GuardedServer> {
  return serveGuarded(
    (req) =>
      req.method === "POST"
        ? req.arrayBuffer().then(() => new Response("posted"))
        : new Response("ok"),
    {
      hostname: "127.0.0.1",
      port: 0,
      checkMs: options.checkMs ?? 20,
      softLimit: 0,
      headerTimeoutMs: 10_000,
      idleTimeoutMs: 30_000,
      ...(options.rotation ? { sockets: null } : {}),
      logger: { warn: options.warn ?? ((message) => console.error(message)) },
    },
  );
}

/** `count` connections to `port` that send nothing, each opened again once closed. */
export function holdIdleConnections(
  port: number,
  count: number,
): { closed(): number; stop(): Promise<void> } {
  let holding = true;
  let closed = 0;
  const held = new Set<Deno.Conn>();
  const hold = async () => {
    while (holding) {
      let conn: Deno.Conn;
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        return; // the server is gone
      }
      held.add(conn);
      try {
        while ((await conn.read(new Uint8Array(1024))) !== null) { /* drain */ }
      } catch { /* a reset is a close too */ }
      held.delete(conn);
      closeQuietly(conn);
      if (holding) closed++;
    }
  };
  const holders = Array.from({ length: count }, hold);
  return {
    closed: () => closed,
    async stop() {
      holding = false;
      held.forEach(closeQuietly);
      await Promise.all(holders);
    },
  };
}

/** Runs tests/_keep_alive_client.ts (4 loops) against `url` until `requests` were sent. */
export async function runKeepAliveClient(
  url: string,
  requests: number,
): Promise<{ ok: number; errors: string[] }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      new URL("./_keep_alive_client.ts", import.meta.url).pathname,
      url,
      String(requests),
      "4",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`The keep-alive client ended with ${out.code}`);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines.at(-1)!);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* closed */ }
}
