/**
 * Issue 10's findings that an in-process instance shows (the connection-level ones are in
 * connections_test.ts, the evidence-path ones in evidence_api_test.ts): bounded metrics,
 * CSV import headers, admin input, imports, rate limits and HTTP edges.
 */
import assert from "node:assert/strict";
import { bearer, startTestLotse } from "./_app.ts";
import { untilClientRefused } from "./_quota.ts";

Deno.test("Invented methods and paths do not add series to /metrics", async () => {
  const lotse = await startTestLotse();
  try {
    const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (let i = 0; i < 300; i++) {
      let method = "";
      for (let j = 0; j < 40; j++) method += letters[(i * 7 + j * 13) % 26];
      const res = await lotse.fetch(`/x${i}/${method.toLowerCase()}`, { method: `M${i}${method}` });
      await res.body?.cancel();
    }
    const text = await (await lotse.fetch("/metrics")).text();
    const routes = new Set(
      [...text.matchAll(/^lotse_http_requests_total\{route="([^"]*)"/gm)].map((m) => m[1]),
    );
    assert.ok(routes.has("OTHER unmatched"), [...routes].join(", "));
    assert.ok(routes.size < 10, `route labels: ${[...routes].join(", ")}`);
    assert.ok(text.length < 20_000, `/metrics is ${text.length} bytes`);
  } finally {
    await lotse.close();
  }
});

const ADMIN = "test-admin-token-of-at-least-32-characters";

Deno.test("A malformed CSV import header is a 400 problem, not a 500", async () => {
  const lotse = await startTestLotse();
  try {
    for (const header of ["name,ars", "ags,name"]) {
      const res = await lotse.fetch("/admin/v1/imports/regions", {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN}`, "content-type": "text/csv" },
        body: `${header}\n08111000,Stuttgart\n`,
      });
      assert.equal(res.status, 400, header);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      assert.equal((await res.json()).type, "https://lotse.dev/problems/invalid-request");
    }
  } finally {
    await lotse.close();
  }
});

Deno.test("A malformed import that never ends is refused once the error report is full", async () => {
  // In-process: `sent` must count what the server read; over a socket it would count what the
  // client's fetch pulled into the connection, which goes on while the answer is under way.
  const lotse = await startTestLotse({ serve: false });
  try {
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent++;
        controller.enqueue(new TextEncoder().encode("{not json}\n".repeat(100)));
      },
    });
    const res = await lotse.fetch("/admin/v1/imports/regions", {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/x-ndjson" },
      body: endless,
    });
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.equal(body.errors.length, 100);
    assert.ok(sent < 100, `read ${sent} chunks of an endless body`);
  } finally {
    await lotse.close();
  }
});

Deno.test("Data management refuses dangerous provider endpoints, client keys and CA certificates", async () => {
  const lotse = await startTestLotse({ env: { LOTSE_DEMO: "0" } });
  const put = (path: string, body: unknown) =>
    lotse.fetch(`/admin/v1/${path}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  try {
    for (
      const endpoint of [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/",
        "https://localhost:22/",
        "http://127.0.0.1:8081/",
        "https://register.example/api?token=abc",
        "https://user:pw@register.example/",
      ]
    ) {
      const res = await put("providers/evil", { name: "Evil", endpoint });
      assert.equal(res.status, 400, endpoint);
      await res.body?.cancel();
    }
    const ok = await put("providers/good", {
      name: "Good",
      endpoint: "https://register.example/api",
    });
    assert.equal(ok.status, 201);
    await ok.body?.cancel();

    const garbageCa = await put("providers/good", {
      name: "Good",
      endpoint: "https://register.example/api",
      caCert: "-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n",
    });
    assert.equal(garbageCa.status, 400);
    assert.match((await garbageCa.json()).detail, /caCert/);

    const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ]);
    const privateJwk = await crypto.subtle.exportKey("jwk", ec.privateKey);
    const { d: _d, ...publicJwk } = privateJwk;
    const offCurve = { ...publicJwk, y: publicJwk.x };
    for (
      const [what, key] of [
        ["symmetric", { kty: "oct", k: "c2VjcmV0" }],
        ["private", privateJwk],
        ["off-curve", offCurve],
        ["RSA", { kty: "RSA", n: "AQAB", e: "AQAB" }],
      ] as const
    ) {
      const res = await put("clients/evil", {
        name: "Evil",
        roles: ["consumer"],
        jwks: { keys: [key] },
      });
      assert.equal(res.status, 400, what);
      await res.body?.cancel();
    }
    const client = await put("clients/good", {
      name: "Good",
      roles: ["consumer"],
      jwks: { keys: [publicJwk] },
    });
    assert.equal(client.status, 201);
    await client.body?.cancel();

    // A dangling reference is a 400 that names the field, not the database's message.
    const route = await put("routes/dangling", {
      evidenceType: "nope",
      regionKey: "",
      providerId: "good",
    });
    assert.equal(route.status, 400);
    const detail = (await route.json()).detail as string;
    assert.doesNotMatch(detail, /Key \(|violates|table "/);
  } finally {
    await lotse.close();
  }
});

Deno.test("A request body that never ends is answered 408 once its deadline passes", async () => {
  const lotse = await startTestLotse({ serve: true, env: { LOTSE_BODY_TIMEOUT_MS: "500" } });
  const token = await lotse.token("stuttgart-bewohnerparken");
  const { port } = new URL(lotse.base);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
  const encoder = new TextEncoder();
  let sending = true;
  try {
    await conn.write(encoder.encode(
      `POST /v1/authorizations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n",
    ));
    const trickle = (async () => {
      while (sending) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        await conn.write(encoder.encode("1\r\n \r\n")).catch(() => sending = false);
      }
    })();
    const buffer = new Uint8Array(4096);
    const n = await conn.read(buffer);
    sending = false;
    await trickle;
    const head = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
    assert.match(head, /^HTTP\/1\.1 408 /);
    assert.match(head, /application\/problem\+json/);
  } finally {
    sending = false;
    conn.close();
    await lotse.close();
  }
});

Deno.test("Rate limits answer 429 with Retry-After and RateLimit fields; off in demo mode", async () => {
  const limited = await startTestLotse({ env: { LOTSE_RATE_LIMIT_TOKEN: "5" } });
  const open = await startTestLotse();
  const badToken = (lotse: typeof open) =>
    lotse.fetch("/v1/token", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials&client_id=stuttgart-bewohnerparken" +
        "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer" +
        "&client_assertion=x.y.z",
    });
  try {
    const statuses: number[] = [];
    let last: Response | null = null;
    for (let i = 0; i < 8; i++) {
      last = await badToken(limited);
      statuses.push(last.status);
      if (i < 7) await last.body?.cancel();
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
    assert.match(last!.headers.get("retry-after") ?? "", /^\d+$/);
    assert.match(last!.headers.get("ratelimit-policy") ?? "", /"token";q=5;w=60/);
    assert.match(last!.headers.get("ratelimit") ?? "", /^"token";r=0;t=\d+$/);
    assert.equal((await last!.json()).status, 429);

    for (let i = 0; i < 8; i++) {
      const res = await badToken(open);
      assert.equal(res.status, 401);
      assert.equal(res.headers.get("ratelimit"), null);
      await res.body?.cancel();
    }
  } finally {
    await limited.close();
    await open.close();
  }
});

Deno.test("The client quota counts navigation answered by the fast path, with every header", async () => {
  const lotse = await startTestLotse({ env: { LOTSE_RATE_LIMIT_CLIENT: "3" } });
  try {
    const token = await lotse.token("stuttgart-bewohnerparken");
    const served = await untilClientRefused(() =>
      lotse.fetch("/v1/navigation?evidenceType=fahrzeugzulassung&ags=08111000", {
        headers: bearer(token),
      })
    );
    for (const res of served) {
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/json");
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      assert.equal(res.headers.get("x-frame-options"), "DENY");
    }
  } finally {
    await lotse.close();
  }
});

/** Sends raw bytes and returns the status line, headers and body text of the answer. */
async function raw(
  port: number,
  request: string,
): Promise<{ status: number; head: string; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const bytes = new TextEncoder().encode(request);
    let written = 0;
    while (written < bytes.length) written += await conn.write(bytes.subarray(written));
    let text = "";
    const buffer = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
      const end = text.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      if (end !== -1 && length !== undefined && text.length >= end + 4 + Number(length)) break;
    }
    const end = text.indexOf("\r\n\r\n");
    return {
      status: Number(text.slice(9, 12)),
      head: text.slice(0, end),
      body: text.slice(end + 4),
    };
  } finally {
    conn.close();
  }
}

Deno.test("HTTP edges: no Host, unknown transfer codings, long targets and headers, repeated parameters", async () => {
  const lotse = await startTestLotse({ serve: true });
  const port = Number(new URL(lotse.base).port);
  const token = await lotse.token("stuttgart-bewohnerparken");
  const problem = (answer: { head: string; body: string }, type: string) => {
    assert.match(answer.head, /content-type: application\/problem\+json/i);
    assert.equal(JSON.parse(answer.body).type, `https://lotse.dev/problems/${type}`);
  };
  try {
    const noHost = await raw(port, "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert.equal(noHost.status, 400);
    problem(noHost, "invalid-request");

    const gzip = await raw(
      port,
      `POST /v1/authorizations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
        "Content-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n" +
        "Connection: close\r\n\r\n0\r\n\r\n",
    );
    assert.equal(gzip.status, 501);
    problem(gzip, "not-implemented");

    const long = await raw(
      port,
      `GET /v1/regions?q=${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(long.status, 414);
    problem(long, "uri-too-long");

    const big = await raw(
      port,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${
        "a".repeat(40_000)
      }\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(big.status, 431);
    problem(big, "request-header-fields-too-large");

    const many = await raw(
      port,
      "GET /healthz HTTP/1.1\r\nHost: x\r\n" +
        Array.from({ length: 80 }, (_, i) => `X-F${i}: v\r\n`).join("") +
        "Connection: close\r\n\r\n",
    );
    assert.equal(many.status, 431);

    const repeated = await raw(
      port,
      "GET /v1/navigation?evidenceType=fahrzeugzulassung&ags=08111000&ags=09162000 HTTP/1.1\r\n" +
        `Host: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(repeated.status, 400);
    problem(repeated, "invalid-request");
    assert.match(JSON.parse(repeated.body).detail, /"ags" is repeated/);
  } finally {
    await lotse.close();
  }
});

Deno.test("A wildcard permission reaches only a provider responsible for the evidence type", async () => {
  const lotse = await startTestLotse();
  const token = await lotse.token("service-bw-gewerbe");
  const gewerbe = { purpose: "gewerbeanmeldung", legalBasis: "§ 14 GewO" };
  try {
    // KBA keeps vehicle data; it has no route for trade-register extracts.
    const evidence = await lotse.fetch(
      "/v1/evidence/gewerberegisterauszug?providerId=kba-zfzr",
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "lotse-purpose": gewerbe.purpose,
          "lotse-legal-basis": gewerbe.legalBasis,
          "lotse-idnr": "86095742719",
          "content-type": "application/json",
        },
        body: "{}",
      },
    );
    assert.equal(evidence.status, 403);
    const refused = await evidence.json();
    assert.equal(refused.type, "https://lotse.dev/problems/not-permitted");
    assert.match(refused.detail, /not responsible/);
    // The refusal is recorded like every decision, and nothing reached KBA.
    const id = evidence.headers.get("lotse-transfer-id")!;
    const record = await lotse.fetch(`/v1/transfers/${id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal((await record.json()).outcome, "refused");

    const sealed = await lotse.fetch("/v1/authorizations", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        evidenceType: "gewerberegisterauszug",
        providerId: "kba-zfzr",
        ...gewerbe,
        idnrUsed: true,
      }),
    });
    assert.equal(sealed.status, 403);
    await sealed.body?.cancel();

    // The responsible register is still reachable by name.
    const allowed = await lotse.fetch("/v1/authorizations", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        evidenceType: "gewerberegisterauszug",
        providerId: "gewerberegister-08111000",
        ...gewerbe,
        idnrUsed: true,
      }),
    });
    assert.equal(allowed.status, 201);
    await allowed.body?.cancel();
  } finally {
    await lotse.close();
  }
});

/** Opens an evidence transfer of `bytes` generated bytes over a raw socket and reads its head only. */
async function stalledTransfer(
  port: number,
  token: string,
  bytes: number,
): Promise<{ conn: Deno.Conn; head: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const body = JSON.stringify({ demo: { bytes } });
  await conn.write(new TextEncoder().encode(
    "POST /v1/evidence/fahrzeugzulassung?plz=70173 HTTP/1.1\r\nHost: x\r\n" +
      `Authorization: Bearer ${token}\r\nLotse-Purpose: bewohnerparkausweis\r\n` +
      "Lotse-Legal-Basis: § 45 Abs. 1b Satz 1 Nr. 2a StVO\r\nContent-Type: application/json\r\n" +
      `Content-Length: ${new TextEncoder().encode(body).length}\r\n\r\n${body}`,
  ));
  const buffer = new Uint8Array(1024);
  const n = await conn.read(buffer);
  return { conn, head: new TextDecoder().decode(buffer.subarray(0, n ?? 0)) };
}

Deno.test("A consumer that stops reading is cut off, the provider released and the transfer failed", async () => {
  const lotse = await startTestLotse({
    serve: true,
    env: { LOTSE_CONSUMER_IDLE_TIMEOUT_MS: "300" },
  });
  const port = Number(new URL(lotse.base).port);
  const token = await lotse.token("stuttgart-bewohnerparken");
  const { conn, head } = await stalledTransfer(port, token, 500_000_000);
  try {
    assert.match(head, /^HTTP\/1\.1 200 /);
    const id = /lotse-transfer-id: ([0-9a-f-]+)/i.exec(head)![1]!;
    // The record says failed once the consumer was cut (poll the event, bounded).
    const deadline = performance.now() + 15_000;
    // (Until the decision reaches the database the record may not be found yet.)
    let record: { outcome?: string } = {};
    while (performance.now() < deadline && record.outcome !== "failed") {
      const res = await lotse.fetch(`/v1/transfers/${id}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      record = await res.json();
      if (record.outcome !== "failed") await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(record.outcome, "failed");
    // The connection was cut: what is left to read ends long before 500 MB.
    let received = 0;
    const buffer = new Uint8Array(65536);
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        received += n;
      }
    } catch { /* reset */ }
    assert.ok(received < 100_000_000, `read ${received} bytes after the cut`);
  } finally {
    conn.close();
    await lotse.close();
  }
});

Deno.test("Concurrent transfers past a consumer's cap are answered 429 with Retry-After", async () => {
  const lotse = await startTestLotse({
    serve: true,
    env: { LOTSE_MAX_TRANSFERS_PER_CONSUMER: "1" },
  });
  const port = Number(new URL(lotse.base).port);
  const token = await lotse.token("stuttgart-bewohnerparken");
  const first = await stalledTransfer(port, token, 500_000_000);
  try {
    assert.match(first.head, /^HTTP\/1\.1 200 /);
    const second = await stalledTransfer(port, token, 10);
    second.conn.close();
    assert.match(second.head, /^HTTP\/1\.1 429 /);
    assert.match(second.head, /retry-after: \d+/i);
  } finally {
    first.conn.close();
    await lotse.close();
  }
});
