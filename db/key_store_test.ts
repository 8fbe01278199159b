import assert from "node:assert/strict";
import { generateStoredKey } from "../crypto/mod.ts";
import { openPglite } from "./pglite.ts";
import { dbKeyStore } from "./key_store.ts";

const SECRET = "test-secret-0123456789-abcdefghijklmnop";
const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);

async function signingKeysTable() {
  const db = await openPglite(null);
  for (const file of ["002_signing_keys.sql", "013_signing_key_alg.sql"]) {
    await db.exec(await Deno.readTextFile(new URL(`./migrations/${file}`, import.meta.url)));
  }
  return db;
}

Deno.test("dbKeyStore() keeps sealed keys in signing_keys and refuses a wrong secret", async () => {
  const db = await signingKeysTable();
  try {
    const store = dbKeyStore(db, SECRET);
    const key = await generateStoredKey(T0);
    await store.save(key);
    await store.save({ ...key, retiredAt: T0 + 1000 });
    assert.deepEqual(await store.load(), [{ ...key, retiredAt: T0 + 1000 }]);

    const [row] = await db.sql<{ sealed_private_jwk: string }>`select * from signing_keys`;
    assert.ok(!JSON.stringify(row).includes(key.privateJwk.d!));

    const wrong = dbKeyStore(db, "another-secret-0123456789-abcdefghijkl");
    await assert.rejects(wrong.load(), /wrong LOTSE_KEY_SECRET/);

    await store.remove(key.kid);
    assert.deepEqual(await store.load(), []);
  } finally {
    await db.close();
  }
});

Deno.test("dbKeyStore() keeps an Ed25519 key with alg EdDSA beside an ES256 key", async () => {
  const db = await signingKeysTable();
  try {
    const store = dbKeyStore(db, SECRET);
    const ec = await generateStoredKey(T0, "ES256");
    const ed = await generateStoredKey(T0 + 1, "EdDSA");
    await store.save(ec);
    await store.save(ed);
    assert.deepEqual(await store.load(), [ec, ed]);
    assert.equal(ed.privateJwk.crv, "Ed25519");
    const rows = await db.sql<{ kid: string; alg: string }>`
      select kid, alg from signing_keys order by created_at`;
    assert.deepEqual(rows.map((r) => ({ ...r })), [
      { kid: ec.kid, alg: "ES256" },
      { kid: ed.kid, alg: "EdDSA" },
    ]);
    await assert.rejects(
      db.sql`insert into signing_keys (kid, alg, sealed_private_jwk, created_at)
        values ('x', 'HS256', 'x', now())`,
      /signing_keys_alg_check/,
    );
  } finally {
    await db.close();
  }
});
