/**
 * The guarded listener's one count of the requests it serves (src/serve.ts): what begins, what
 * runs and until when, on real sockets. The table store's memory-reducing collection waits on
 * it for a quiet spell.
 */
import assert from "node:assert/strict";
import { request, withGuardedServer } from "./guarded_server.ts";
import { waitFor } from "./_wait.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("one count of requests: each begins; an asynchronous one runs until its response is written to the end", async () => {
  const { promise: answer, resolve: release } = Promise.withResolvers<void>();
  const { promise: rest, resolve: sendRest } = Promise.withResolvers<void>();
  await withGuardedServer((req) => {
    const path = new URL(req.url).pathname;
    // Thrown on purpose (Deno prints it and answers 500): the count must not keep it running.
    if (path === "/fails") throw new Error("Handler failed on purpose");
    if (path === "/slow") return answer.then(() => new Response("slow answer"));
    if (path === "/stream") {
      return Promise.resolve(
        new Response(
          new ReadableStream({
            async start(controller) {
              controller.enqueue(encoder.encode("first "));
              await rest;
              controller.enqueue(encoder.encode("second"));
              controller.close();
            },
          }),
        ),
      );
    }
    return new Response("now");
  }, async (server, open) => {
    try {
      const readUntil = async (conn: Deno.Conn, text: string) => {
        const buffer = new Uint8Array(4096);
        let seen = "";
        while (!seen.includes(text)) {
          const n = await conn.read(buffer);
          assert.notEqual(n, null, `connection waiting for "${text}" was closed`);
          seen += decoder.decode(buffer.subarray(0, n!));
        }
      };
      const mark = server.begun;
      assert.equal(server.quietSince(mark), true);

      const quick = await open();
      await quick.write(request("/"));
      await readUntil(quick, "now");
      assert.equal(server.begun, mark + 1);
      assert.equal(server.running, 0, "a synchronous answer only begins");
      assert.equal(server.quietSince(mark), false, "a request began since the mark");
      assert.equal(server.quietSince(server.begun), true);

      const failing = await open();
      await failing.write(request("/fails"));
      await readUntil(failing, "500");
      assert.equal(server.begun, mark + 2);
      assert.equal(server.running, 0, "a handler that throws does not stay running");

      const slow = await open();
      await slow.write(request("/slow"));
      await waitFor(() => server.begun === mark + 3, "the slow request to begin");
      const busy = server.begun;
      assert.equal(server.running, 1);
      assert.equal(server.quietSince(busy), false, "a request is running");
      release();
      await readUntil(slow, "slow answer");
      await waitFor(() => server.running === 0, "the slow answer written");
      assert.equal(server.quietSince(busy), true);

      const stream = await open();
      await stream.write(request("/stream"));
      await readUntil(stream, "first ");
      const streaming = server.begun;
      assert.equal(server.running, 1, "a response still streaming is running");
      assert.equal(server.quietSince(streaming), false);
      sendRest();
      await readUntil(stream, "second");
      await waitFor(() => server.running === 0, "the stream written to the end");
      assert.equal(server.quietSince(streaming), true);
    } finally {
      // A graceful shutdown waits for running requests: never leave them waiting.
      release();
      sendRest();
    }
  });
});
