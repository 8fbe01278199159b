/**
 * The reference servers P1 is measured against: `Deno.serve` answering every request with a
 * small JSON body, directly or through a minimal Hono app. Nothing else, so the difference
 * to Lotse is what Lotse does per request.
 *
 * `--shaped` is the second reference: the runtime's own cost of the I/O Lotse's navigation
 * answer has, with none of Lotse's decisions. It reads what Lotse's edge reads (method, target,
 * every header field, the peer address) and answers with the same header fields (Content-Type,
 * the four security fields, `RateLimit-Policy`, `RateLimit`) and a body of the same size, and
 * writes one JSON log line per request, batched per event-loop turn as Lotse's logger does.
 * Lotse over it is what Lotse's own JavaScript costs; it over bare is what the answer's shape
 * costs in Deno (a Response with more than one header field leaves Deno's fastest path).
 *
 * `--shaped-authorization` is the same for `POST /v1/authorizations` (P10): it also reads the
 * JSON body whole and parses it, and answers 201 with `Cache-Control` added and a body the size of
 * an evidence token's. Lotse over it is what deciding, sealing and recording cost.
 *
 * `--forward <upstream> --ca <file>` forwards every request to `<upstream>` + its path over HTTPS,
 * trusting the CA in `<file>`, and hands the answer's body back as the runtime's own stream
 * (`new Response(upstream.body)`: Rust to Rust, no JavaScript per chunk). It is P4's reference
 * where nginx is not installed (the regression guard, loadtest/guard.ts), and beside nginx the
 * first of P4's same-shape references (`bench:load evidence`).
 *
 * `--each-chunk` makes it the second: the body goes through JavaScript a chunk at a time, built
 * as Lotse's is (a `fetch` body read into a fresh buffer per read by a pull source, as
 * src/_streams.ts reads it, with a minor collection every 8 MiB where `gc()` is exposed, as
 * `deno task serve`'s V8 flags expose it), counting the bytes and passing a break on. That is
 * what Lotse's record of a delivered or failed body needs at the least; it has no stall timer.
 * `--sha256` makes it the third: it also checks the provider's `Repr-Digest` (SHA-256 by
 * `node:crypto` over every chunk, the newest chunk held back until the digest is confirmed, a
 * mismatch cuts the body), as Lotse checks one. None of Lotse's decisions: Lotse over these is
 * what its own work per chunk costs. Every forwarded answer says its mode in `x-forwarder-mode`.
 *
 * `deno run --allow-net loadtest/bare_server.ts [port] [--hono | --shaped | --shaped-authorization]`
 * `deno run --allow-net --allow-read loadtest/bare_server.ts port --forward <upstream> --ca <file>
 *   [--each-chunk [--sha256]]`
 *
 * @module
 */
import { Hono } from "hono";
import { LineBatch } from "../src/log.ts";
import { rateLimitValue } from "../src/rate_limit.ts";

const port = Number(Deno.args.find((a) => /^\d+$/.test(a)) ?? 8090);
const body = { status: "ok", region: { ags: "08111000", name: "Stuttgart" } };

/** A navigation answer of the generated tables, as Lotse sends it (283 bytes). */
const NAVIGATION_BODY = JSON.stringify({
  evidenceType: "fahrzeugzulassung",
  region: { ags: "08111000", ars: "081110000000", name: "Stuttgart, Landeshauptstadt" },
  provider: {
    id: "zulassung-stuttgart",
    name: "Zulassungsbehörde Stuttgart",
    endpoint: "https://zulassung.stuttgart.example/evidence",
  },
  matchedLevel: "gemeinde",
});
// Lotse's fields over HTTP with every quota on (loadtest/_harness.ts starts it so).
const POLICY = '"token";q=1000000000;w=60, "address";q=1000000000;w=60, ' +
  '"client";q=1000000000;w=60';

/** An answer of `POST /v1/authorizations` for the pilot's claims, as long as Lotse's (ES256). */
const AUTHORIZATION_BODY = JSON.stringify({
  token: `${"h".repeat(126)}.${"p".repeat(400)}.${"s".repeat(86)}`,
  expiresAt: "2026-11-29T10:00:00.000Z",
  jti: "0b6f3c1e-5d2a-4e7b-9c8d-1a2b3c4d5e6f",
});

const CREATED = { status: 201, headers: { "content-type": "application/json" } };
const OK = { headers: { "content-type": "application/json" } };
const UTF8 = new TextDecoder();

function shaped(kind: "navigation" | "authorization"): Deno.ServeHandler<Deno.NetAddr> {
  const lines = new LineBatch({
    writeSync: (bytes) => Deno.stdout.writeSync(bytes),
    schedule: (flush) => Deno.unrefTimer(setTimeout(flush, 0)),
  });
  let remaining = 1_000_000_000;
  let lastMs = NaN;
  let iso = "";
  const route = kind === "navigation" ? "GET /v1/navigation" : "POST /v1/authorizations";
  // The fields and the log line of either answer; the navigation answer stays synchronous.
  const answer = (
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
    response: Response,
    start: number,
  ) => {
    let bytes = 0;
    let authorization = null as string | null;
    request.headers.forEach((value, name) => {
      bytes += name.length + value.length;
      if (name === "authorization") authorization = value;
    });
    const address = info.remoteAddr.hostname;
    const url = request.url;
    const headers = response.headers;
    headers.set("x-content-type-options", "nosniff");
    headers.set("x-frame-options", "DENY");
    headers.set("referrer-policy", "no-referrer");
    headers.set("cross-origin-resource-policy", "same-origin");
    headers.set("ratelimit-policy", POLICY);
    // Written as Lotse writes it (the count outside V8's number-string cache).
    headers.set(
      "ratelimit",
      rateLimitValue({
        quota: "address",
        allowed: true,
        limit: 1_000_000_000,
        remaining: --remaining,
        resetSeconds: 60,
      }),
    );
    const now = Date.now();
    if (now !== lastMs) iso = new Date(lastMs = now).toISOString();
    lines.push(
      `{"time":"${iso}","level":"info","msg":"request","method":"${request.method}","route":"${route}","status":${response.status},"durationMs":${
        Math.round((performance.now() - start) * 1000) / 1000
      },"clientId":"stuttgart-bewohnerparken","transferId":null,"requestId":null,"traceparent":null,"bytes":${bytes},"url":${url.length},"address":${address.length},"authorized":${
        authorization !== null
      }}`,
      false,
    );
    return response;
  };
  if (kind === "navigation") {
    return (request, info) =>
      answer(request, info, new Response(NAVIGATION_BODY, OK), performance.now());
  }
  return async (request, info) => {
    // The harness's readiness probe.
    if (request.method !== "POST") return new Response("ready");
    const start = performance.now();
    JSON.parse(UTF8.decode(await request.bytes()));
    const response = new Response(AUTHORIZATION_BODY, CREATED);
    response.headers.set("cache-control", "no-store");
    return answer(request, info, response, start);
  };
}

/** The value after `--name` on the command line. */
function option(name: string): string | undefined {
  const at = Deno.args.indexOf(`--${name}`);
  return at < 0 ? undefined : Deno.args[at + 1];
}

// The chunks handed on are freed by a minor collection after this many bytes, not when the young
// generation fills with their small heap objects (src/_streams.ts, `YOUNG_COLLECTION_BYTES`).
const YOUNG_BYTES = 8 * 1024 * 1024;
let collect = (globalThis as { gc?: (options: { type: "minor"; execution: "sync" }) => void })
  .gc;

type ForwardMode = "runtime" | "each-chunk" | "each-chunk-sha256";

/** A running SHA-256 and the base64 digest it must come to (null: the provider sent none). */
interface DigestCheck {
  readonly hash: ReturnType<typeof import("../crypto/digest.ts").createSha256>;
  readonly expected: string | null;
}

/**
 * The provider's body a chunk at a time through JavaScript: a pull source (no TransformStream)
 * that reads each TLS record into a fresh 16 KiB buffer (a read over TLS never brings more;
 * src/_streams.ts settles at the same size) and hands it on, counting; with a digest to check,
 * it hashes every chunk and holds the newest back until the digest is confirmed.
 */
function eachChunk(
  body: ReadableStream<Uint8Array>,
  check: DigestCheck | null,
): ReadableStream<Uint8Array> {
  const reader = body.getReader({ mode: "byob" });
  let bytes = 0;
  let collectAt = YOUNG_BYTES;
  let held: Uint8Array | null = null;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const { done, value } = await reader.read(new Uint8Array(new ArrayBuffer(16 * 1024)));
        if (done || value === undefined) {
          if (check !== null) {
            const actual = check.hash.digest("base64");
            if (check.expected !== null && actual !== check.expected) {
              controller.error(new Error(`${bytes} bytes do not match their Repr-Digest`));
              return;
            }
            if (held !== null) controller.enqueue(held);
          }
          controller.close();
          return;
        }
        bytes += value.byteLength;
        if (bytes >= collectAt) {
          collectAt += YOUNG_BYTES;
          try {
            collect?.({ type: "minor", execution: "sync" });
          } catch {
            collect = undefined;
          }
        }
        if (check === null) return controller.enqueue(value);
        check.hash.update(value);
        const previous = held;
        held = value;
        if (previous !== null) return controller.enqueue(previous);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

async function forward(
  upstream: string,
  caFile: string,
  mode: ForwardMode,
): Promise<Deno.ServeHandler<Deno.NetAddr>> {
  const client = Deno.createHttpClient({ caCerts: [Deno.readTextFileSync(caFile)], http2: false });
  // Only the hashing forwarder loads Lotse's digest code, and with it Deno's Node layer: the
  // other references start without it.
  const digests = mode === "each-chunk-sha256" ? await import("../crypto/digest.ts") : null;
  return async (request) => {
    const url = new URL(request.url);
    // The harness's readiness probe.
    if (url.pathname === "/") return new Response("ready");
    const headers = new Headers(request.headers);
    headers.delete("host");
    const answer = await fetch(`${upstream}${url.pathname}${url.search}`, {
      method: request.method,
      headers,
      body: request.body,
      client,
    });
    const check = digests === null ? null : {
      hash: digests.createSha256(),
      expected: digests.sha256FromDigest(answer.headers.get("repr-digest")),
    };
    const body = answer.body === null || mode === "runtime"
      ? answer.body
      : eachChunk(answer.body, check);
    const out = new Headers(answer.headers);
    out.set("x-forwarder-mode", mode);
    return new Response(body, { status: answer.status, headers: out });
  };
}

let handler: Deno.ServeHandler<Deno.NetAddr>;
const upstream = option("forward");
if (upstream !== undefined) {
  const mode: ForwardMode = !Deno.args.includes("--each-chunk")
    ? "runtime"
    : Deno.args.includes("--sha256")
    ? "each-chunk-sha256"
    : "each-chunk";
  handler = await forward(upstream, option("ca") ?? "", mode);
} else if (Deno.args.includes("--hono")) {
  const app = new Hono();
  app.get("*", (c) => c.json(body));
  handler = app.fetch;
} else if (Deno.args.includes("--shaped")) {
  handler = shaped("navigation");
} else if (Deno.args.includes("--shaped-authorization")) {
  handler = shaped("authorization");
} else {
  handler = () => Response.json(body);
}

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handler);
