/**
 * P4's shaped references (loadtest/bare_server.ts `--forward … --each-chunk [--sha256]`) do what
 * they stand for: every byte of an HTTPS provider's body handed on unchanged, and a body cut
 * short of its Content-Length never handed on as a whole one.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createTestPki } from "../tests/tls.ts";
import { Child, Cleanups, freePort, waitFor200 } from "./_harness.ts";
import { forwarderArgs, type ForwarderMode } from "./_evidence.ts";

const BODY_BYTES = 3 * 1024 * 1024 + 123;
const CUT_AFTER = 200 * 1024;

/** Deterministic bytes, different in every 16 KiB record. */
function payload(): Uint8Array {
  const bytes = new Uint8Array(BODY_BYTES);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 14)) & 0xff;
  return bytes;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("base64");

/**
 * An HTTPS provider over a raw TLS socket: `/whole` sends the payload, `/cut` announces it whole
 * and closes the connection after CUT_AFTER bytes.
 */
async function provider(cleanups: Cleanups, body: Uint8Array) {
  const pki = await createTestPki("Lotse Bench Test CA");
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: pki.cert, key: pki.key });
  cleanups.push(() => listener.close());
  (async () => {
    for await (const conn of listener) {
      (async () => {
        const buffer = new Uint8Array(16 * 1024);
        let head = "";
        while (!head.includes("\r\n\r\n")) {
          const n = await conn.read(buffer);
          if (n === null) return conn.close();
          head += new TextDecoder().decode(buffer.subarray(0, n));
        }
        const cut = head.startsWith("GET /cut ");
        await writeAll(
          conn,
          new TextEncoder().encode(
            `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`,
          ),
        );
        await writeAll(conn, cut ? body.subarray(0, CUT_AFTER) : body);
        conn.close();
      })().catch(() => {});
    }
  })().catch(() => {});
  return { port: listener.addr.port, caCert: pki.caCert };
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
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

for (const mode of ["eachChunk", "eachChunkSha256"] as const) {
  Deno.test(`forwarder ${mode}: a whole body whole, a cut body never whole`, async () => {
    const cleanups = new Cleanups();
    try {
      const body = payload();
      const up = await provider(cleanups, body);
      const url = await forwarder(cleanups, up.port, up.caCert, mode);

      const whole = await fetch(`${url}/whole`);
      assert.equal(whole.status, 200);
      const received = new Uint8Array(await whole.arrayBuffer());
      assert.equal(received.length, BODY_BYTES);
      assert.equal(sha256(received), sha256(body));

      const cut = await fetch(`${url}/cut`);
      assert.equal(cut.status, 200);
      let got = 0;
      const reader = cut.body!.getReader();
      await assert.rejects(async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          got += value.length;
        }
      });
      assert.ok(got < BODY_BYTES, `${got} bytes of a body cut after ${CUT_AFTER}`);
    } finally {
      await cleanups.run();
    }
  });
}
