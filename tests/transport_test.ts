import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, type JSONWebKeySet, SignJWT } from "jose";
import { formatDigest, sha256Base64, sha256FromDigest } from "../crypto/digest.ts";
import { startDemoProvider } from "../demo/registers.ts";
import {
  forward,
  type ForwardOptions,
  ProviderClients,
  providerUrl,
  type TransferSummary,
} from "../src/transport.ts";
import type { Provider } from "../src/model.ts";
import { createSha256 } from "../crypto/digest.ts";
import { sealEvidenceToken } from "../crypto/mod.ts";
import { createTestPki } from "./_tls.ts";
import { waitFor } from "./_wait.ts";

// Timeouts long enough that a loaded machine never trips them by accident; the tests of the
// timeouts themselves pass short ones where only a stalled provider can reach them.
const LIMITS = {
  maxRequestBytes: 64 * 1024,
  providerTimeoutMs: 30_000,
  providerIdleTimeoutMs: 30_000,
};
const SHORT = { ...LIMITS, providerTimeoutMs: 300, providerIdleTimeoutMs: 200 };

const keys = await generateKeyPair("ES256");
const jwks: JSONWebKeySet = {
  keys: [{ ...await exportJWK(keys.publicKey), kid: "test", alg: "ES256", use: "sig" }],
};
const pki = await createTestPki("Lotse Test CA");
const otherPki = await createTestPki("Other Test CA");

const signer = { signingKey: () => ({ kid: "test", alg: "ES256" as const, key: keys.privateKey }) };

// An evidence token as Lotse seals it; `expires` "-1m" makes one that has run out.
async function token(
  aud: string,
  claims: { evidence_type?: string; req_digest?: string } = {},
  expires = "5m",
) {
  const sealed = await sealEvidenceToken({
    consumerId: "test-consumer",
    providerId: aud,
    evidenceType: claims.evidence_type ?? "fahrzeugzulassung",
    purpose: "test",
    legalBasis: "test",
    idnrUsed: false,
    ...(claims.req_digest === undefined ? {} : { requestDigest: claims.req_digest }),
  }, { keys: signer, issuer: "lotse-test", now: Date.now() - (expires === "-1m" ? 600_000 : 0) });
  return sealed.token;
}

function provider(id: string, endpoint: string, caCert: string | null = null): Provider {
  return { id, name: id, endpoint, caCert };
}

interface Front {
  url: string;
  summaries: Promise<TransferSummary>[];
  close(): Promise<void>;
}

// A minimal stand-in for the evidence route: forward() behind a real Deno.serve.
function startFront(
  target: Provider,
  options: Partial<ForwardOptions> & { evidenceType?: string } = {},
): Front {
  const summaries: Promise<TransferSummary>[] = [];
  const clients = new ProviderClients();
  let n = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const evidenceType = options.evidenceType ?? "fahrzeugzulassung";
    const result = await forward(req, {
      provider: target,
      token: await token(target.id, { evidence_type: evidenceType }),
      transferId: `t-${++n}`,
      evidenceType,
      limits: LIMITS,
      clients,
      signal: req.signal,
      ...options,
    });
    summaries.push(result.done);
    if (result.ok) return result.response;
    return Response.json(result.failure, {
      status: result.failure.status === 499 ? 400 : result.failure.status,
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/v1/evidence/fahrzeugzulassung`,
    summaries,
    async close() {
      await server.shutdown();
      clients.close();
    },
  };
}

async function withDemo(
  fn: (demo: ReturnType<typeof startDemoProvider>) => Promise<void>,
  tls?: { cert: string; key: string },
) {
  const demo = startDemoProvider({ jwks, ...tls });
  try {
    await fn(demo);
  } finally {
    await demo.shutdown();
  }
}

async function readAll(
  response: Response,
): Promise<{ bytes: number; sha256: string; error: unknown }> {
  const hash = createSha256();
  let bytes = 0;
  try {
    for await (const chunk of response.body!) {
      bytes += chunk.length;
      hash.update(chunk);
    }
    return { bytes, sha256: hash.digest("base64"), error: null };
  } catch (error) {
    return { bytes, sha256: "", error };
  }
}

function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
) {
  return fetch(url, {
    method: "POST",
    signal,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

Deno.test("forward() streams a demo evidence answer with status, type, digest and Lotse headers", async () => {
  await withDemo(async (demo) => {
    const front = startFront(provider("kba-zfzr", demo.endpoint("kba-zfzr")));
    try {
      const res = await post(front.url, { kennzeichen: "S-LT 42" });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.equal(res.headers.get("lotse-provider"), "kba-zfzr");
      assert.equal(res.headers.get("lotse-transfer-id"), "t-1");
      const text = await res.text();
      assert.equal(sha256FromDigest(res.headers.get("repr-digest")), sha256Base64(text));
      assert.equal(JSON.parse(text).zulassungsbescheinigungTeil1.A, "S-LT 42");
      const summary = await front.summaries[0]!;
      assert.equal(summary.outcome, "delivered");
      assert.equal(summary.bytes, new TextEncoder().encode(text).length);
      assert.equal(summary.digest, formatDigest("sha-256", sha256Base64(text)));
    } finally {
      await front.close();
    }
  });
});

Deno.test("forward() sends exactly the contract's headers upstream and strips provider internals", async () => {
  let seen: { url: string; headers: Headers; body: string } | null = null;
  const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen = { url: req.url, headers: req.headers, body: await req.text() };
    return new Response("{}", {
      status: 201,
      headers: {
        "content-type": "application/json",
        "set-cookie": "session=secret",
        "server": "register/1.0",
        "x-powered-by": "php",
        "x-internal-node": "db-7",
      },
    });
  });
  const endpoint = `http://127.0.0.1:${upstream.addr.port}/register/evidence`;
  const front = startFront(provider("gewerbe-s", endpoint), {
    evidenceType: "gewerberegisterauszug",
  });
  try {
    const body = JSON.stringify({ betrieb: "Café" });
    const digest = formatDigest("sha-256", sha256Base64(body));
    const res = await fetch(`${front.url}?providerId=evil&url=http://attacker.example/`, {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "repr-digest": digest,
        "authorization": "Bearer consumer-access-token",
        "cookie": "a=b",
        "x-forwarded-host": "attacker.example",
        "lotse-purpose": "Bewohnerparkausweis",
      },
    });
    assert.equal(res.status, 201);
    await res.body?.cancel();
    for (const name of ["set-cookie", "server", "x-powered-by", "x-internal-node"]) {
      assert.equal(res.headers.get(name), null, name);
    }
    const got = seen as { url: string; headers: Headers; body: string } | null;
    assert.ok(got !== null);
    assert.equal(got.url, endpoint);
    assert.equal(got.body, body);
    const auth = got.headers.get("authorization") ?? "";
    assert.match(auth, /^Bearer ey/);
    assert.equal(got.headers.get("lotse-transfer-id"), "t-1");
    assert.equal(got.headers.get("lotse-evidence-type"), "gewerberegisterauszug");
    assert.equal(got.headers.get("content-type"), "application/json");
    assert.equal(got.headers.get("repr-digest"), digest);
    for (const name of ["cookie", "x-forwarded-host", "lotse-purpose"]) {
      assert.equal(got.headers.get(name), null, name);
    }
  } finally {
    await front.close();
    await upstream.shutdown();
  }
});

Deno.test("forward() sends a body the face holds whole with its length, refuses one over the limit or off its digest without calling, and shows every answer chunk to onResponseChunk", async () => {
  const seen: { length: string | null; chunked: string | null; body: string }[] = [];
  const answer = "<answer>" + "x".repeat(100_000) + "</answer>";
  const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push({
      length: req.headers.get("content-length"),
      chunked: req.headers.get("transfer-encoding"),
      body: await req.text(),
    });
    return new Response(answer, { headers: { "content-type": "application/xml" } });
  });
  const clients = new ProviderClients();
  const target = provider("p", `http://127.0.0.1:${upstream.addr.port}/xnachweis`);
  const send = (body: Uint8Array<ArrayBuffer>, reprDigest: string | null = null) => {
    const watched: Uint8Array<ArrayBuffer>[] = [];
    const counted: number[] = [];
    const result = forward({ body }, {
      provider: target,
      token: null,
      transferId: "t-bytes",
      evidenceType: "fahrzeugzulassung",
      contentType: "application/xml",
      reprDigest,
      limits: LIMITS,
      clients,
      onRequestBytes: (n) => counted.push(n),
      onResponseChunk: (chunk) => watched.push(chunk.slice()),
    });
    return { result, watched, counted };
  };
  try {
    const message = new TextEncoder().encode("<message>" + "m".repeat(5000) + "</message>");
    const sent = send(message, formatDigest("sha-256", sha256Base64(message)));
    const result = await sent.result;
    assert.ok(result.ok);
    assert.equal(await result.response.text(), answer);
    assert.equal((await result.done).outcome, "delivered");
    assert.equal(await new Blob(sent.watched).text(), answer);
    assert.deepEqual(sent.counted, [message.byteLength]);
    assert.deepEqual(seen, [{
      length: String(message.byteLength),
      chunked: null,
      body: new TextDecoder().decode(message),
    }]);

    const large = await send(new Uint8Array(LIMITS.maxRequestBytes + 1)).result;
    assert.ok(!large.ok);
    assert.equal(large.failure.status, 413);
    const wrong = await send(message, formatDigest("sha-256", sha256Base64("other"))).result;
    assert.ok(!wrong.ok);
    assert.equal(wrong.failure.status, 400);
    assert.equal((await wrong.done).outcome, "failed");
    assert.equal(seen.length, 1);
  } finally {
    clients.close();
    await upstream.shutdown();
  }
});

Deno.test("forward() carries a payload of several MiB intact", async () => {
  await withDemo(async (demo) => {
    const front = startFront(provider("kba-zfzr", demo.endpoint("kba-zfzr")));
    try {
      const size = 12 * 1024 * 1024 + 17;
      const res = await post(front.url, { demo: { bytes: size } });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-length"), String(size));
      const read = await readAll(res);
      assert.equal(read.error, null);
      assert.equal(read.bytes, size);
      assert.equal(read.sha256, sha256FromDigest(res.headers.get("repr-digest")));
      const summary = await front.summaries[0]!;
      assert.equal(summary.outcome, "delivered");
      assert.equal(summary.bytes, size);
    } finally {
      await front.close();
    }
  });
});

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65536)));
  }
  return bytes;
}

// Pieces from a few bytes to a few hundred KiB, so reads come back both tiny and full.
function randomPieces(payload: Uint8Array): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < payload.length;) {
    const size = Math.random() < 0.2
      ? 1 + Math.floor(Math.random() * 300_000)
      : 1 + Math.floor(Math.random() * 3000);
    pieces.push(payload.subarray(at, Math.min(payload.length, at + size)));
    at += size;
  }
  return pieces;
}

Deno.test("forward() delivers a body that arrives in pieces of every size byte for byte", async () => {
  const payload = randomBytes(3 * 1024 * 1024 + 5);
  const pieces = randomPieces(payload);
  const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    let i = 0;
    return new Response(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          const piece = pieces[i++];
          if (piece === undefined) return controller.close();
          // Pauses now and then, so the forwarder's reads catch partial data.
          if (i % 7 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
          controller.enqueue(piece);
        },
      }, { highWaterMark: 0 }),
      { headers: { "repr-digest": formatDigest("sha-256", sha256Base64(payload)) } },
    );
  });
  const front = startFront(provider("p", `http://127.0.0.1:${upstream.addr.port}/`));
  try {
    const res = await post(front.url, {});
    const received = new Uint8Array(await res.arrayBuffer());
    assert.equal(received.length, payload.length);
    assert.ok(received.every((byte, i) => byte === payload[i]), "bytes must arrive in order");
    const summary = await front.summaries[0]!;
    assert.equal(summary.outcome, "delivered");
    assert.equal(summary.bytes, payload.length);
    assert.equal(summary.digest, formatDigest("sha-256", sha256Base64(payload)));
  } finally {
    await front.close();
    await upstream.shutdown();
  }
});

for (const digest of ["right", "wrong"] as const) {
  Deno.test(`forward() watches a body that is not a byte stream, as an injected fetch may return (${digest} digest)`, async () => {
    const payload = randomBytes(600_000);
    const claimed = digest === "right" ? payload : payload.subarray(1);
    const injected: ForwardOptions["fetch"] = async (_url, init) => {
      if (init.body instanceof ReadableStream) await init.body.cancel();
      return new Response(ReadableStream.from(randomPieces(payload)), {
        headers: { "repr-digest": formatDigest("sha-256", sha256Base64(claimed)) },
      });
    };
    const front = startFront(provider("p", "http://127.0.0.1:9/"), { fetch: injected });
    try {
      const res = await post(front.url, {});
      const read = await readAll(res);
      const summary = await front.summaries[0]!;
      if (digest === "right") {
        assert.equal(read.error, null);
        assert.equal(read.sha256, sha256Base64(payload));
        assert.equal(summary.bytes, payload.length);
        assert.equal(summary.outcome, "delivered");
      } else {
        assert.ok(read.error !== null, "the consumer must see an error, not a clean end");
        assert.ok(read.bytes < payload.length);
        assert.equal(summary.outcome, "failed");
      }
    } finally {
      await front.close();
    }
  });
}

Deno.test("forward() reaches an HTTPS provider only through that provider's own CA", async () => {
  await withDemo(async (demo) => {
    const endpoint = demo.endpoint("kba-zfzr").replace("127.0.0.1", "localhost");
    const cases: [string | null, number][] = [
      [pki.caCert, 200],
      [null, 502],
      [otherPki.caCert, 502],
    ];
    for (const [caCert, status] of cases) {
      const front = startFront(provider("kba-zfzr", endpoint, caCert));
      try {
        const res = await post(front.url, {});
        assert.equal(
          res.status,
          status,
          `caCert ${caCert === pki.caCert ? "own" : caCert === null ? "none" : "other"}`,
        );
        if (status === 502) assert.equal((await res.json()).type, "provider-failed");
        else assert.equal((await res.json()).evidenceType, "fahrzeugzulassung");
        assert.equal((await front.summaries[0]!).outcome, status === 200 ? "delivered" : "failed");
      } finally {
        await front.close();
      }
    }
  }, pki);
});

Deno.test("forward() speaks HTTP/1.1 to an HTTPS provider that also offers HTTP/2", async () => {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: pki.cert,
    key: pki.key,
    alpnProtocols: ["h2", "http/1.1"],
  });
  const negotiated: (string | null)[] = [];
  const served = (async () => {
    for await (const conn of listener) {
      const { alpnProtocol } = await conn.handshake();
      negotiated.push(alpnProtocol);
      // Read the request head and answer it in HTTP/1.1, whatever was negotiated.
      const buffer = new Uint8Array(64 * 1024);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buffer);
        if (n === null) break;
        head += new TextDecoder().decode(buffer.subarray(0, n));
      }
      const body = '{"ok":true}';
      await conn.write(new TextEncoder().encode(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" +
          `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      ));
      conn.close();
    }
  })();
  const endpoint = `https://localhost:${listener.addr.port}/providers/kba-zfzr`;
  const front = startFront(provider("kba-zfzr", endpoint, pki.caCert));
  try {
    const res = await post(front.url, {});
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true });
    assert.deepEqual(negotiated, ["http/1.1"]);
  } finally {
    await front.close();
    listener.close();
    await served.catch(() => {});
  }
});

Deno.test("forward() answers 502 when the provider refuses the connection", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const front = startFront(provider("gone", `http://127.0.0.1:${port}/x`));
  try {
    const res = await post(front.url, {});
    assert.equal(res.status, 502);
    assert.equal((await res.json()).type, "provider-failed");
    assert.equal((await front.summaries[0]!).outcome, "failed");
  } finally {
    await front.close();
  }
});

Deno.test("providerUrl() applies the endpoint rule and names the provider", () => {
  const url = (endpoint: string) => providerUrl(provider("p", endpoint));
  assert.ok(url("https://register.example/api") instanceof URL);
  assert.ok(url("http://127.0.0.1:8080/") instanceof URL);
  assert.match(String(url("http://register.example/")), /^Refusing endpoint of provider "p": /);
});

Deno.test("forward() answers 502 without calling a provider whose endpoint is plain HTTP off loopback", async () => {
  let called = false;
  const front = startFront(provider("remote", "http://register.example/api"), {
    fetch: () => {
      called = true;
      return Promise.resolve(new Response("{}"));
    },
  });
  try {
    const res = await post(front.url, {});
    assert.equal(res.status, 502);
    await res.body?.cancel();
    assert.equal(called, false);
  } finally {
    await front.close();
  }
});

Deno.test("forward() answers 504 when the provider sends no headers in time", async () => {
  await withDemo(async (demo) => {
    const front = startFront(provider("kba-zfzr", demo.endpoint("kba-zfzr")), { limits: SHORT });
    try {
      const res = await post(front.url, { demo: { fault: "no-headers" } });
      assert.equal(res.status, 504);
      assert.equal((await res.json()).type, "provider-timeout");
      const summary = await front.summaries[0]!;
      assert.equal(summary.outcome, "failed");
      assert.equal(summary.status, 504);
    } finally {
      await front.close();
    }
  });
});

Deno.test("forward() waits for a slow provider that answers within the timeout", async () => {
  await withDemo(async (demo) => {
    const front = startFront(provider("kba-zfzr", demo.endpoint("kba-zfzr")));
    try {
      // Headers after 500 ms: past the short timeouts other tests use, within this one's.
      const res = await post(front.url, { demo: { fault: "slow", delayMs: 500 } });
      assert.equal(res.status, 200);
      assert.equal((await readAll(res)).error, null);
    } finally {
      await front.close();
    }
  });
});

for (const fault of ["stall", "reset", "wrong-digest"] as const) {
  Deno.test(`forward() cuts the consumer's stream when the provider's body goes wrong (${fault})`, async () => {
    await withDemo(async (demo) => {
      const front = startFront(provider("kba-zfzr", demo.endpoint("kba-zfzr")), {
        // Only the stall needs the idle timeout; it is the only transfer on this front.
        limits: fault === "stall" ? SHORT : LIMITS,
      });
      try {
        const size = 4 * 1024 * 1024;
        const res = await post(front.url, { demo: { bytes: size, fault } });
        assert.equal(res.status, 200);
        const read = await readAll(res);
        assert.ok(read.error !== null, "the consumer must see an error, not a clean end");
        assert.ok(read.bytes < size);
        const summary = await front.summaries[0]!;
        assert.equal(summary.outcome, "failed");
        assert.ok(summary.reason !== undefined);
      } finally {
        await front.close();
      }
    });
  });
}

Deno.test("forward() cuts a chunked answer without Content-Length whose digest is wrong", async () => {
  const body = new TextEncoder().encode("x".repeat(100_000));
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () =>
      new Response(ReadableStream.from([body.subarray(0, 50_000), body.subarray(50_000)]), {
        headers: { "repr-digest": formatDigest("sha-256", sha256Base64("something else")) },
      }),
  );
  const front = startFront(provider("p", `http://127.0.0.1:${upstream.addr.port}/`));
  try {
    const res = await post(front.url, {});
    assert.equal(res.headers.get("content-length"), null);
    const read = await readAll(res);
    assert.ok(read.error !== null);
    assert.ok(read.bytes < body.length);
  } finally {
    await front.close();
    await upstream.shutdown();
  }
});

for (const [fault, status] of [["status-4xx", 404], ["status-5xx", 503]] as const) {
  Deno.test(`forward() passes the provider's error status through (${fault})`, async () => {
    await withDemo(async (demo) => {
      const front = startFront(provider("kba-zfzr", demo.endpoint("kba-zfzr")));
      try {
        const res = await post(front.url, { demo: { fault } });
        assert.equal(res.status, status);
        assert.equal(res.headers.get("content-type"), "application/problem+json");
        assert.equal((await res.json()).status, status);
        assert.equal((await front.summaries[0]!).status, status);
      } finally {
        await front.close();
      }
    });
  });
}

// A provider that records whether it received a request and whether its body arrived whole.
function recordingUpstream() {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push("request");
    try {
      const body = await req.arrayBuffer();
      seen.push(`complete:${body.byteLength}`);
    } catch {
      seen.push("error");
    }
    return Response.json({});
  });
  return {
    seen,
    endpoint: `http://127.0.0.1:${server.addr.port}/`,
    close: () => server.shutdown(),
  };
}

/**
 * Waits until forward() is done with the transfer and every request that reached the
 * upstream has ended its read of the body (completely or with an error). Whether the request
 * reached the provider at all depends on whether the connection was up before the limit or
 * the digest stopped the body; what must hold either way is that no body arrived complete.
 */
async function upstreamSettled(front: Front, upstream: { seen: string[] }): Promise<void> {
  await front.summaries[0];
  await waitFor(
    () =>
      upstream.seen.filter((s) => s === "request").length ===
        upstream.seen.filter((s) => s === "error" || s.startsWith("complete")).length,
    "the provider's reads of the body to end",
  );
}

Deno.test("forward() answers 413 to a streamed oversize body and the provider gets no complete body", async () => {
  const upstream = recordingUpstream();
  const front = startFront(provider("p", upstream.endpoint));
  try {
    const chunk = new Uint8Array(16 * 1024).fill(120);
    const res = await fetch(front.url, {
      method: "POST",
      body: ReadableStream.from(Array.from({ length: 12 }, () => chunk)),
      headers: { "content-type": "application/octet-stream" },
    });
    assert.equal(res.status, 413);
    assert.equal((await res.json()).type, "payload-too-large");
    await upstreamSettled(front, upstream);
    assert.ok(!upstream.seen.some((s) => s.startsWith("complete")), upstream.seen.join());
  } finally {
    await front.close();
    await upstream.close();
  }
});

Deno.test("forward() answers 413 to an announced Content-Length over the limit without calling the provider", async () => {
  const upstream = recordingUpstream();
  const front = startFront(provider("p", upstream.endpoint));
  try {
    const res = await fetch(front.url, {
      method: "POST",
      body: new Uint8Array(LIMITS.maxRequestBytes + 1),
    });
    assert.equal(res.status, 413);
    await res.body?.cancel();
    assert.deepEqual(upstream.seen, []);
  } finally {
    await front.close();
    await upstream.close();
  }
});

Deno.test("forward() answers 400 when the request body does not match its Repr-Digest", async () => {
  const upstream = recordingUpstream();
  const front = startFront(provider("p", upstream.endpoint));
  try {
    const res = await post(front.url, { a: 1 }, {
      "repr-digest": formatDigest("sha-256", sha256Base64("other")),
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).type, "invalid-request");
    await upstreamSettled(front, upstream);
    assert.ok(!upstream.seen.some((s) => s.startsWith("complete")), upstream.seen.join());
  } finally {
    await front.close();
    await upstream.close();
  }
});

Deno.test("forward() cancels the provider's stream when the consumer stops reading", async () => {
  let cancelled!: () => void;
  const providerCancelled = new Promise<void>((resolve) => cancelled = resolve);
  const chunk = new Uint8Array(64 * 1024);
  const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
    new Response(
      new ReadableStream<Uint8Array>({
        pull: (c) => c.enqueue(chunk),
        cancel: () => cancelled(),
      }, { highWaterMark: 0 }),
    ));
  const front = startFront(provider("p", `http://127.0.0.1:${upstream.addr.port}/`));
  try {
    const res = await post(front.url, {});
    const reader = res.body!.getReader();
    for (let i = 0; i < 4; i++) await reader.read();
    await reader.cancel();
    // The event itself; the test runner's own limit catches a cancel that never comes.
    await providerCancelled;
    const summary = await front.summaries[0]!;
    assert.equal(summary.outcome, "failed");
  } finally {
    await front.close();
    await upstream.shutdown();
  }
});

Deno.test("forward() abandons the provider request when the consumer hangs up before the headers", async () => {
  let gone!: () => void;
  const providerSawAbort = new Promise<void>((resolve) => gone = resolve);
  let arrived!: () => void;
  const requestArrived = new Promise<void>((resolve) => arrived = resolve);
  const upstream = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    arrived();
    return new Promise<Response>((resolve) =>
      req.signal.addEventListener("abort", () => {
        gone();
        resolve(new Response(null, { status: 503 }));
      })
    );
  });
  const front = startFront(provider("p", `http://127.0.0.1:${upstream.addr.port}/`), {
    limits: { ...LIMITS, providerTimeoutMs: 10_000 },
  });
  try {
    const consumer = new AbortController();
    const pending = post(front.url, {}, {}, consumer.signal).catch(() => "aborted");
    await requestArrived;
    consumer.abort();
    assert.equal(await pending, "aborted");
    await providerSawAbort;
    assert.equal((await front.summaries[0]!).status, 499);
  } finally {
    await front.close();
    await upstream.shutdown();
  }
});

Deno.test("ProviderClients reuses one client per provider and closes it when the CA changes", () => {
  const made: { caCerts: string[]; closed: boolean; close(): void }[] = [];
  const clients = new ProviderClients({
    createClient(caCerts) {
      const client = {
        caCerts,
        closed: false,
        close() {
          this.closed = true;
        },
      };
      made.push(client);
      return client as unknown as Deno.HttpClient;
    },
  });
  const a = provider("a", "https://a.example/", "PEM-A");
  // Providers on the system roots share one client.
  const shared = clients.get(provider("none", "https://n.example/"));
  assert.equal(clients.get(provider("none-2", "https://m.example/")), shared);
  const first = clients.get(a);
  assert.equal(clients.get(a), first);
  assert.notEqual(clients.get(provider("b", "https://b.example/", "PEM-A")), first);
  const second = clients.get({ ...a, caCert: "PEM-A2" });
  assert.notEqual(second, first);
  assert.deepEqual(made.map((c) => [c.caCerts[0] ?? "system roots", c.closed]), [
    ["system roots", false],
    ["PEM-A", true],
    ["PEM-A", false],
    ["PEM-A2", false],
  ]);
  clients.close();
  assert.ok(made.every((c) => c.closed));
});

Deno.test("the demo provider refuses missing, forged, expired and misaddressed tokens", async () => {
  await withDemo(async (demo) => {
    const url = demo.endpoint("kba-zfzr");
    const other = await generateKeyPair("ES256");
    const forged = await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "test" })
      .setAudience("kba-zfzr").setExpirationTime("5m").sign(other.privateKey);
    const cases: [string | null, number][] = [
      [null, 401],
      [forged, 401],
      [await token("kba-zfzr", {}, "-1m"), 401],
      [await token("other-provider"), 403],
      [await token("kba-zfzr", { evidence_type: "meldebescheinigung" }), 403],
      [await token("kba-zfzr"), 200],
    ];
    for (const [jwt, status] of cases) {
      const res = await post(url, {}, {
        "lotse-evidence-type": "fahrzeugzulassung",
        ...(jwt === null ? {} : { authorization: `Bearer ${jwt}` }),
      });
      assert.equal(res.status, status, jwt ?? "no token");
      await res.body?.cancel();
    }
  });
});

Deno.test("the demo provider checks req_digest against Repr-Digest and the body", async () => {
  await withDemo(async (demo) => {
    const url = demo.endpoint("hr-stuttgart");
    const body = JSON.stringify({ firma: "Neckar Software GmbH" });
    const digest = formatDigest("sha-256", sha256Base64(body));
    const jwt = await token("hr-stuttgart", {
      evidence_type: "handelsregisterauszug",
      req_digest: digest,
    });
    const send = (payload: string, reprDigest: string) =>
      fetch(url, {
        method: "POST",
        body: payload,
        headers: {
          authorization: `Bearer ${jwt}`,
          "lotse-evidence-type": "handelsregisterauszug",
          "repr-digest": reprDigest,
        },
      });
    const ok = await send(body, digest);
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).firma, "Neckar Software GmbH");
    const tampered = await send(body.replace("Neckar", "Rhein"), digest);
    assert.equal(tampered.status, 403);
    await tampered.body?.cancel();
    const otherHeader = await send(body, formatDigest("sha-256", sha256Base64("x")));
    assert.equal(otherHeader.status, 403);
    await otherHeader.body?.cancel();
  });
});
