import assert from "node:assert/strict";
import { exportPKCS8, generateKeyPair } from "jose";
import { DEFAULT_RETENTION_MS, KeyRing } from "./keys.ts";
import { memoryKeyStore } from "./key_store.ts";
import { FakeClock, SECRET } from "./_testing.ts";

Deno.test("KeyRing.open() creates and saves a first key when the store is empty", async () => {
  const clock = new FakeClock();
  const store = memoryKeyStore(SECRET);
  const ring = await KeyRing.open(store, { now: clock.now });
  assert.equal(store.rows.size, 1);
  assert.ok(store.rows.has(ring.activeKid));
  const reopened = await KeyRing.open(store, { now: clock.now });
  assert.equal(reopened.activeKid, ring.activeKid);
});

Deno.test("KeyRing.jwks() publishes only public members, with kid, alg and use", async () => {
  const ring = await KeyRing.open(memoryKeyStore(SECRET), { now: new FakeClock().now });
  const { keys } = ring.jwks();
  assert.equal(keys.length, 1);
  const [key] = keys;
  assert.deepEqual(Object.keys(key!).sort(), ["alg", "crv", "kid", "kty", "use", "x", "y"]);
  assert.equal(key!.kid, ring.activeKid);
  assert.equal(key!.alg, "ES256");
});

Deno.test("KeyRing kid is the RFC 7638 thumbprint of the public key", async () => {
  const ring = await KeyRing.open(memoryKeyStore(SECRET), { now: new FakeClock().now });
  const { kty, crv, x, y } = ring.jwks().keys[0] as {
    kty: "EC";
    crv: string;
    x: string;
    y: string;
  };
  const canonical = JSON.stringify({ crv, kty, x, y });
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical)),
  );
  assert.equal(ring.activeKid, digest.toBase64({ alphabet: "base64url", omitPadding: true }));
});

Deno.test("KeyRing signing keys are not extractable", async () => {
  const ring = await KeyRing.open(memoryKeyStore(SECRET), { now: new FakeClock().now });
  const { key } = ring.signingKey();
  assert.equal(key.extractable, false);
  await assert.rejects(crypto.subtle.exportKey("jwk", key));
});

Deno.test("KeyRing.rotate() keeps the old key published until retention passes", async () => {
  const clock = new FakeClock();
  const store = memoryKeyStore(SECRET);
  const ring = await KeyRing.open(store, { now: clock.now });
  const oldKid = ring.activeKid;

  const newKid = await ring.rotate();
  assert.notEqual(newKid, oldKid);
  assert.equal(ring.activeKid, newKid);
  assert.deepEqual(ring.jwks().keys.map((k) => k.kid), [newKid, oldKid]);
  assert.ok(ring.verificationKey(oldKid));

  clock.advance(DEFAULT_RETENTION_MS / 1000 - 1);
  assert.ok(ring.verificationKey(oldKid));

  clock.advance(1);
  assert.deepEqual(ring.jwks().keys.map((k) => k.kid), [newKid]);
  assert.equal(ring.verificationKey(oldKid), undefined);
  assert.deepEqual(await ring.prune(), [oldKid]);
  assert.deepEqual([...store.rows.keys()], [newKid]);
});

Deno.test("KeyRing retention outlasts the longest token lifetime", () => {
  assert.ok(DEFAULT_RETENTION_MS >= (300 + 30) * 1000);
});

Deno.test("KeyRing.refresh() picks up a rotation made by another instance", async () => {
  const clock = new FakeClock();
  const store = memoryKeyStore(SECRET);
  const a = await KeyRing.open(store, { now: clock.now });
  const b = await KeyRing.open(store, { now: clock.now });
  const newKid = await a.rotate();
  assert.equal(b.jwks().keys.length, 1);
  await b.refresh();
  assert.equal(b.activeKid, newKid);
  assert.equal(b.jwks().keys.length, 2);
});

Deno.test("KeyRing.refresh() settles on one active key when instances raced", async () => {
  const clock = new FakeClock();
  const rows = memoryKeyStore(SECRET).rows;
  const a = await KeyRing.open(memoryKeyStore(SECRET, rows), { now: clock.now });
  // Another instance saw an empty table at the same moment and made its own key.
  const rowA = rows.get(a.activeKid)!;
  rows.clear();
  clock.advance(1);
  const b = await KeyRing.open(memoryKeyStore(SECRET, rows), { now: clock.now });
  rows.set(rowA.kid, rowA);
  assert.notEqual(a.activeKid, b.activeKid);

  await a.refresh();
  await b.refresh();
  assert.equal(a.activeKid, b.activeKid);
  assert.equal(a.jwks().keys.length, 2, "the losing key must stay published for a while");
  const stored = await memoryKeyStore(SECRET, rows).load();
  assert.equal(stored.filter((k) => k.retiredAt === null).length, 1);
});

Deno.test("KeyRing.maintain() rotates once the active key is older than the interval", async () => {
  const clock = new FakeClock();
  const ring = await KeyRing.open(memoryKeyStore(SECRET), {
    now: clock.now,
    rotationIntervalMs: 3600_000,
  });
  const first = ring.activeKid;
  await ring.maintain();
  assert.equal(ring.activeKid, first);
  clock.advance(3600);
  await ring.maintain();
  assert.notEqual(ring.activeKid, first);
});

Deno.test("KeyRing.open() fails loudly when the secret does not open the stored keys", async () => {
  const store = memoryKeyStore(SECRET);
  await KeyRing.open(store);
  const wrong = memoryKeyStore("not-the-secret-0123456789-abcdefghijk", store.rows);
  await assert.rejects(KeyRing.open(wrong), /wrong LOTSE_KEY_SECRET/);
  assert.equal(store.rows.size, 1, "a fresh key was made instead of failing");
});

Deno.test("KeyRing.fromPem() signs with the first PKCS#8 key and publishes all", async () => {
  const pems = await Promise.all([1, 2].map(async () => {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    return await exportPKCS8(privateKey);
  }));
  const ring = await KeyRing.fromPem(pems);
  assert.equal(ring.jwks().keys.length, 2);
  assert.equal(ring.signingKey().key.extractable, false);
  await assert.rejects(ring.rotate(), /loaded from PEM/);
});

Deno.test("KeyRing.fromPem() refuses a PEM that is not an EC P-256 or Ed25519 PKCS#8 key", async () => {
  const { privateKey } = await generateKeyPair("ES384", { extractable: true });
  await assert.rejects(KeyRing.fromPem(await exportPKCS8(privateKey)), /Cannot read PEM key #1/);
  await assert.rejects(KeyRing.fromPem("not a pem"), /Cannot read PEM key #1/);
});

Deno.test("KeyRing.maintain() on a second instance adopts the rotation instead of repeating it", async () => {
  const clock = new FakeClock();
  const store = memoryKeyStore(SECRET);
  const options = { now: clock.now, rotationIntervalMs: 3600_000 };
  const a = await KeyRing.open(store, options);
  const b = await KeyRing.open(store, options);
  clock.advance(3600);
  await a.maintain();
  await b.maintain();
  assert.equal(b.activeKid, a.activeKid);
  assert.equal(store.rows.size, 2);
});

Deno.test("KeyRing with algorithm EdDSA publishes an OKP Ed25519 key announced as EdDSA", async () => {
  const ring = await KeyRing.open(memoryKeyStore(SECRET), {
    now: new FakeClock().now,
    algorithm: "EdDSA",
  });
  const [key, ...more] = ring.jwks().keys;
  assert.equal(more.length, 0);
  assert.deepEqual(Object.keys(key!).sort(), ["alg", "crv", "kid", "kty", "use", "x"]);
  assert.deepEqual([key!.kty, key!.crv, key!.alg, key!.use], ["OKP", "Ed25519", "EdDSA", "sig"]);
  const canonical = JSON.stringify({ crv: key!.crv, kty: key!.kty, x: key!.x });
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical)),
  );
  assert.equal(ring.activeKid, digest.toBase64({ alphabet: "base64url", omitPadding: true }));
  const signer = ring.signingKey();
  assert.equal(signer.alg, "EdDSA");
  assert.equal(signer.key.algorithm.name, "Ed25519");
  assert.equal(signer.key.extractable, false);
  await assert.rejects(crypto.subtle.exportKey("jwk", signer.key));
});

Deno.test("KeyRing.open() switches to the configured algorithm once, keeping the old key published", async () => {
  const clock = new FakeClock();
  const store = memoryKeyStore(SECRET);
  const es256 = await KeyRing.open(store, { now: clock.now });
  const oldKid = es256.activeKid;
  clock.advance(10);
  const eddsa = await KeyRing.open(store, { now: clock.now, algorithm: "EdDSA" });
  assert.equal(eddsa.activeAlgorithm, "EdDSA");
  assert.notEqual(eddsa.activeKid, oldKid);
  assert.deepEqual(eddsa.jwks().keys.map((k) => [k.kid, k.alg]), [
    [eddsa.activeKid, "EdDSA"],
    [oldKid, "ES256"],
  ]);
  assert.ok(eddsa.verificationKey(oldKid));
  assert.equal(store.rows.get(eddsa.activeKid)!.alg, "EdDSA");
  assert.equal(store.rows.get(oldKid)!.alg, "ES256");

  const again = await KeyRing.open(store, { now: clock.now, algorithm: "EdDSA" });
  assert.equal(again.activeKid, eddsa.activeKid, "no second rotation");
  clock.advance(1);
  await again.rotate();
  assert.equal(again.activeAlgorithm, "EdDSA", "a scheduled rotation keeps the algorithm");

  clock.advance(DEFAULT_RETENTION_MS / 1000 - 1);
  assert.deepEqual(again.jwks().keys.map((k) => k.alg), ["EdDSA", "EdDSA"]);
});

Deno.test("KeyRing.fromPem() reads an Ed25519 PKCS#8 key and signs with EdDSA", async () => {
  const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
  const ring = await KeyRing.fromPem([await exportPKCS8(privateKey)]);
  assert.equal(ring.signingKey().alg, "EdDSA");
  assert.equal(ring.jwks().keys[0]!.kty, "OKP");
});
