import assert from "node:assert/strict";
import { generateStoredKey } from "./keys.ts";
import { memoryKeyStore, openKey, sealKey } from "./key_store.ts";
import { SECRET, T0 } from "./_testing.ts";

Deno.test("memoryKeyStore() seals a key at rest and opens it again", async () => {
  const store = memoryKeyStore(SECRET);
  const key = await generateStoredKey(T0);
  await store.save(key);

  const row = store.rows.get(key.kid)!;
  assert.ok(!row.sealed.includes(key.privateJwk.d!), "private scalar stored in the clear");
  assert.ok(!JSON.stringify(row).includes(key.privateJwk.d!));

  const [loaded] = await store.load();
  assert.deepEqual(loaded, key);
});

Deno.test("memoryKeyStore() with the wrong secret fails loudly on load", async () => {
  const store = memoryKeyStore(SECRET);
  await store.save(await generateStoredKey(T0));
  const wrong = memoryKeyStore("another-secret-0123456789-abcdefghijkl", store.rows);
  await assert.rejects(wrong.load(), /Cannot decrypt signing key ".+": wrong LOTSE_KEY_SECRET/);
});

Deno.test("openKey() refuses a sealed key moved under another kid", async () => {
  const key = await generateStoredKey(T0);
  const row = await sealKey(key, SECRET);
  await assert.rejects(openKey({ ...row, kid: "other-kid" }, SECRET), /Cannot decrypt/);
});

Deno.test("openKey() refuses a tampered ciphertext", async () => {
  const row = await sealKey(await generateStoredKey(T0), SECRET);
  const last = row.sealed.at(-2) === "A" ? "B" : "A";
  const tampered = row.sealed.slice(0, -2) + last + row.sealed.slice(-1);
  await assert.rejects(openKey({ ...row, sealed: tampered }, SECRET), /Cannot decrypt/);
});

Deno.test("sealKey() uses a fresh salt and iv every time", async () => {
  const key = await generateStoredKey(T0);
  const a = await sealKey(key, SECRET);
  const b = await sealKey(key, SECRET);
  assert.notEqual(a.sealed, b.sealed);
});

Deno.test("memoryKeyStore() refuses a secret shorter than 32 characters", () => {
  assert.throws(() => memoryKeyStore("short"), /expected at least 32 characters/);
});

Deno.test("memoryKeyStore().remove() deletes the row", async () => {
  const store = memoryKeyStore(SECRET);
  const key = await generateStoredKey(T0);
  await store.save(key);
  await store.remove(key.kid);
  assert.deepEqual(await store.load(), []);
});
