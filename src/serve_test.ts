/**
 * The header-read and idle timeouts of the guarded listener, on real sockets: what is cut,
 * never before its time, and what is never cut (a request still running, a response still
 * streaming).
 */
import assert from "node:assert/strict";
import { serveGuarded } from "./serve.ts";
import { createTestPki } from "../tests/tls.ts";
import { HEADER_MS, IDLE_MS, request, withGuardedServer } from "../tests/guarded_server.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Cut {
  readonly afterMs: number;
  /** What the server had sent before it closed. */
  readonly received: string;
}

/** Reads until the server closes the connection; how long that took from `since`. */
async function closedByServer(conn: Deno.Conn, since: number): Promise<Cut> {
  const buffer = new Uint8Array(64 * 1024);
  let received = "";
  try {
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
      if (received.length < 1024) received += decoder.decode(buffer.subarray(0, n));
    }
  } catch { /* a reset is a close too */ }
  return { afterMs: performance.now() - since, received };
}

Deno.test("a connection that sends nothing, half a header or a trickling header is cut after the header timeout, not before", async () => {
  await withGuardedServer(() => new Response("ok"), async (server, open) => {
    const start = performance.now();
    const silent = await open();
    const half = await open();
    await half.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n"));
    const trickle = await open();
    let trickling = true;
    const trickler = (async () => {
      for (const byte of encoder.encode("GET / HTTP/1.1\r\nX-Slow: " + "y".repeat(10_000))) {
        if (!trickling) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
        await trickle.write(new Uint8Array([byte])).catch(() => trickling = false);
      }
    })();
    const cuts = await Promise.all([silent, half, trickle].map((c) => closedByServer(c, start)));
    trickling = false;
    await trickler;
    for (const cut of cuts) {
      assert.ok(cut.afterMs >= HEADER_MS, `cut after ${cut.afterMs} ms`);
      assert.equal(cut.received, "", "nothing answered");
    }
    assert.equal(server.headerTimeouts, 3);
    assert.equal(server.idleTimeouts, 0);
  });
});

Deno.test("an answered connection is cut after the idle timeout with nothing sent, also when it does not read", async () => {
  // An endless body, answered synchronously (not counted as running): whatever the kernel's
  // buffer sizes, the sends stall once the client stops reading.
  const chunk = new Uint8Array(64 * 1024).fill(122);
  const endless = () => new ReadableStream({ pull: (controller) => controller.enqueue(chunk) });
  await withGuardedServer(
    (req) => new Response(new URL(req.url).pathname === "/big" ? endless() : "ok"),
    async (server, open) => {
      const idle = await open();
      // Each idle time counts from before its request: the server's clock starts at its answer,
      // no earlier, and a starved test may read that answer late.
      const idleSince = performance.now();
      await idle.write(request("/"));
      const answered = new Uint8Array(1024);
      assert.ok((await idle.read(answered))! > 0);
      // Asks for an endless body and never reads: the server's sends stall on a full window.
      const stalled = await open();
      const stalledSince = performance.now();
      await stalled.write(request("/big"));
      const idleCut = await closedByServer(idle, idleSince);
      assert.ok(idleCut.afterMs >= IDLE_MS, `idle cut after ${idleCut.afterMs} ms`);
      // Reading would end the stall: wait for the server's count of cuts first.
      const deadline = performance.now() + 10_000;
      while (server.idleTimeouts < 2) {
        assert.ok(performance.now() < deadline, "the stalled connection was not cut in 10 s");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // Reading only now: what the kernel buffered, then the end of an endless body.
      const stalledCut = await closedByServer(stalled, stalledSince);
      assert.ok(stalledCut.afterMs >= IDLE_MS, `stalled cut after ${stalledCut.afterMs} ms`);
      assert.ok(stalledCut.received.startsWith("HTTP/1.1 200 OK"));
      assert.equal(server.idleTimeouts, 2);
    },
  );
});

Deno.test("a next request that is arriving gets the header timeout on top of the idle timeout, then is cut", async () => {
  await withGuardedServer(() => new Response("ok"), async (server, open) => {
    const conn = await open();
    const since = performance.now();
    await conn.write(request("/"));
    assert.ok((await conn.read(new Uint8Array(1024)))! > 0);
    // The next request trickles in and never completes.
    let trickling = true;
    const trickler = (async () => {
      for (const byte of encoder.encode("GET / HTTP/1.1\r\nX-Slow: " + "y".repeat(10_000))) {
        if (!trickling) break;
        await conn.write(new Uint8Array([byte])).catch(() => trickling = false);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const cut = await closedByServer(conn, since);
    trickling = false;
    await trickler;
    assert.ok(cut.afterMs >= IDLE_MS + HEADER_MS, `cut after ${cut.afterMs} ms`);
    assert.equal(server.idleTimeouts, 1);
  });
});

Deno.test("a request still running and a response still streaming are never cut, however silent", async () => {
  // Both wait for an event: another connection cut by the idle timeout, which proves that
  // checks ran while they had been silent for longer than either timeout.
  const { promise: idleCut, resolve: sawIdleCut } = Promise.withResolvers<void>();
  await withGuardedServer(async (req) => {
    if (new URL(req.url).pathname === "/slow") {
      await idleCut;
      return new Response("slow answer");
    }
    if (new URL(req.url).pathname === "/stream") {
      return new Response(
        new ReadableStream({
          async start(controller) {
            controller.enqueue(encoder.encode("first "));
            await idleCut;
            controller.enqueue(encoder.encode("second"));
            controller.close();
          },
        }),
      );
    }
    return new Response("ok");
  }, async (server, open) => {
    try {
      const slow = await open();
      await slow.write(request("/slow"));
      const stream = await open();
      await stream.write(request("/stream"));
      const idle = await open();
      const since = performance.now();
      await idle.write(request("/"));
      assert.ok((await idle.read(new Uint8Array(1024)))! > 0);
      await closedByServer(idle, since);
      assert.ok(performance.now() - since >= IDLE_MS);
      sawIdleCut();
      for (const [conn, body] of [[slow, "slow answer"], [stream, "second"]] as const) {
        const buffer = new Uint8Array(4096);
        let text = "";
        while (!text.includes(body)) {
          const n = await conn.read(buffer);
          assert.notEqual(n, null, `connection waiting for "${body}" was closed`);
          text += decoder.decode(buffer.subarray(0, n!));
        }
      }
      assert.equal(server.idleTimeouts, 1);
      assert.equal(server.headerTimeouts, 0);
    } finally {
      // A graceful shutdown waits for running requests: never leave them waiting.
      sawIdleCut();
    }
  });
});

Deno.test("keep-alive clients that keep asking are never cut", async () => {
  let answered = 0;
  await withGuardedServer(() => new Response(`answer ${++answered}`), async (server, open) => {
    const conn = await open();
    const buffer = new Uint8Array(1024);
    // Asks again each time another connection has been cut by the header timeout:
    // three rounds of checks, each past the timeout, on the same connection.
    for (let round = 0; round < 3; round++) {
      await conn.write(request("/"));
      const n = await conn.read(buffer);
      assert.ok(n !== null && decoder.decode(buffer.subarray(0, n)).includes("200 OK"));
      const probe = await open();
      await closedByServer(probe, performance.now());
    }
    assert.equal(server.headerTimeouts, 3);
    assert.equal(server.idleTimeouts, 0);
  });
});

Deno.test("over TLS and HTTP/2 a running stream is never cut, an idle connection is, and a silent one after the header timeout", async () => {
  const pki = await createTestPki();
  const { promise: gate, resolve: open } = Promise.withResolvers<void>();
  const server = await serveGuarded(async (req) => {
    if (new URL(req.url).pathname === "/slow") await gate;
    return new Response(new URL(req.url).pathname);
  }, {
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: pki.cert, key: pki.key },
    checkMs: 50,
    softLimit: 1_000_000,
    headerTimeoutMs: HEADER_MS,
    idleTimeoutMs: IDLE_MS,
    logger: { warn: (message) => assert.fail(message) },
  });
  const client = Deno.createHttpClient({ caCerts: [pki.caCert], http1: false, http2: true });
  const base = `https://localhost:${server.addr.port}`;
  try {
    assert.equal(await (await fetch(`${base}/first`, { client })).text(), "/first");
    const slow = fetch(`${base}/slow`, { client })
      .then((res) => res.text(), (error) => `failed: ${error.message}`);
    // A silent raw connection is cut by the header timeout. Its time counts from before the
    // connect and the request: the server's clock starts no earlier, and a starved client may
    // see the connection or the answer late.
    const connecting = performance.now();
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    assert.ok((await closedByServer(silent, connecting)).afterMs >= HEADER_MS);
    assert.equal(server.headerTimeouts, 1);
    // A probe answered after the slow stream went silent is cut by the idle timeout: proof
    // that checks ran while the stream's connection had been silent longer than that.
    const probe = await Deno.connectTls({
      hostname: "localhost",
      port: server.addr.port,
      caCerts: [pki.caCert],
    });
    const asked = performance.now();
    await probe.write(request("/probe"));
    assert.ok((await probe.read(new Uint8Array(4096)))! > 0);
    assert.ok((await closedByServer(probe, asked)).afterMs >= IDLE_MS);
    assert.equal(server.idleTimeouts, 1, "only the probe was cut, not the running stream");
    open();
    assert.equal(await slow, "/slow");
    // Now idle: cut. The server still takes new connections (a fresh client: a pooled one
    // may try the cut connection before it has read the close, and fetch does not retry).
    const deadline = performance.now() + 10_000;
    while (server.idleTimeouts < 2) {
      assert.ok(performance.now() < deadline, "the idle HTTP/2 connection was not cut in 10 s");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const fresh = Deno.createHttpClient({ caCerts: [pki.caCert], http1: false, http2: true });
    try {
      assert.equal(await (await fetch(`${base}/again`, { client: fresh })).text(), "/again");
    } finally {
      fresh.close();
    }
  } finally {
    // A graceful shutdown waits for running requests: never leave /slow waiting.
    open();
    client.close();
    await server.shutdown();
  }
});
