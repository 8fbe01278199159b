/**
 * The cause of the abuse run's failed normal requests (BENCHMARKS.md, "Session 7, the abuse run
 * and body deadlines"): a guarded server far over its soft limit (every check sheds), 20 idle
 * connections that come back whenever they are closed, and a keep-alive client in another
 * process (tests/_keep_alive_client.ts: 4 loops on one `fetch` pool, 5 ms between requests,
 * every tenth a POST). Once with the shedding by rotation (a new server, the old one shut down
 * gracefully: what Lotse did before session 7, and still does without the kernel's view), once
 * through the kernel (the longest-idle connections idle ≥ 1 s); prints the client's
 * failures by cause.
 *
 * ```sh
 * deno run -A --unstable-net loadtest/shed_probe.ts [--requests 4000] [--check 20]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { holdIdleConnections, runKeepAliveClient, startShedding } from "../tests/shedding.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    requests: { type: "string", default: "4000" },
    check: { type: "string", default: "20" },
  },
});
const requests = Number(values.requests);

for (const mode of ["rotation", "kernel"] as const) {
  const server = await startShedding({
    rotation: mode === "rotation",
    checkMs: Number(values.check),
  });
  const idle = holdIdleConnections(server.addr.port, 20);
  const started = performance.now();
  const client = await runKeepAliveClient(`http://127.0.0.1:${server.addr.port}/`, requests);
  const seconds = (performance.now() - started) / 1000;
  const idleClosed = idle.closed();
  await server.shutdown();
  await idle.stop();
  const causes: Record<string, number> = {};
  for (const error of client.errors) {
    // The same cause counts once whatever the ports.
    const cause = error.replace(/from 127\.0\.0\.1:\d+ /, "").replace(/:\d{4,5}/g, ":PORT");
    causes[cause] = (causes[cause] ?? 0) + 1;
  }
  console.log(JSON.stringify({
    mode,
    seconds: +seconds.toFixed(1),
    serversStarted: server.generations,
    idleConnectionsClosed: idleClosed,
    requests,
    ok: client.ok,
    failed: client.errors.length,
    causes,
  }));
}
