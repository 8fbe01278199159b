/**
 * R1: generated malformed requests against one served instance (real socket) — query
 * parameters, headers, bodies, tokens, paths and methods on every route. No answer may be
 * a 5xx, every error must be problem+json (OAuth JSON on `/v1/token`), no body may carry a
 * stack trace or a secret, and the server must still be healthy at the end.
 *
 * The suite runs R1's four seeds (`SEEDS`), 10,000 requests each. Reproduce one with
 * `LOTSE_FUZZ_SEED=<seed> [LOTSE_FUZZ_COUNT=<n>] deno test -A tests/fuzz_test.ts` (then only
 * that seed runs); the seed is in the test's name and in every failure message.
 *
 * Every request is accounted for: an answer from Lotse is checked; an answer from the HTTP
 * server itself (malformed HTTP, before Lotse sees the request) must be a bare 400 to a raw
 * request; a dropped connection is allowed only for a broken chunked body; no answer at all
 * fails. Lotse's own request metrics must show no 5xx afterwards, so an answer the client
 * never read cannot hide one.
 *
 * Below the fuzz run, one test per bug the fuzzer found (named `BUG-n`), each reduced to
 * the smallest request that shows it.
 */
import assert from "node:assert/strict";
import { bearer, startTestLotse, type TestLotse } from "./_app.ts";
import { describeRequest, type FuzzRequest, generateRequest } from "./_fuzz_requests.ts";
import type { FuzzCredentials } from "./_fuzz_values.ts";
import { parseResponse, requestBytes, sendRaw } from "./_raw_http.ts";
import { Rng } from "../tools/rng.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";
import { parseXml, schemaErrors } from "../src/xnachweis/mod.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";
/** R1's seeds (BENCHMARKS.md); `LOTSE_FUZZ_SEED` replaces them with one. */
const SEEDS = [20_261_122, 1, 777, 4242];
const CONCURRENCY = 32;
const STACK_TRACE = /\n\s+at |\s{4}at |file:\/\/|\.ts:\d+|node_modules|ext:deno/;

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Uint8Array;
}

type Outcome =
  | { kind: "answer"; answer: Answer }
  /** Refused by the HTTP server before Lotse saw it (malformed HTTP; raw requests only). */
  | { kind: "http-layer"; answer: Answer }
  /** The server dropped a connection whose chunked body was broken, without an answer. */
  | { kind: "dropped" }
  | { kind: "no-answer"; reason: string };

function envNumber(name: string, fallback: number): number {
  const raw = Deno.env.get(name);
  return raw === undefined || raw === "" ? fallback : Number(raw);
}

async function viaFetch(base: string, request: FuzzRequest): Promise<Answer | "unsendable"> {
  let init: RequestInit;
  try {
    init = {
      method: request.method,
      headers: new Headers(request.headers.map(([n, v]) => [n, v] as [string, string])),
      body: request.body as BodyInit | null,
      redirect: "manual",
    };
  } catch {
    return "unsendable";
  }
  let response: Response;
  try {
    response = await fetch(`${base}${request.target}`, init);
  } catch (error) {
    // fetch refuses some requests before sending them (header values, methods, URLs).
    if (error instanceof TypeError && !/connection|reset|closed|error sending/i.test(`${error}`)) {
      return "unsendable";
    }
    throw error;
  }
  const body = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, body };
}

const FRAMING = {
  "raw": "content-length",
  "raw-short-body": "short-body",
  "raw-bad-chunked": "bad-chunked",
} as const;

async function send(base: URL, request: FuzzRequest): Promise<Outcome> {
  let transport = request.transport;
  if (transport === "fetch") {
    try {
      const answer = await viaFetch(base.origin, request);
      if (answer !== "unsendable") return { kind: "answer", answer };
    } catch (error) {
      return { kind: "no-answer", reason: `fetch failed: ${error}` };
    }
    transport = "raw";
  }
  const address = { hostname: base.hostname, port: Number(base.port) };
  const raw = await sendRaw(address, requestBytes(request, base.host, FRAMING[transport]), {
    halfClose: transport === "raw-short-body",
    timeoutMs: 10_000,
  });
  if (raw.timedOut) return { kind: "no-answer", reason: "no answer within 10 s" };
  const answer = parseResponse(raw.bytes);
  if (answer === null) {
    return transport === "raw-bad-chunked"
      ? { kind: "dropped" }
      : { kind: "no-answer", reason: `connection closed after ${raw.bytes.length} bytes` };
  }
  // Lotse answers every request it sees with a content type (a HEAD answer too, without its
  // body), but for a 204 (a delete done); the HTTP server's own refusals of malformed HTTP
  // carry neither and are never a 2xx.
  const fromHttpLayer = answer.status >= 400 && !answer.headers.has("content-type") &&
    answer.body.length === 0;
  return fromHttpLayer ? { kind: "http-layer", answer } : { kind: "answer", answer };
}

/** What is wrong with an answer; empty when it is fine. */
function complaints(
  request: FuzzRequest,
  answer: Answer,
  secrets: readonly string[],
): string[] {
  const out: string[] = [];
  const text = new TextDecoder().decode(answer.body);
  if (answer.status >= 500) out.push(`status ${answer.status}`);
  if (STACK_TRACE.test(text)) out.push("body carries a stack trace or a file path");
  for (const secret of secrets) {
    if (text.includes(secret)) out.push("body echoes a secret (admin or access token)");
  }
  if (answer.status < 400) return out;
  const type = answer.headers.get("content-type") ?? "";
  const path = request.target.split("?")[0];
  if (path === "/v1/token" && type === "application/json") {
    if (request.method === "HEAD") return out;
    try {
      const json = JSON.parse(text);
      if (typeof json.error !== "string" || typeof json.error_description !== "string") {
        out.push("OAuth error without error/error_description");
      }
    } catch {
      out.push("OAuth error body is not JSON");
    }
    return out;
  }
  // The XML face's own route, and Lotse's edge on every /xnachweis/ path, answer in 0103.
  const xmlFace = path === "/xnachweis/v1/evidence-requests" && request.method === "POST";
  if (xmlFace || (path?.startsWith("/xnachweis/") && type.startsWith("application/xml"))) {
    return [...out, ...xnachweisFaults(answer)];
  }
  if (type !== "application/problem+json") {
    out.push(`${answer.status} with content-type ${JSON.stringify(type)}`);
    return out;
  }
  if (request.method === "HEAD") return out;
  try {
    const json = JSON.parse(text);
    if (typeof json.type !== "string" || !json.type.startsWith("https://")) out.push("no type");
    if (typeof json.title !== "string") out.push("no title");
    if (json.status !== answer.status) out.push(`status member ${json.status}`);
    if (typeof json.detail !== "string") out.push("no detail");
  } catch {
    out.push("problem body is not JSON");
  }
  return out;
}

/** Runs `work` over `count` items made one at a time by `make`, `concurrency` at once. */
async function pool<T>(
  count: number,
  concurrency: number,
  make: (index: number) => T,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      // Items are made in index order whatever the scheduling, so a seed gives the same run.
      const item = make(next++);
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function credentials(lotse: TestLotse): Promise<FuzzCredentials> {
  return {
    consumer: await lotse.token("stuttgart-bewohnerparken"),
    dsc: await lotse.token("dsc-cockpit"),
    operator: await lotse.token("lotse-operator"),
    provider: await lotse.token("kba-zfzr"),
    admin: ADMIN,
    purpose: DEMO_PURPOSES.bewohnerparken.purpose,
    legalBasis: DEMO_PURPOSES.bewohnerparken.legalBasis,
  };
}

/** Lotse's own count of answers by status class, from `/metrics`. */
async function answeredStatuses(lotse: TestLotse): Promise<Map<string, number>> {
  const text = await (await lotse.fetch("/metrics")).text();
  const out = new Map<string, number>();
  for (
    const [, status, n] of text.matchAll(
      /^lotse_http_requests_total\{[^}]*status="(\d+)"\} (\d+)$/gm,
    )
  ) {
    out.set(status!, (out.get(status!) ?? 0) + Number(n));
  }
  return out;
}

/** The XML face answers every error with a schema-valid 0103 (docs/api.md §3.1). */
function xnachweisFaults(answer: Answer): string[] {
  const type = answer.headers.get("content-type") ?? "";
  if (!type.startsWith("application/xml")) {
    return [`${answer.status} on the XML face with content-type ${JSON.stringify(type)}`];
  }
  let doc;
  try {
    doc = parseXml(answer.body, { maxBytes: 1 << 22 });
  } catch (error) {
    return [`${answer.status} with an unreadable XML body: ${(error as Error).message}`];
  }
  try {
    if (doc.root.name !== "DE.EvidenceErrorResponse.0103") return [`${answer.status}: not a 0103`];
    const errors = schemaErrors(doc);
    return errors.length ? [`${answer.status}: 0103 not schema-valid: ${errors[0]}`] : [];
  } finally {
    doc.dispose();
  }
}

async function fuzzRun(seed: number, count: number): Promise<void> {
  console.log(`fuzz: seed ${seed}, ${count} requests, ${CONCURRENCY} in flight`);
  const lotse = await startTestLotse();
  try {
    const base = new URL(lotse.base);
    const creds = await credentials(lotse);
    const secrets = [creds.admin, creds.consumer, creds.dsc, creds.operator, creds.provider];
    const rng = new Rng(seed);
    const tally = new Map<string, number>();
    const bump = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);
    const failures: { request: FuzzRequest; what: string[]; answer?: Answer }[] = [];
    const started = performance.now();

    await pool(count, CONCURRENCY, (i) => generateRequest(rng, creds, i), async (request) => {
      const outcome = await send(base, request);
      bump(outcome.kind);
      switch (outcome.kind) {
        case "no-answer":
          failures.push({ request, what: [outcome.reason] });
          return;
        case "dropped":
          // Only a broken chunked body may end without an answer (send() returns "dropped"
          // for nothing else); the metrics check below sees what Lotse answered to it.
          return;
        case "http-layer": {
          bump(`http-layer ${outcome.answer.status}`);
          const what: string[] = [];
          if (request.transport === "fetch") what.push("fetch sent malformed HTTP");
          if (outcome.answer.status !== 400) {
            what.push(`HTTP server answered ${outcome.answer.status}, not 400`);
          }
          if (what.length > 0) failures.push({ request, what, answer: outcome.answer });
          return;
        }
        case "answer": {
          bump(`${request.label} ${outcome.answer.status}`);
          if (outcome.answer.headers.has("lotse-provider")) bump("reached the provider");
          const what = complaints(request, outcome.answer, secrets);
          if (what.length > 0) failures.push({ request, what, answer: outcome.answer });
        }
      }
    });

    const seconds = (performance.now() - started) / 1000;
    console.log(
      `fuzz: seed ${seed}: ${count} requests in ${seconds.toFixed(1)} s; outcomes ${
        JSON.stringify(Object.fromEntries([...tally].filter(([k]) => !/ \d{3}$/.test(k))))
      }`,
    );
    console.log(
      `fuzz: seed ${seed}: statuses ${
        JSON.stringify(Object.fromEntries([...tally].filter(([k]) => / \d{3}$/.test(k)).sort()))
      }`,
    );

    // Nothing Lotse answered was a 5xx, including answers no client read.
    const statuses = await answeredStatuses(lotse);
    const fives = [...statuses].filter(([status]) => status.startsWith("5"));
    assert.deepEqual(fives, [], `seed ${seed}: Lotse answered 5xx (from /metrics)`);
    const answered = [...statuses.values()].reduce((a, b) => a + b, 0);
    assert.ok(
      answered >= (tally.get("answer") ?? 0),
      `seed ${seed}: /metrics counts ${answered} answers, the clients read ${tally.get("answer")}`,
    );

    // Still alive and still right: health, a navigation and a transfer.
    const health = await lotse.fetch("/healthz");
    assert.equal(health.status, 200, `seed ${seed}: healthz after the fuzz run`);
    await health.body?.cancel();
    const nav = await lotse.fetch(
      "/v1/navigation?evidenceType=fahrzeugzulassung&ags=08111000",
      { headers: bearer(creds.consumer) },
    );
    assert.equal(nav.status, 200, `seed ${seed}: navigation after the fuzz run`);
    await nav.body?.cancel();

    if (failures.length > 0) {
      // One example per kind of failure, so the report stays readable.
      const seen = new Map<string, (typeof failures)[number]>();
      for (const f of failures) {
        const key = `${f.request.label} via ${f.request.transport}: ${f.what.join("; ")}`;
        if (!seen.has(key)) seen.set(key, f);
      }
      const report = [...seen].slice(0, 25).map(([key, f]) => {
        const body = f.answer ? new TextDecoder().decode(f.answer.body).slice(0, 300) : "";
        return `${key}\n${describeRequest(f.request)}\n  → ${f.answer?.status ?? "-"} ${body}`;
      });
      assert.fail(
        `${failures.length} of ${count} requests failed (replay: LOTSE_FUZZ_SEED=${seed}; ` +
          `${seen.size} kinds):\n\n` + report.join("\n\n"),
      );
    }
  } finally {
    await lotse.close();
  }
}

const fuzzSeed = Deno.env.get("LOTSE_FUZZ_SEED");
for (const seed of fuzzSeed ? [Number(fuzzSeed)] : SEEDS) {
  const count = envNumber("LOTSE_FUZZ_COUNT", 10_000);
  Deno.test({
    name: `R1: ${count} malformed requests (seed ${seed}) get 4xx problems, never a 5xx or a trace`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () => fuzzRun(seed, count),
  });
}

// ---------------------------------------------------------------------------------------
// Bugs the fuzzer found, each reduced to one request. They fail until fixed; see the report.

async function problemOf(res: Response, status: number): Promise<Record<string, unknown>> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${text.slice(0, 300)}`);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  return JSON.parse(text);
}

Deno.test({
  name: "BUG-1: a NUL character in an admin body is a 400, not a 500 from PostgreSQL",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lotse = await startTestLotse();
    try {
      const put = (path: string, body: unknown) =>
        lotse.fetch(`/admin/v1/${path}`, {
          method: "PUT",
          headers: bearer(ADMIN, { "content-type": "application/json" }),
          body: JSON.stringify(body),
        });
      await problemOf(await put("regions/09999001", { name: "Fuzz\u0000hausen" }), 400);
      await problemOf(
        await put("evidence-types/fz-nul", { name: "x", description: "\u0000" }),
        400,
      );
      await problemOf(
        await put("permissions/fz-nul", {
          consumerId: "stuttgart-bewohnerparken",
          evidenceType: "fahrzeugzulassung",
          providerId: null,
          purposes: ["a\u0000b"],
          legalBases: ["x"],
          idnrAllowed: false,
        }),
        400,
      );
    } finally {
      await lotse.close();
    }
  },
});

/** What a bulk import that is not UTF-8 gets, by content type. */
const BUG2_STATUS: Record<string, number> = { "text/csv": 400, "application/x-ndjson": 400 };

Deno.test({
  name: "BUG-2: a bulk import that is not UTF-8 is a 4xx, not a 500",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lotse = await startTestLotse();
    try {
      for (const type of ["text/csv", "application/x-ndjson"]) {
        const res = await lotse.fetch("/admin/v1/imports/regions", {
          method: "POST",
          headers: bearer(ADMIN, { "content-type": type }),
          body: new Uint8Array([0x69, 0x64, 0x0a, 0xff, 0xfe, 0x80, 0x0a]),
        });
        const text = await res.text();
        assert.equal(res.status, BUG2_STATUS[type], `${type}: ${text}`);
        assert.equal(res.headers.get("content-type"), "application/problem+json");
      }
    } finally {
      await lotse.close();
    }
  },
});

Deno.test({
  name: "BUG-3: a body cut short of its Content-Length is a 4xx, not a 500",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lotse = await startTestLotse();
    try {
      const base = new URL(lotse.base);
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      const cases = [
        ["POST", "/v1/authorizations", `authorization: Bearer ${consumer}`, "application/json"],
        ["PUT", "/admin/v1/regions/09999001", `authorization: Bearer ${ADMIN}`, "application/json"],
        ["POST", "/admin/v1/imports/regions", `authorization: Bearer ${ADMIN}`, "text/csv"],
        ["POST", "/v1/token", "x-none: 1", "application/x-www-form-urlencoded"],
      ];
      const seen: string[] = [];
      for (const [method, path, auth, type] of cases) {
        const head = `${method} ${path} HTTP/1.1\r\nhost: ${base.host}\r\n${auth}\r\n` +
          `content-type: ${type}\r\ncontent-length: 100\r\nconnection: close\r\n\r\n{"a":`;
        const raw = await sendRaw(
          { hostname: base.hostname, port: Number(base.port) },
          new TextEncoder().encode(head),
          { halfClose: true, timeoutMs: 5000 },
        );
        const answer = parseResponse(raw.bytes);
        seen.push(`${method} ${path} → ${answer?.status ?? "none"}`);
      }
      // Every cut body gets an answer, and it is a 400.
      assert.deepEqual(seen, cases.map(([method, path]) => `${method} ${path} → 400`));
    } finally {
      await lotse.close();
    }
  },
});

Deno.test({
  name: "BUG-4: a NUL in a purpose is refused at the edge and cannot block the protocol log",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lotse = await startTestLotse();
    try {
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      const transfer = (purpose: string) =>
        lotse.fetch("/v1/evidence/fahrzeugzulassung?ags=08111000", {
          method: "POST",
          headers: bearer(consumer, {
            "content-type": "application/json",
            "lotse-purpose": purpose,
            "lotse-legal-basis": `UTF-8''${
              encodeURIComponent(DEMO_PURPOSES.bewohnerparken.legalBasis)
            }`,
          }),
          body: "{}",
        });
      // RFC 8187 lets a header carry any character; a control character is no purpose.
      await problemOf(await transfer("UTF-8''bewohnerparkausweis%00"), 400);
      const authorization = await lotse.fetch("/v1/authorizations", {
        method: "POST",
        headers: bearer(consumer, { "content-type": "application/json" }),
        body: JSON.stringify({
          evidenceType: "fahrzeugzulassung",
          providerId: "kba-zfzr",
          purpose: "x\u0000",
          legalBasis: DEMO_PURPOSES.bewohnerparken.legalBasis,
          idnrUsed: false,
        }),
      });
      await problemOf(authorization, 400);

      // Whatever was accepted above, the records of later transfers reach PostgreSQL.
      const ok = await transfer(DEMO_PURPOSES.bewohnerparken.purpose);
      assert.equal(ok.status, 200);
      const id = ok.headers.get("lotse-transfer-id");
      await ok.body?.cancel();
      // drain(), not flush(): a write that was slow went to the spool, and only drain() waits
      // until the spool is in PostgreSQL too.
      await lotse.lotse.protocol.drain();
      const rows = await lotse.lotse.db.sql<{ n: number }>`
        select count(*)::int as n from protocol_entries where transfer_id = ${id}
          and kind = 'decision'`;
      assert.equal(rows[0]!.n, 1, `the decision of transfer ${id} is in PostgreSQL`);
      assert.equal(lotse.lotse.protocol.queueDepth, 0, "nothing stuck in the protocol queue");
    } finally {
      await lotse.close();
    }
  },
});

Deno.test({
  name: "BUG-5: a consumer body cut short is the consumer's fault (4xx), not a 502 of the provider",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lotse = await startTestLotse();
    try {
      const base = new URL(lotse.base);
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      const head = `POST /v1/evidence/fahrzeugzulassung?ags=08111000 HTTP/1.1\r\n` +
        `host: ${base.host}\r\nauthorization: Bearer ${consumer}\r\n` +
        `lotse-purpose: ${DEMO_PURPOSES.bewohnerparken.purpose}\r\n` +
        `lotse-legal-basis: UTF-8''${
          encodeURIComponent(DEMO_PURPOSES.bewohnerparken.legalBasis)
        }\r\n` +
        `content-type: application/json\r\ncontent-length: 100\r\nconnection: close\r\n\r\n{"a":`;
      const raw = await sendRaw(
        { hostname: base.hostname, port: Number(base.port) },
        new TextEncoder().encode(head),
        { halfClose: true, timeoutMs: 5000 },
      );
      const answer = parseResponse(raw.bytes);
      assert.ok(answer, "an answer");
      const text = new TextDecoder().decode(answer.body);
      assert.equal(answer.status, 400, text);
      assert.equal(JSON.parse(text).type, "https://lotse.dev/problems/invalid-request");
    } finally {
      await lotse.close();
    }
  },
});
