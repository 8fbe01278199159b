import assert from "node:assert/strict";
import { exportSPKI, generateKeyPair } from "jose";
import type { Client } from "../src/model.ts";
import { ReplayCache } from "./caches.ts";
import { type ClientAssertionOptions, verifyClientAssertion } from "./client_assertion.ts";
import {
  assertion,
  b64url,
  hs256WithPublicKey,
  makeClient,
  T0,
  type TestClient,
  unsignedToken,
} from "./_testing.ts";

const ISSUER = "https://lotse.example";
const TOKEN_URL = "https://lotse.example/v1/token";

async function setup(alg: "ES256" | "EdDSA" = "ES256") {
  const tc = await makeClient("stadt-a", { alg });
  const other = await makeClient("stadt-b");
  const table = new Map<string, Client>([[tc.client.id, tc.client], [
    other.client.id,
    other.client,
  ]]);
  const options: ClientAssertionOptions = {
    clients: (id) => table.get(id),
    audience: [ISSUER, TOKEN_URL],
    replay: new ReplayCache(),
    now: T0,
  };
  const sign = (o: Partial<Parameters<typeof assertion>[1]> = {}) =>
    assertion(tc, { now: T0, audience: TOKEN_URL, ...o });
  return { tc, other, options, sign };
}

async function refused(
  token: unknown,
  options: ClientAssertionOptions,
  fault: string,
  error = "invalid_client",
) {
  const result = await verifyClientAssertion(token, options);
  assert.equal(result.ok, false, "assertion was accepted");
  if (result.ok) return;
  assert.equal(result.fault, fault, result.description);
  assert.equal(result.error, error);
  assert.match(result.description, /^Cannot /);
}

Deno.test("verifyClientAssertion() accepts a fresh ES256 assertion and names the client", async () => {
  const { tc, options, sign } = await setup();
  const result = await verifyClientAssertion(await sign(), options);
  assert.ok(result.ok, JSON.stringify(result));
  assert.equal(result.client, tc.client);
});

Deno.test("verifyClientAssertion() accepts EdDSA assertions", async () => {
  const { options, sign } = await setup("EdDSA");
  const result = await verifyClientAssertion(await sign(), options);
  assert.ok(result.ok, JSON.stringify(result));
});

for (
  const [what, aud] of [
    ["the issuer identifier (draft-ietf-oauth-rfc7523bis)", ISSUER],
    ["the token endpoint URL (RFC 7523)", TOKEN_URL],
    ["an array holding only the issuer", [ISSUER]],
    ["an array holding only the token endpoint URL", [TOKEN_URL]],
  ] as const
) {
  Deno.test(`verifyClientAssertion() accepts aud = ${what}`, async () => {
    const { options, sign } = await setup();
    const claims = { aud: aud as string | string[] };
    const result = await verifyClientAssertion(await sign({ claims }), options);
    assert.ok(result.ok, JSON.stringify(result));
  });
}

for (
  const [what, aud] of [
    ["another server's URL", "https://evil.example/v1/token"],
    ["the issuer with a trailing slash", `${ISSUER}/`],
    ["the token URL in another case", TOKEN_URL.toUpperCase()],
    ["another path of this server", `${ISSUER}/v1/authorizations`],
    ["an array naming this server and another", ["https://elsewhere.example", TOKEN_URL]],
    ["an array naming both the issuer and the token URL", [ISSUER, TOKEN_URL]],
    ["an empty array", []],
    ["a number", 42],
    ["an array holding a number", [42]],
  ] as const
) {
  Deno.test(`verifyClientAssertion() refuses aud = ${what}, and keeps its jti unused`, async () => {
    const { options, sign } = await setup();
    const jti = crypto.randomUUID();
    await refused(await sign({ claims: { aud: aud as never, jti } }), options, "audience");
    // The refusal comes before the replay guard: the same jti with a good aud still passes.
    const good = await verifyClientAssertion(await sign({ claims: { aud: ISSUER, jti } }), options);
    assert.ok(good.ok, JSON.stringify(good));
  });
}

Deno.test("verifyClientAssertion() without kid tries the client's matching keys", async () => {
  const { tc, options } = await setup();
  const token = await assertion(tc, {
    now: T0,
    audience: TOKEN_URL,
    header: { kid: undefined },
  });
  assert.ok((await verifyClientAssertion(token, options)).ok);
});

Deno.test("verifyClientAssertion() refuses an expired assertion", async () => {
  const { options, sign } = await setup();
  const iat = T0 / 1000 - 200;
  await refused(await sign({ claims: { iat, exp: iat + 120 } }), options, "expired");
});

Deno.test("verifyClientAssertion() tolerates 30 s of clock skew on exp, not more", async () => {
  const { options, sign } = await setup();
  const ok = await sign({ claims: { exp: T0 / 1000 - 20 } });
  assert.ok((await verifyClientAssertion(ok, options)).ok);
  await refused(await sign({ claims: { exp: T0 / 1000 - 40 } }), options, "expired");
});

Deno.test("verifyClientAssertion() refuses an assertion that is not yet valid", async () => {
  const { options, sign } = await setup();
  await refused(await sign({ claims: { nbf: T0 / 1000 + 60 } }), options, "not_yet_valid");
  await refused(
    await sign({ claims: { iat: T0 / 1000 + 60, exp: T0 / 1000 + 120 } }),
    options,
    "not_yet_valid",
  );
});

Deno.test("verifyClientAssertion() refuses exp more than 5 minutes ahead", async () => {
  const { options, sign } = await setup();
  await refused(await sign({ claims: { exp: T0 / 1000 + 3600 } }), options, "lifetime");
});

Deno.test("verifyClientAssertion() refuses a missing exp or jti", async () => {
  const { options, sign } = await setup();
  await refused(await sign({ claims: { exp: undefined } }), options, "claims");
  await refused(await sign({ claims: { jti: undefined } }), options, "claims");
  await refused(await sign({ claims: { jti: "x".repeat(300) } }), options, "claims");
});

Deno.test("verifyClientAssertion() refuses a wrong aud", async () => {
  const { options, sign } = await setup();
  await refused(await sign({ audience: "https://evil.example/v1/token" }), options, "audience");
  await refused(await sign({ claims: { aud: undefined } }), options, "claims");
});

Deno.test("verifyClientAssertion() refuses iss different from sub", async () => {
  const { options, sign } = await setup();
  await refused(await sign({ claims: { sub: "stadt-b" } }), options, "subject");
});

Deno.test("verifyClientAssertion() refuses an iss that differs from the form's client_id", async () => {
  const { options, sign } = await setup();
  await refused(await sign(), { ...options, clientId: "stadt-b" }, "client_mismatch");
  assert.ok((await verifyClientAssertion(await sign(), { ...options, clientId: "stadt-a" })).ok);
});

Deno.test("verifyClientAssertion() refuses a wrong iss: another client's name, own key", async () => {
  const { options, sign } = await setup();
  // Signed by stadt-a, claiming to be stadt-b: stadt-b has no key with stadt-a's kid.
  await refused(
    await sign({ claims: { iss: "stadt-b", sub: "stadt-b" } }),
    options,
    "unknown_key",
  );
  // Same without kid: stadt-b's key does not verify stadt-a's signature.
  await refused(
    await sign({ claims: { iss: "stadt-b", sub: "stadt-b" }, header: { kid: undefined } }),
    options,
    "signature",
  );
});

Deno.test("verifyClientAssertion() refuses an unknown client", async () => {
  const { options, sign } = await setup();
  await refused(
    await sign({ claims: { iss: "nobody", sub: "nobody" } }),
    options,
    "unknown_client",
  );
});

Deno.test("verifyClientAssertion() refuses an unknown kid", async () => {
  const { options, sign } = await setup();
  await refused(await sign({ header: { kid: "no-such-key" } }), options, "unknown_key");
});

Deno.test("verifyClientAssertion() refuses a wrong signature", async () => {
  const { options, sign } = await setup();
  const { privateKey: stranger } = await generateKeyPair("ES256");
  await refused(await sign({ key: stranger }), options, "signature");

  // A valid token whose payload was swapped keeps a signature that no longer fits.
  const [h, , s] = (await sign()).split(".");
  const forged = `${h}.${b64url(JSON.stringify({ iss: "stadt-a", sub: "stadt-a" }))}.${s}`;
  await refused(forged, options, "signature");
});

Deno.test("verifyClientAssertion() refuses alg none, with or without a signature part", async () => {
  const { options } = await setup();
  const claims = {
    iss: "stadt-a",
    sub: "stadt-a",
    aud: TOKEN_URL,
    jti: "j1",
    exp: T0 / 1000 + 60,
  };
  await refused(unsignedToken(claims), options, "malformed");
  await refused(unsignedToken(claims, "AAAA"), options, "algorithm");
});

Deno.test("verifyClientAssertion() refuses HS256 signed with the client's public key", async () => {
  const { tc, options } = await setup();
  const claims = {
    iss: "stadt-a",
    sub: "stadt-a",
    aud: TOKEN_URL,
    jti: "j1",
    exp: T0 / 1000 + 60,
  };
  const jwkBytes = new TextEncoder().encode(JSON.stringify(tc.client.jwks.keys[0]));
  await refused(await hs256WithPublicKey(claims, { kid: tc.kid }, jwkBytes), options, "algorithm");
  const pem = await exportSPKI(await publicOf(tc));
  await refused(
    await hs256WithPublicKey(claims, { kid: tc.kid }, new TextEncoder().encode(pem)),
    options,
    "algorithm",
  );
});

Deno.test("verifyClientAssertion() refuses a replayed jti", async () => {
  const { options, sign } = await setup();
  const token = await sign();
  assert.ok((await verifyClientAssertion(token, options)).ok);
  await refused(token, options, "replayed");
  // The same jti from another client is that client's own business.
  const { other } = await setup();
  const shared = { claims: { jti: "shared-jti" } };
  assert.ok((await verifyClientAssertion(await sign(shared), options)).ok);
  const fromOther = await assertion(other, { now: T0, audience: TOKEN_URL, ...shared });
  const otherOptions = { ...options, clients: () => other.client };
  assert.ok((await verifyClientAssertion(fromOther, otherOptions)).ok);
  await refused(await sign(shared), options, "replayed");
});

Deno.test("verifyClientAssertion() does not record the jti of an assertion it refuses", async () => {
  const { options, sign } = await setup();
  const { privateKey: stranger } = await generateKeyPair("ES256");
  await refused(await sign({ key: stranger, claims: { jti: "j-x" } }), options, "signature");
  assert.ok((await verifyClientAssertion(await sign({ claims: { jti: "j-x" } }), options)).ok);
});

Deno.test("verifyClientAssertion() answers temporarily_unavailable when the replay cache is full", async () => {
  const { options, sign } = await setup();
  const tight = { ...options, replay: new ReplayCache({ maxEntries: 1 }) };
  assert.ok((await verifyClientAssertion(await sign(), tight)).ok);
  const result = await verifyClientAssertion(await sign(), tight);
  assert.ok(!result.ok);
  assert.equal(result.error, "temporarily_unavailable");
  assert.equal(result.status, 503);
});

Deno.test("verifyClientAssertion() refuses malformed input without throwing", async () => {
  const { options, sign } = await setup();
  const good = await sign();
  const [h, p, s] = good.split(".");
  await refused(undefined, options, "missing", "invalid_request");
  await refused("", options, "missing", "invalid_request");
  await refused("abc", options, "malformed");
  await refused(`${h}.${p}`, options, "malformed");
  await refused(`${h}.${p}.${s}.x`, options, "malformed");
  await refused(`${h}.${p}.${s}=`, options, "malformed");
  await refused(`${h}!.${p}.${s}`, options, "malformed");
  await refused(`${b64url("{not json")}.${p}.${s}`, options, "malformed");
  await refused(`${b64url('"a string"')}.${p}.${s}`, options, "malformed");
  await refused(`${h}.${b64url("[1,2]")}.${s}`, options, "claims");
  await refused(`${h}.${b64url("{bad")}.${s}`, options, "claims");
});

Deno.test("verifyClientAssertion() refuses a token over 8 KiB before parsing it", async () => {
  const { options, sign } = await setup();
  const big = await sign({ claims: { pad: "x".repeat(9000) } });
  await refused(big, options, "oversized");
});

Deno.test("verifyClientAssertion() answers unauthorized_client for a client without roles", async () => {
  const tc = await makeClient("no-roles", { roles: [] });
  const result = await verifyClientAssertion(
    await assertion(tc, { now: T0, audience: TOKEN_URL }),
    {
      clients: (id) => id === tc.client.id ? tc.client : undefined,
      audience: TOKEN_URL,
      replay: new ReplayCache(),
      now: T0,
    },
  );
  assert.ok(!result.ok);
  assert.equal(result.error, "unauthorized_client");
});

async function publicOf(tc: TestClient): Promise<CryptoKey> {
  return await crypto.subtle.importKey(
    "jwk",
    { ...tc.client.jwks.keys[0]!, key_ops: undefined },
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["verify"],
  );
}
