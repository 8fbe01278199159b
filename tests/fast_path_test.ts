/**
 * The navigation fast path answers exactly what the Hono route answers: the same status and
 * the same bytes for plain successes, and it declines (null) everything else.
 */
import assert from "node:assert/strict";
import { bearer, startTestLotse, type TestLotse } from "./_app.ts";
import { untilClientRefused } from "./_quota.ts";
import { waitFor } from "./_wait.ts";
import { authorizationConsumer, fastNavigation } from "../src/fast_path.ts";
import { createLogger } from "../src/log.ts";
import { DEMO_PARKING_AUTHORIZATION } from "../demo/clients.ts";

const QUERIES = [
  "evidenceType=fahrzeugzulassung&ags=08111000",
  "evidenceType=meldebescheinigung&ags=09184145",
  "evidenceType=handelsregisterauszug&ars=081110000000",
  "evidenceType=fahrzeugzulassung&plz=80331&ort=M%C3%BCnchen",
  "evidenceType=fahrzeugzulassung&plz=80331&ort=Muenchen",
  "evidenceType=fahrzeugzulassung&plz=85000&ort=Garching+b.+M%C3%BCnchen",
  "ags=08111000&evidenceType=fahrzeugzulassung",
  "evidenceType=fahrzeugzulassung&plz=85000",
  "evidenceType=fahrzeugzulassung&ags=0811",
  "evidenceType=fahrzeugzulassung&ags=99999999",
  "evidenceType=fahrzeugzulassung&ags=08111000&ags=09162000",
  "evidenceType=fahrzeugzulassung&ags=08111000&plz=70173",
  "evidenceType=gewerberegisterauszug&ags=09184145",
  "evidenceType=unbekannt&ags=08111000",
  "evidenceType=fahrzeugzulassung&ags=08111000&extra=1",
  "evidenceType=fahrzeugzulassung&ort=Stuttgart",
  "evidenceType=fahrzeugzulassung&plz=70173&ort=",
  "evidenceType=%ZZ&ags=08111000",
  "evidenceType",
  "",
];

Deno.test({
  name: "the navigation fast path and the Hono route give the same answers",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lotse = await startTestLotse();
    try {
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      const operator = await lotse.token("lotse-operator");
      const dsc = await lotse.token("dsc-cockpit");
      const fast = fastNavigation({
        store: lotse.lotse.store,
        verifier: lotse.lotse.iam.verifier,
        metrics: lotse.lotse.metrics,
      });
      let answeredFast = 0;
      for (const token of [consumer, operator, dsc, "not-a-token"]) {
        for (const query of QUERIES) {
          const url = `${lotse.publicUrl}/v1/navigation?${query}`;
          const viaHono = await lotse.lotse.app.request(url, { headers: bearer(token) });
          const viaHandler = await lotse.lotse.fetch(new Request(url, { headers: bearer(token) }));
          // And over the socket, as clients see it.
          const viaSocket = await lotse.fetch(`/v1/navigation?${query}`, {
            headers: bearer(token),
          });
          assert.equal(viaSocket.status, viaHono.status, `socket: ${query}`);
          assert.equal(viaHandler.status, viaHono.status, `${query} with ${token.slice(0, 8)}`);
          const honoText = await viaHono.text();
          assert.equal(await viaHandler.text(), honoText, query);
          assert.equal(await viaSocket.text(), honoText, `socket: ${query}`);
          assert.equal(
            viaHandler.headers.get("content-type"),
            viaHono.headers.get("content-type"),
            query,
          );
          const direct = fast(new Request(url, { headers: bearer(token) }));
          if (direct) {
            answeredFast++;
            assert.equal(viaHono.status, 200, `the fast path answers successes only: ${query}`);
            await direct.body?.cancel();
          }
        }
      }
      assert.equal(
        answeredFast,
        14,
        "the seven plain successes with the consumer's token and with the operator's",
      );
    } finally {
      await lotse.close();
    }
  },
});

Deno.test({
  name: "a token the edge found cached is refused once it expires, on the fast path's request too",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    let now = Date.now();
    const lotse = await startTestLotse({
      now: () => now,
      // The per-client quota makes the edge look the token up and hand its claims on.
      env: { LOTSE_RATE_LIMIT_CLIENT: "10", LOTSE_RATE_LIMIT_ADDRESS: "1000" },
    });
    try {
      const token = await lotse.token("stuttgart-bewohnerparken");
      const path = `/v1/navigation?${QUERIES[0]}`;
      // The first use verifies the token (in the app) and caches it; from then on the edge
      // finds it and counts the client.
      for (const quota of ['"address"', '"client";r=9;', '"client";r=8;']) {
        const answer = await lotse.fetch(path, { headers: bearer(token) });
        assert.equal(answer.status, 200);
        const field = answer.headers.get("ratelimit");
        assert.equal(field?.startsWith(quota), true, `${field} starts with ${quota}`);
        await answer.body?.cancel();
      }
      now += 2 * 60 * 60 * 1000;
      const expired = await lotse.fetch(path, { headers: bearer(token) });
      assert.equal(expired.status, 401);
      assert.equal(expired.headers.get("ratelimit")?.startsWith('"address"'), true);
      await expired.body?.cancel();
    } finally {
      await lotse.close();
    }
  },
});

const GRANT = JSON.stringify(DEMO_PARKING_AUTHORIZATION);
const JSON_TYPE = { "content-type": "application/json" };
/** Authorization requests: path, extra fields, body; each answered the same on both paths. */
const AUTHORIZATIONS: [string, Record<string, string>, string][] = [
  ["/v1/authorizations", JSON_TYPE, GRANT],
  [
    "/v1/authorizations",
    JSON_TYPE,
    JSON.stringify({ ...DEMO_PARKING_AUTHORIZATION, purpose: "x" }),
  ],
  [
    "/v1/authorizations",
    JSON_TYPE,
    JSON.stringify({ ...DEMO_PARKING_AUTHORIZATION, evidenceType: "nope" }),
  ],
  [
    "/v1/authorizations",
    JSON_TYPE,
    JSON.stringify({ ...DEMO_PARKING_AUTHORIZATION, providerId: "nope" }),
  ],
  ["/v1/authorizations", JSON_TYPE, JSON.stringify({ evidenceType: 1 })],
  ["/v1/authorizations", JSON_TYPE, "{not json"],
  ["/v1/authorizations", JSON_TYPE, ""],
  ["/v1/authorizations", JSON_TYPE, JSON.stringify({ pad: "x".repeat(17 * 1024) })],
  ["/v1/authorizations", { "content-type": "text/plain" }, GRANT],
  ["/v1/authorizations", {}, GRANT],
  ["/v1/authorizations?x=1&x=2", JSON_TYPE, GRANT],
  ["/v1/authorizations/", JSON_TYPE, GRANT],
];

/** Counts, from now on, the requests the served handler hands to the Hono app. */
function countAppRequests(lotse: TestLotse): () => number {
  const app = lotse.lotse.app;
  const appFetch = app.fetch;
  let n = 0;
  app.fetch = (...args) => {
    n++;
    return appFetch(...args);
  };
  return () => n;
}

/** `lotse_http_requests_total` for granted authorizations, read from `/metrics`. */
async function grantedCount(lotse: { fetch(path: string): Promise<Response> }): Promise<number> {
  const text = await (await lotse.fetch("/metrics")).text();
  const found = text.match(
    /^lotse_http_requests_total\{route="POST \/v1\/authorizations",status="201"\} (\d+)$/m,
  );
  return found ? Number(found[1]) : 0;
}

/** A problem's or a token's answer without what differs per request (ids, the token). */
async function comparable(response: Response): Promise<unknown> {
  const body = await response.json();
  const { transferId: _t, token, jti, expiresAt, ...rest } = body;
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    cache: response.headers.get("cache-control"),
    retryAfter: response.headers.get("retry-after"),
    authenticate: response.headers.get("www-authenticate"),
    sealed: [typeof token, typeof jti, typeof expiresAt],
    rest,
  };
}

Deno.test({
  name: "the authorization fast path and the Hono route give the same answers and log lines",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ write: (line) => lines.push(JSON.parse(line)) });
    const lotse = await startTestLotse({ logger });
    try {
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      const operator = await lotse.token("lotse-operator");
      const verifier = lotse.lotse.iam.verifier;
      let admitted = 0;
      for (const token of [consumer, operator, "not-a-token"]) {
        for (const [path, fields, body] of AUTHORIZATIONS) {
          const init = () => ({ method: "POST", headers: bearer(token, fields), body });
          const url = `${lotse.publicUrl}${path}`;
          const what = `${path} ${JSON.stringify(fields)} ${body.slice(0, 40)} (${
            token.slice(0, 8)
          })`;
          const viaHono = await comparable(await lotse.lotse.app.request(url, init()));
          const viaHandler = await lotse.lotse.fetch(new Request(url, init()));
          assert.equal(viaHandler.headers.get("x-content-type-options"), "nosniff", what);
          assert.deepEqual(await comparable(viaHandler), viaHono, what);
          assert.deepEqual(await comparable(await lotse.fetch(path, init())), viaHono, what);
          const request = new Request(url, init());
          const taken = authorizationConsumer(verifier, request, {});
          await request.body?.cancel();
          if (taken !== null) {
            admitted++;
            assert.equal(taken, "stuttgart-bewohnerparken", what);
            assert.equal(token, consumer, `only the consumer's token is admitted: ${what}`);
          }
        }
      }
      assert.equal(admitted, 10, "the consumer's requests on the exact path, without a query");

      const countedBefore = await grantedCount(lotse);
      // From here on, what reaches the Hono app is counted: a consumer's grant must not.
      const viaApp = countAppRequests(lotse);
      const before = lines.length;
      const granted = await lotse.fetch("/v1/authorizations", {
        method: "POST",
        headers: bearer(consumer, { ...JSON_TYPE, "x-request-id": "auth-1" }),
        body: GRANT,
      });
      assert.equal(granted.status, 201);
      await granted.text();
      assert.equal(viaApp(), 0, "the consumer's grant took the fast path");
      const line = await waitFor(
        () => lines.slice(before).find((l) => l.msg === "request" && l.requestId === "auth-1"),
        "the authorization's request line",
      );
      assert.deepEqual(
        [line.method, line.route, line.status, line.clientId, line.transferId],
        ["POST", "POST /v1/authorizations", 201, "stuttgart-bewohnerparken", null],
      );
      // The grant counted once under the Hono route's label (the /metrics read above and
      // below goes through the app, not under this label).
      assert.equal(await grantedCount(lotse), countedBefore + 1);
      // An operator's request still goes through the app (and its role check).
      const viaAppBefore = viaApp();
      const refused = await lotse.fetch("/v1/authorizations", {
        method: "POST",
        headers: bearer(operator, JSON_TYPE),
        body: GRANT,
      });
      assert.equal(refused.status, 403);
      await refused.body?.cancel();
      assert.equal(viaApp(), viaAppBefore + 1, "the operator's request went through the app");
    } finally {
      await lotse.close();
    }
  },
});

Deno.test({
  name: "the client quota counts authorizations answered by the fast path, with every field",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lotse = await startTestLotse({ env: { LOTSE_RATE_LIMIT_CLIENT: "3" } });
    try {
      const token = await lotse.token("stuttgart-bewohnerparken");
      const viaApp = countAppRequests(lotse);
      const served = await untilClientRefused(() =>
        lotse.fetch("/v1/authorizations", {
          method: "POST",
          headers: bearer(token, JSON_TYPE),
          body: GRANT,
        })
      );
      for (const res of served) {
        assert.equal(res.status, 201);
        assert.equal(res.headers.get("cache-control"), "no-store");
        assert.equal(res.headers.get("x-content-type-options"), "nosniff");
        assert.equal(res.headers.get("x-frame-options"), "DENY");
      }
      // Only the first went through the app (which verified the token and cached it); the
      // others took the fast path with the claims the edge read for the client quota.
      assert.equal(viaApp(), 1);
      const claims = lotse.lotse.iam.verifier.cached(token);
      assert.ok(claims !== undefined);
      const request = new Request(`${lotse.publicUrl}/v1/authorizations`, { method: "POST" });
      const { verifier } = lotse.lotse.iam;
      assert.equal(
        authorizationConsumer(verifier, request, { claims }),
        "stuttgart-bewohnerparken",
      );
      assert.equal(
        authorizationConsumer(verifier, request, { claims: { ...claims, roles: ["operator"] } }),
        null,
        "the edge's claims admit only a consumer",
      );
    } finally {
      await lotse.close();
    }
  },
});
