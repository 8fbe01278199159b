import assert from "node:assert/strict";
import { generateStoredKey } from "../crypto/mod.ts";
import { openPglite } from "./pglite.ts";
import { dbKeyStore } from "./key_store.ts";

const SECRET = "test-secret-0123456789-abcdefghijklmnop";
const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);

Deno.test("dbKeyStore() keeps sealed keys in signing_keys and refuses a wrong secret", async () => {
  const db = await openPglite(null);
  try {
    await db.exec(
      await Deno.readTextFile(new URL("./migrations/002_signing_keys.sql", import.meta.url)),
    );
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
