/**
 * R5 (tokens) and R7 (no consumer value in an upstream URL; no secret or IDNr in the logs)
 * over real sockets. Forged tokens are signed with Lotse's own signing key wherever the
 * attack allows, so that each one differs from a good token in exactly the property under
 * test; a control token forged the same way must pass, or the refusals prove nothing.
 */
import assert from "node:assert/strict";
import { CompactSign, exportJWK, generateKeyPair, SignJWT } from "jose";
import {
  ASSERTION_TYPE,
  bearer,
  clientAssertion,
  startTestLotse,
  type TestLotse,
  tokenForm,
} from "./_app.ts";
import { parseResponse, sendRaw } from "./_raw_http.ts";
import { spawnLotse } from "./_lotse_process.ts";
import { freshDatabaseUrl } from "./_pg.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";
const NAVIGATION = "/v1/navigation?evidenceType=fahrzeugzulassung&ags=08111000";
const encoder = new TextEncoder();

function b64url(data: string | Uint8Array): string {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return btoa(String.fromCharCode(...bytes)).replace(/=+$/, "").replace(/\+/g, "-").replace(
    /\//g,
    "_",
  );
}

function decodePart(part: string): Record<string, unknown> {
  const s = part.replace(/-/g, "+").replace(/_/g, "/");
  const bytes = Uint8Array.from(
    atob(s + "=".repeat((4 - s.length % 4) % 4)),
    (c) => c.charCodeAt(0),
  );
  return JSON.parse(new TextDecoder().decode(bytes));
}

async function signCompact(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: CryptoKey | Uint8Array,
): Promise<string> {
  return await new CompactSign(encoder.encode(JSON.stringify(claims)))
    .setProtectedHeader(header as { alg: string })
    .sign(key);
}

async function statusOf(res: Response): Promise<number> {
  await res.body?.cancel();
  return res.status;
}

Deno.test({
  name: "R5: every forged, stale, foreign or misdirected access token is refused",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lotse = await startTestLotse({ serve: true });
    try {
      const real = await lotse.token("stuttgart-bewohnerparken");
      const [h, p] = real.split(".");
      const header = decodePart(h!);
      const claims = decodePart(p!);
      const signing = lotse.lotse.iam.keys.signingKey();
      const now = Math.floor(Date.now() / 1000);
      const fresh = () => ({ ...claims, jti: crypto.randomUUID(), iat: now, exp: now + 240 });
      const ours = (c: Record<string, unknown>, hdr: Record<string, unknown> = header) =>
        signCompact(hdr, c, signing.key);
      const nav = (token: string) => lotse.fetch(NAVIGATION, { headers: bearer(token) });

      await t.step("control: a token forged with Lotse's key and good claims passes", async () => {
        assert.equal(header.alg, "ES256");
        assert.equal(header.kid, signing.kid);
        assert.equal(await statusOf(await nav(await ours(fresh()))), 200);
      });

      const jwks = await (await lotse.fetch("/.well-known/jwks.json")).json() as {
        keys: Record<string, string>[];
      };
      const jwk = jwks.keys.find((k) => k.kid === header.kid)!;
      const foreign = await generateKeyPair("ES256");
      const evidenceToken = await (await lotse.fetch("/v1/authorizations", {
        method: "POST",
        headers: bearer(real, { "content-type": "application/json" }),
        body: JSON.stringify({
          evidenceType: "fahrzeugzulassung",
          providerId: "kba-zfzr",
          purpose: DEMO_PURPOSES.bewohnerparken.purpose,
          legalBasis: DEMO_PURPOSES.bewohnerparken.legalBasis,
          idnrUsed: false,
        }),
      })).json() as { token: string };
      const hs256 = { alg: "HS256", kid: header.kid, typ: header.typ };

      const forged: [string, () => Promise<string>][] = [
        ["expired", () => ours({ ...fresh(), iat: now - 400, exp: now - 100 })],
        ["not yet valid (nbf ahead)", () => ours({ ...fresh(), nbf: now + 120 })],
        ["issued in the future", () => ours({ ...fresh(), iat: now + 120, exp: now + 300 })],
        ["living longer than 5 minutes", () => ours({ ...fresh(), exp: now + 3600 })],
        ["for another audience", () => ours({ ...fresh(), aud: "https://elsewhere.example" })],
        ["from another issuer", () => ours({ ...fresh(), iss: "https://evil.example" })],
        ["without exp", () => ours({ ...fresh(), exp: undefined })],
        ["with an unknown kid", () => ours(fresh(), { ...header, kid: "unknown-kid" })],
        ["without a kid", () => ours(fresh(), { alg: "ES256", typ: header.typ })],
        ["of another type (not at+jwt)", () => ours(fresh(), { ...header, typ: "JWT" })],
        ["an evidence token used as access token", () => Promise.resolve(evidenceToken.token)],
        ["with alg none", () =>
          Promise.resolve(
            `${b64url(JSON.stringify({ alg: "none", typ: header.typ }))}.${
              b64url(JSON.stringify(fresh()))
            }.`,
          )],
        ["with alg none and Lotse's kid", () =>
          Promise.resolve(
            `${b64url(JSON.stringify({ ...header, alg: "none" }))}.${
              b64url(JSON.stringify(fresh()))
            }.`,
          )],
        [
          "HS256 keyed with the published JWK (JSON)",
          () => signCompact(hs256, fresh(), encoder.encode(JSON.stringify(jwk))),
        ],
        [
          "HS256 keyed with the published x coordinate",
          () => signCompact(hs256, fresh(), encoder.encode(jwk.x!)),
        ],
        [
          "HS256 keyed with the JWKS document",
          () => signCompact(hs256, fresh(), encoder.encode(JSON.stringify(jwks))),
        ],
        [
          "signed by a foreign key under Lotse's kid",
          () => signCompact(header, fresh(), foreign.privateKey),
        ],
        ["with roles raised but the old signature", () => {
          const [hh, , ss] = real.split(".");
          return Promise.resolve(
            `${hh}.${b64url(JSON.stringify({ ...claims, roles: ["operator"] }))}.${ss}`,
          );
        }],
        [
          "signed by the client's own key",
          () => clientAssertion("stuttgart-bewohnerparken", lotse.publicUrl),
        ],
      ];
      for (const [what, make] of forged) {
        await t.step(`401 for a token ${what}`, async () => {
          const res = await nav(await make());
          const body = await res.json();
          assert.equal(res.status, 401, `${what}: ${JSON.stringify(body)}`);
          assert.equal(body.type, "https://lotse.dev/problems/unauthorized");
        });
      }

      await t.step("403 for a valid token with the wrong role", async () => {
        for (const client of ["dsc-cockpit", "kba-zfzr"]) {
          const res = await nav(await lotse.token(client));
          assert.equal(res.status, 403, client);
          assert.equal((await res.json()).type, "https://lotse.dev/problems/forbidden");
        }
        const admin = await lotse.fetch("/admin/v1/tables", { headers: bearer(real) });
        assert.equal(await statusOf(admin), 403);
      });

      await t.step("a replayed client assertion jti is refused at /v1/token", async () => {
        const aud = `${lotse.publicUrl}/v1/token`;
        const jti = crypto.randomUUID();
        const post = async (assertion: string) =>
          await lotse.fetch("/v1/token", {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: tokenForm("stuttgart-bewohnerparken", assertion),
          });
        const first = await clientAssertion("stuttgart-bewohnerparken", aud, { jti });
        assert.equal(await statusOf(await post(first)), 200);
        const again = await post(first);
        assert.equal(again.status, 401);
        assert.equal((await again.json()).error, "invalid_client");
        // A new signature around the same jti is still a replay.
        const resigned = await clientAssertion("stuttgart-bewohnerparken", aud, {
          jti,
          exp: Math.floor(Date.now() / 1000) + 90,
        });
        assert.notEqual(resigned, first);
        assert.equal(await statusOf(await post(resigned)), 401);
      });

      await t.step("client assertions with alg none or HS256 are refused", async () => {
        const aud = `${lotse.publicUrl}/v1/token`;
        const body = {
          iss: "stuttgart-bewohnerparken",
          sub: "stuttgart-bewohnerparken",
          aud,
          jti: crypto.randomUUID(),
          iat: now,
          exp: now + 60,
        };
        const none = `${b64url(JSON.stringify({ alg: "none" }))}.${b64url(JSON.stringify(body))}.`;
        const client = (await lotse.lotse.store.snapshot!.clients.get("stuttgart-bewohnerparken"))!;
        const hs = await signCompact(
          { alg: "HS256", kid: "stuttgart-bewohnerparken-demo" },
          { ...body, jti: crypto.randomUUID() },
          encoder.encode(JSON.stringify(client.jwks.keys[0])),
        );
        for (const assertion of [none, hs]) {
          const res = await lotse.fetch("/v1/token", {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: tokenForm("stuttgart-bewohnerparken", assertion),
          });
          assert.equal(res.status, 401);
          assert.equal((await res.json()).error, "invalid_client");
        }
      });

      await t.step(
        "a client's tokens follow its row: role removed → 403, deleted → 401",
        async () => {
          const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
          const jwk = { ...await exportJWK(publicKey), kid: "r5-key", alg: "ES256", use: "sig" };
          const admin = bearer(ADMIN, { "content-type": "application/json" });
          const put = (roles: string[]) =>
            lotse.fetch("/admin/v1/clients/r5-temporary", {
              method: "PUT",
              headers: admin,
              body: JSON.stringify({ name: "R5", roles, jwks: { keys: [jwk] } }),
            });
          assert.equal(await statusOf(await put(["consumer"])), 201);
          const assertion = await new SignJWT({})
            .setProtectedHeader({ alg: "ES256", kid: "r5-key" })
            .setIssuer("r5-temporary")
            .setSubject("r5-temporary")
            .setAudience(`${lotse.publicUrl}/v1/token`)
            .setJti(crypto.randomUUID())
            .setIssuedAt()
            .setExpirationTime("1m")
            .sign(privateKey);
          const res = await lotse.fetch("/v1/token", {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: tokenForm("r5-temporary", assertion),
          });
          assert.equal(res.status, 200);
          const token = (await res.json()).access_token as string;
          assert.equal(await statusOf(await nav(token)), 200);
          assert.equal(await statusOf(await put(["dsc"])), 200);
          assert.equal(await statusOf(await nav(token)), 403);
          const del = await lotse.fetch("/admin/v1/clients/r5-temporary", {
            method: "DELETE",
            headers: admin,
          });
          assert.equal(await statusOf(del), 204);
          assert.equal(await statusOf(await nav(token)), 401);
        },
      );
    } finally {
      await lotse.close();
    }
  },
});

/** A provider that records the URL (and a few headers) of every request it gets. */
function startRecorder() {
  const seen: {
    url: string;
    host: string | null;
    transferId: string | null;
    type: string | null;
  }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push({
      url: req.url,
      host: req.headers.get("host"),
      transferId: req.headers.get("lotse-transfer-id"),
      type: req.headers.get("lotse-evidence-type"),
    });
    await req.body?.cancel();
    return Response.json({ evidence: "recorded" });
  });
  return { server, seen, port: server.addr.port };
}

async function registerRecorder(lotse: TestLotse, endpoint: string): Promise<void> {
  const admin = bearer(ADMIN, { "content-type": "application/json" });
  const rows: [string, unknown][] = [
    ["evidence-types/r7-nachweis", { name: "R7 Nachweis" }],
    ["providers/r7-recorder", { name: "R7 recorder", endpoint }],
    ["routes/r7-bund", { evidenceType: "r7-nachweis", regionKey: "", providerId: "r7-recorder" }],
    ["permissions/r7-permission", {
      consumerId: "stuttgart-bewohnerparken",
      evidenceType: "r7-nachweis",
      providerId: null,
      purposes: [DEMO_PURPOSES.bewohnerparken.purpose],
      legalBases: [DEMO_PURPOSES.bewohnerparken.legalBasis],
      idnrAllowed: true,
    }],
  ];
  for (const [path, body] of rows) {
    const res = await lotse.fetch(`/admin/v1/${path}`, {
      method: "PUT",
      headers: admin,
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 201, `${path}: ${await res.text()}`);
  }
}

Deno.test({
  name: "R7: a provider only ever sees its registered URL, whatever the consumer sends",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const recorder = startRecorder();
    const lotse = await startTestLotse({ serve: true });
    try {
      const endpoint = `http://127.0.0.1:${recorder.port}/r7/evidence`;
      await registerRecorder(lotse, endpoint);
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      const headers = (extra: Record<string, string> = {}) =>
        bearer(consumer, {
          "content-type": "application/json",
          "lotse-purpose": DEMO_PURPOSES.bewohnerparken.purpose,
          "lotse-legal-basis": `UTF-8''${
            encodeURIComponent(DEMO_PURPOSES.bewohnerparken.legalBasis)
          }`,
          ...extra,
        });
      const post = (path: string, extra?: Record<string, string>) =>
        lotse.fetch(path, { method: "POST", headers: headers(extra), body: "{}" });
      const delivered: string[] = [];
      const expectDelivered = async (res: Response) => {
        const text = await res.text();
        assert.equal(res.status, 200, text);
        assert.deepEqual(JSON.parse(text), { evidence: "recorded" });
        delivered.push(res.headers.get("lotse-transfer-id")!);
      };

      await t.step("hostile query parameters are ignored or refused", async () => {
        await expectDelivered(await post("/v1/evidence/r7-nachweis?ags=08111000"));
        await expectDelivered(
          await post("/v1/evidence/r7-nachweis?ags=08111000&x=http://evil.example/&url=//evil"),
        );
        await expectDelivered(await post("/v1/evidence/r7-nachweis?providerId=r7-recorder"));
        for (
          const query of [
            "providerId=../../x",
            "providerId=r7-recorder%2F..%2F..%2Fx",
            "providerId=http://evil.example",
            "providerId=r7-recorder&ags=08111000",
            "ags=08111000&ags=http://evil.example",
            "ags=08111000%26x%3Dhttp://evil",
            "ags=..%2F..%2Fevil",
          ]
        ) {
          const res = await post(`/v1/evidence/r7-nachweis?${query}`);
          // Refused, or (a repeated ags: the first one counts) delivered to the registered URL.
          if (res.status === 200) {
            await expectDelivered(res);
            continue;
          }
          assert.ok(res.status >= 400 && res.status < 500, `${query}: ${res.status}`);
          await res.body?.cancel();
        }
      });

      await t.step("hostile paths are refused", async () => {
        for (
          const path of [
            "/v1/evidence/r7-nachweis%2F..%2F..%2Fx?ags=08111000",
            "/v1/evidence/..%2Fr7-nachweis?ags=08111000",
            "/v1/evidence/r7-nachweis%3Fx=1?ags=08111000",
            "/v1/evidence/r7-nachweis%23x?ags=08111000",
            "/v1/evidence/http:%2F%2Fevil.example?ags=08111000",
          ]
        ) {
          const res = await post(path);
          assert.ok(res.status >= 400 && res.status < 500, `${path}: ${res.status}`);
          await res.body?.cancel();
        }
      });

      await t.step("forwarding headers and consumer-set Lotse headers change nothing", async () => {
        await expectDelivered(
          await post("/v1/evidence/r7-nachweis?ags=08111000", {
            "x-forwarded-host": "evil.example",
            "x-forwarded-proto": "https",
            "x-forwarded-prefix": "/evil",
            "forwarded": "host=evil.example;proto=https",
            "x-original-url": "/evil",
            "x-rewrite-url": "/evil",
            "lotse-transfer-id": "../../evil",
            "lotse-evidence-type": "../../evil",
          }),
        );
        // Host and absolute-form targets need a raw request: fetch sets both itself.
        const base = new URL(lotse.base);
        const legal = encodeURIComponent(DEMO_PURPOSES.bewohnerparken.legalBasis);
        for (
          const [target, host] of [
            ["/v1/evidence/r7-nachweis?ags=08111000", "evil.example"],
            ["http://evil.example/v1/evidence/r7-nachweis?ags=08111000", "evil.example"],
            ["/v1/evidence/r7-nachweis?ags=08111000", `${base.host}/evil?x=`],
          ]
        ) {
          const request = `POST ${target} HTTP/1.1\r\nhost: ${host}\r\n` +
            `authorization: Bearer ${consumer}\r\ncontent-type: application/json\r\n` +
            `lotse-purpose: ${DEMO_PURPOSES.bewohnerparken.purpose}\r\n` +
            `lotse-legal-basis: UTF-8''${legal}\r\n` +
            `content-length: 2\r\nconnection: close\r\n\r\n{}`;
          const raw = await sendRaw(
            { hostname: base.hostname, port: Number(base.port) },
            encoder.encode(request),
          );
          const answer = parseResponse(raw.bytes);
          assert.ok(answer, `${target} with host ${host}: an answer`);
          // Lotse may refuse such a request; when it forwards, the URL must be unchanged.
          if (answer.status === 200) delivered.push(answer.headers.get("lotse-transfer-id")!);
          else assert.ok(answer.status < 500, `${target}: ${answer.status}`);
        }
      });

      await t.step("the provider saw exactly its registered URL, never a query", () => {
        assert.equal(recorder.seen.length, delivered.length);
        for (const request of recorder.seen) {
          assert.equal(request.url, endpoint);
          assert.equal(new URL(request.url).search, "");
          assert.equal(request.host, `127.0.0.1:${recorder.port}`);
          assert.equal(request.type, "r7-nachweis");
        }
        assert.deepEqual(recorder.seen.map((r) => r.transferId), delivered);
      });
    } finally {
      await lotse.close();
      await recorder.server.shutdown();
    }
  },
});

Deno.test({
  name: "R7: secrets, tokens and IDNrs never reach the instance's output",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const secret = (name: string) => `${name}-${crypto.randomUUID()}-${crypto.randomUUID()}`;
    const env = {
      LOTSE_KEY_SECRET: secret("key-secret"),
      LOTSE_PROTOCOL_KEY: secret("protocol-key"),
      LOTSE_ADMIN_TOKEN: secret("admin-token"),
      // The most the logger writes: error stacks too.
      LOTSE_LOG_LEVEL: "debug",
    };
    const idnr = "86095742719";
    const wrongIdnr = "86095742718";
    const badAdmin = secret("wrong-admin-token");
    const sensitive: [string, string][] = [
      ["the IDNr", idnr],
      ["a wrong IDNr", wrongIdnr],
      ["LOTSE_ADMIN_TOKEN", env.LOTSE_ADMIN_TOKEN],
      ["a wrong admin token", badAdmin],
      ["LOTSE_KEY_SECRET", env.LOTSE_KEY_SECRET],
      ["LOTSE_PROTOCOL_KEY", env.LOTSE_PROTOCOL_KEY],
    ];
    // A child process (its own stdout and stderr), on the port it bound and reported.
    const lotse = await spawnLotse({ databaseUrl: await freshDatabaseUrl(), env });
    const base = lotse.url;
    const publicUrl = lotse.env.LOTSE_PUBLIC_URL!;
    let text = "";
    try {
      const tokenFor = async (clientId: string) => {
        const assertion = await clientAssertion(clientId, `${publicUrl}/v1/token`);
        sensitive.push([`a client assertion of ${clientId}`, assertion]);
        const res = await fetch(`${base}/v1/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: tokenForm(clientId, assertion),
        });
        assert.equal(res.status, 200);
        const token = (await res.json()).access_token as string;
        sensitive.push([`an access token of ${clientId}`, token]);
        // The same assertion again: a refused replay.
        const replay = await fetch(`${base}/v1/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            grant_type: "client_credentials",
            client_id: clientId,
            client_assertion_type: ASSERTION_TYPE,
            client_assertion: assertion,
          }),
        });
        assert.equal(await statusOf(replay), 401);
        return token;
      };
      const consumer = await tokenFor("stuttgart-bewohnerparken");
      const dsc = await tokenFor("dsc-cockpit");
      const transfer = (extra: Record<string, string>, token = consumer) =>
        fetch(`${base}/v1/evidence/fahrzeugzulassung?ags=08111000`, {
          method: "POST",
          headers: bearer(token, {
            "content-type": "application/json",
            "lotse-purpose": DEMO_PURPOSES.bewohnerparken.purpose,
            "lotse-legal-basis": `UTF-8''${
              encodeURIComponent(DEMO_PURPOSES.bewohnerparken.legalBasis)
            }`,
            ...extra,
          }),
          body: "{}",
        });
      assert.equal(await statusOf(await transfer({ "lotse-idnr": idnr })), 200);
      assert.equal(
        await statusOf(await transfer({ "lotse-idnr": idnr, "lotse-purpose": "werbung" })),
        403,
      );
      assert.equal(await statusOf(await transfer({ "lotse-idnr": wrongIdnr })), 400);
      assert.equal(await statusOf(await transfer({ "lotse-idnr": idnr }, dsc)), 403);
      assert.equal(
        await statusOf(await transfer({ "lotse-idnr": idnr }, consumer.slice(0, -4))),
        401,
      );
      // Odd input that reaches the error paths (and, today, the database's complaints).
      assert.ok(
        (await statusOf(
          await transfer({ "lotse-idnr": idnr, "lotse-purpose": "UTF-8''x%00" }),
        )) < 500,
      );
      const admin = (token: string, init: RequestInit = {}) =>
        fetch(`${base}/admin/v1/regions/09999001`, {
          ...init,
          headers: bearer(token, { "content-type": "application/json" }),
        });
      assert.equal(await statusOf(await admin(badAdmin)), 401);
      assert.equal(await statusOf(await admin(env.LOTSE_ADMIN_TOKEN)), 404);
      await statusOf(
        await admin(env.LOTSE_ADMIN_TOKEN, {
          method: "PUT",
          body: JSON.stringify({ name: `x\u0000${idnr}` }),
        }),
      );
      const dscRead = await fetch(`${base}/v1/protocol?idnr=${idnr}`, {
        headers: bearer(dsc),
      });
      await statusOf(dscRead);
    } finally {
      await lotse.kill("SIGTERM");
      text = lotse.output;
      await lotse.close();
    }
    assert.match(text, /"msg":"Lotse listening"/, "the instance's output was captured");
    const leaks = sensitive.filter(([, value]) => text.includes(value)).map(([what]) => what);
    assert.deepEqual(leaks, [], `the output holds ${leaks.join(", ")}:\n${text.slice(0, 4000)}`);
  },
});
