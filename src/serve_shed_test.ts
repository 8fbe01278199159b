/**
 * Shedding past the soft limit, on real sockets: connections idle longest go first, only as
 * many as the limit asks for, never one with a request running, and a keep-alive client
 * between two requests never has its connection closed under its next request.
 */
import assert from "node:assert/strict";
import { serveGuarded } from "./serve.ts";
import { holdIdleConnections, runKeepAliveClient, startShedding } from "../tests/shedding.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Resolves when the server closes `conn` (EOF or reset). */
async function closedByServer(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(4096);
  try {
    while ((await conn.read(buffer)) !== null) { /* drain */ }
  } catch { /* a reset is a close too */ }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* closed */ }
}

Deno.test("past the soft limit the connections idle longest are shed, as many as needed, never one with a request running", async () => {
  const { promise: release, resolve: releaseRunning } = Promise.withResolvers<void>();
  const { promise: started, resolve: runningStarted } = Promise.withResolvers<void>();
  const warnings: string[] = [];
  // Descriptors as the check sees them: two over the limit once `pressure` is on, back at the
  // limit as soon as two were shed.
  let pressure = false;
  let shedSoFar = 0;
  const server = await serveGuarded(async (req) => {
    if (new URL(req.url).pathname === "/running") {
      runningStarted();
      await release;
    }
    return new Response("ok");
  }, {
    hostname: "127.0.0.1",
    port: 0,
    checkMs: 20,
    softLimit: 0,
    shedIdleMs: 100,
    openDescriptors: () => 10 + (pressure ? Math.max(0, 2 - shedSoFar) : 0),
    onShed: (connections) => shedSoFar += connections,
    logger: { warn: (message) => warnings.push(message) },
  });
  const open = () => Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  const conns: Deno.Conn[] = [];
  try {
    // Oldest first: a request running, then three silent connections one after the other.
    const running = await open();
    await running.write(encoder.encode("GET /running HTTP/1.1\r\nHost: x\r\n\r\n"));
    await started;
    const oldest = await open();
    const older = await open();
    // The youngest must be idle for longer than shedIdleMs too: the order, not the threshold,
    // is what keeps it. Each is idle since it was accepted; wait until the next is older.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const young = await open();
    await new Promise((resolve) => setTimeout(resolve, 150));
    conns.push(running, oldest, older, young);
    pressure = true;
    await Promise.all([closedByServer(oldest), closedByServer(older)]);
    assert.equal(server.shed, 2);
    // The youngest and the running request were kept: both still answer.
    await young.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const buffer = new Uint8Array(1024);
    const n = await young.read(buffer);
    assert.match(decoder.decode(buffer.subarray(0, n ?? 0)), /^HTTP\/1\.1 200 OK/);
    releaseRunning();
    const m = await running.read(buffer);
    assert.match(decoder.decode(buffer.subarray(0, m ?? 0)), /^HTTP\/1\.1 200 OK/);
    assert.equal(server.shed, 2);
    assert.equal(server.generations, 1, "no new server: the listener is never rotated");
    assert.deepEqual(warnings, []);
  } finally {
    releaseRunning();
    conns.forEach(closeQuietly);
    await server.shutdown();
  }
});

Deno.test("while idle connections are shed past the soft limit, a keep-alive client in another process sees no failed request", async () => {
  // Far over the soft limit the whole time: every check (each 5 ms) sheds. Before session 7
  // every check started a new server and shut the old one down, which closed the client's
  // pooled connection in the 5 ms between two of its requests (`connection closed before
  // message completed`): run on the old code, this test saw 440 and 446 of 3,000 fail so.
  const warnings: string[] = [];
  const server = await startShedding({
    rotation: false,
    checkMs: 5,
    warn: (message) => warnings.push(message),
  });
  const idle = holdIdleConnections(server.addr.port, 20);
  try {
    const { ok, errors } = await runKeepAliveClient(`http://127.0.0.1:${server.addr.port}/`, 3000);
    const closedWhileClientRan = idle.closed();
    assert.deepEqual(errors, []);
    assert.equal(ok, 3000);
    // The shedding ran the whole time: every idle connection was shed at least once.
    assert.ok(closedWhileClientRan >= 20, `${closedWhileClientRan} idle connections shed`);
    assert.equal(server.generations, 1);
    assert.deepEqual(warnings, []);
  } finally {
    await server.shutdown();
    await idle.stop();
  }
});
