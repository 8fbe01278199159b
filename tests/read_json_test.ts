/** `readJson()` (src/validate.ts) on a real server: both ways a body arrives, every bad body a 4xx. */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { readJson } from "../src/validate.ts";
import { Problem } from "../src/problem.ts";
import { parseResponse, requestBytes, sendRaw } from "./_raw_http.ts";

/** A real server whose one route echoes `readJson()` (limit 256 bytes, deadline 300 ms). */
function echoServer() {
  const app = new Hono();
  app.post("/", async (c) => c.json({ got: await readJson(c, 256, 300) }));
  app.onError((error) =>
    Response.json(
      { type: error instanceof Problem ? error.type : "internal", detail: error.message },
      { status: error instanceof Problem ? error.status : 500 },
    )
  );
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  return { server, port: server.addr.port };
}

async function raw(port: number, body: string, framing: Parameters<typeof requestBytes>[2]) {
  const bytes = requestBytes(
    {
      method: "POST",
      target: "/",
      headers: [["content-type", "application/json"]],
      body: new TextEncoder().encode(body),
    },
    `127.0.0.1:${port}`,
    framing,
  );
  const answer = parseResponse(
    (await sendRaw({ hostname: "127.0.0.1", port }, bytes, {
      halfClose: true,
    })).bytes,
  );
  assert.ok(answer !== null, "an answer");
  return { status: answer.status, body: JSON.parse(new TextDecoder().decode(answer.body)) };
}

Deno.test("readJson() reads a body with a declared length and one sent in chunks alike", async () => {
  const { server, port } = echoServer();
  try {
    const declared = await fetch(`http://127.0.0.1:${port}/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"a":"ä"}',
    });
    assert.deepEqual([declared.status, await declared.json()], [200, { got: { a: "ä" } }]);
    const chunked = await fetch(`http://127.0.0.1:${port}/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: ReadableStream.from([
        new TextEncoder().encode('{"a":'),
        new TextEncoder().encode("1}"),
      ]),
    });
    assert.deepEqual([chunked.status, await chunked.json()], [200, { got: { a: 1 } }]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("readJson() refuses too large, empty, cut short and malformed bodies with 4xx", async () => {
  const { server, port } = echoServer();
  try {
    const large = `{"a":"${"x".repeat(300)}"}`;
    assert.equal((await raw(port, large, "content-length")).status, 413);
    const bigChunks = await fetch(`http://127.0.0.1:${port}/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: ReadableStream.from([new TextEncoder().encode(large)]),
    });
    assert.equal(bigChunks.status, 413);
    await bigChunks.body?.cancel();
    const empty = await raw(port, "", "content-length");
    assert.deepEqual([empty.status, empty.body.detail], [400, "Missing request body"]);
    const short = await raw(port, '{"a":1}', "short-body");
    assert.equal(short.status, 400);
    assert.match(short.body.detail, /ended early or is malformed/);
    assert.equal((await raw(port, "{", "content-length")).status, 400);
    const latin1 = await fetch(`http://127.0.0.1:${port}/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new Uint8Array([0x22, 0xe4, 0x22]),
    });
    assert.deepEqual([latin1.status, (await latin1.json()).detail], [
      400,
      "Request body is not valid UTF-8",
    ]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("readJson() answers 408 when a body with a declared length stops arriving", async () => {
  const { server, port } = echoServer();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(
      "POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 20\r\n" +
        '\r\n{"a":',
    ));
    const buffer = new Uint8Array(4096);
    // Without the deadline nothing would come: stop waiting after 5 s (the test then fails).
    const guard = setTimeout(() => conn.close(), 5000);
    const n = await conn.read(buffer).catch(() => null);
    clearTimeout(guard);
    const answer = parseResponse(buffer.subarray(0, n ?? 0));
    assert.equal(answer?.status, 408);
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the guard
    }
    await server.shutdown();
  }
});
