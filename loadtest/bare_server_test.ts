/**
 * P4's same-shape references (loadtest/bare_server.ts `--forward … [--each-chunk [--sha256]]`, as
 * loadtest/_evidence.ts starts them) do what they stand for: every byte of an HTTPS provider's
 * body handed on unchanged, a body the provider cut never handed on as a whole one, and with
 * `--sha256` a body that does not match its `Repr-Digest` cut too.
 *
 * @module
 */
import assert from "node:assert/strict";
import { formatDigest, sha256Base64 as sha256 } from "../crypto/digest.ts";
import { createTestPki } from "../tests/tls.ts";
import { Child, Cleanups, freePort, waitFor200 } from "./_harness.ts";
import { forwarderArgs, type ForwarderMode } from "./_evidence.ts";

const BODY_BYTES = 3 * 1024 * 1024 + 123;
const CUT_AFTER = 12 * 16 * 1024;
const ENCODE = new TextEncoder();
// Longest a request may take before the test fails instead of hanging the suite.
const REQUEST_LIMIT_MS = 60_000;

/** Deterministic bytes, different in every 16 KiB record. */
function payload(): Uint8Array {
  const bytes = new Uint8Array(BODY_BYTES);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 14)) & 0xff;
  return bytes;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/**
 * An HTTPS provider over a raw TLS socket, one request per connection. `/whole` sends the payload
 * with its Content-Length and Repr-Digest; `/wrong-digest` the same with another payload's
 * digest; `/cut` sends it chunked and closes after CUT_AFTER bytes, without the last chunk.
 */
async function provider(cleanups: Cleanups, body: Uint8Array) {
  const pki = await createTestPki("Lotse Bench Test CA");
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: pki.cert, key: pki.key });
  cleanups.push(() => listener.close());
  const digest = formatDigest("sha-256", sha256(body));
  const wrong = formatDigest("sha-256", sha256(body.subarray(1)));
  const serve = async (conn: Deno.TlsConn) => {
    const buffer = new Uint8Array(16 * 1024);
    let head = "";
    while (!head.includes("\r\n\r\n")) {
      const n = await conn.read(buffer);
      if (n === null) return conn.close();
      head += new TextDecoder().decode(buffer.subarray(0, n));
    }
    const path = head.split(" ")[1];
    if (path === "/cut") {
      await writeAll(conn, ENCODE.encode("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"));
      for (let at = 0; at < CUT_AFTER; at += 16 * 1024) {
        const piece = body.subarray(at, at + 16 * 1024);
        await writeAll(conn, ENCODE.encode(`${piece.length.toString(16)}\r\n`));
        await writeAll(conn, piece);
        await writeAll(conn, ENCODE.encode("\r\n"));
      }
    } else {
      await writeAll(
        conn,
        ENCODE.encode(
          `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nrepr-digest: ${
            path === "/wrong-digest" ? wrong : digest
          }\r\nconnection: close\r\n\r\n`,
        ),
      );
      await writeAll(conn, body);
    }
    conn.close();
  };
  (async () => {
    for await (const conn of listener) serve(conn).catch(() => {});
  })().catch(() => {});
  return { port: listener.addr.port, caCert: pki.caCert };
}

async function forwarder(
  cleanups: Cleanups,
  upstreamPort: number,
  caCert: string,
  mode: ForwarderMode,
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "lotse-forwarder-" });
  cleanups.push(() => Deno.remove(dir, { recursive: true }));
  await Deno.writeTextFile(`${dir}/ca.pem`, caCert);
  const port = freePort();
  const args = forwarderArgs(port, `https://127.0.0.1:${upstreamPort}`, `${dir}/ca.pem`, mode);
  const child = new Child("forwarder", Deno.execPath(), args);
  cleanups.push(() => child.stop());
  const url = `http://127.0.0.1:${port}`;
  await waitFor200(`${url}/`, { child });
  return url;
}

/** Reads a body to its end: the bytes, or the error that broke it with the bytes until then. */
async function readBody(res: Response): Promise<{ bytes: Uint8Array; error: unknown }> {
  const parts: Uint8Array[] = [];
  const reader = res.body!.getReader();
  let error: unknown = null;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
    }
  } catch (e) {
    error = e;
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (bytes.set(p, at), at + p.length), 0);
  return { bytes, error };
}

const MODE_HEADER: Record<ForwarderMode, string> = {
  runtime: "runtime",
  eachChunk: "each-chunk",
  eachChunkSha256: "each-chunk-sha256",
};

for (const mode of ["runtime", "eachChunk", "eachChunkSha256"] as const) {
  Deno.test(`forwarder ${mode}: a whole body whole, a cut body never whole`, async () => {
    const cleanups = new Cleanups();
    try {
      const body = payload();
      const up = await provider(cleanups, body);
      const url = await forwarder(cleanups, up.port, up.caCert, mode);
      const get = (path: string) =>
        fetch(url + path, { signal: AbortSignal.timeout(REQUEST_LIMIT_MS) });

      const whole = await get("/whole");
      assert.equal(whole.status, 200);
      assert.equal(whole.headers.get("x-forwarder-mode"), MODE_HEADER[mode]);
      const received = await readBody(whole);
      assert.equal(received.error, null);
      assert.equal(received.bytes.length, BODY_BYTES);
      assert.equal(sha256(received.bytes), sha256(body));

      const cut = await readBody(await get("/cut"));
      assert.ok(cut.error !== null, `a cut body ended cleanly after ${cut.bytes.length} bytes`);
      assert.ok(cut.bytes.length <= CUT_AFTER, `${cut.bytes.length} bytes of ${CUT_AFTER} sent`);

      // Only the hashing forwarder checks the digest; the others hand the body on as it came.
      const wrong = await readBody(await get("/wrong-digest"));
      if (mode === "eachChunkSha256") {
        assert.ok(wrong.error !== null, "a body that fails its digest ended cleanly");
        assert.ok(wrong.bytes.length < BODY_BYTES, "every byte of a body that fails its digest");
      } else {
        assert.equal(wrong.error, null);
        assert.equal(wrong.bytes.length, BODY_BYTES);
      }
    } finally {
      await cleanups.run();
    }
  });
}
