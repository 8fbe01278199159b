import assert from "node:assert/strict";
import { freshDatabaseUrl, freshPostgres } from "../tests/pg.ts";
import { connectPostgres } from "./postgres.ts";
import { migrate } from "./migrate.ts";
import { openImportPreview, previewNotice } from "./import_preview.ts";
import { TABLES_CHANNEL } from "./tables.ts";

Deno.test("an import that ends while its preview is still being published publishes, then withdraws it", async () => {
  const db = await freshPostgres();
  try {
    const notices: string[] = [];
    const unlisten = await db.listen(TABLES_CHANNEL, (payload) => notices.push(payload));
    try {
      const preview = openImportPreview(db, (error) => assert.fail(String(error)));
      const line = (i: number) => `${i}\tr-${i}\tgewerbe\t08\tp-1\n`;
      await preview.write(new TextEncoder().encode(line(1) + line(2)));
      // Not awaited, as the import does not await it: the import fails meanwhile.
      const publishing = preview.publish(2);
      await preview.remove(false);
      const id = await publishing;
      assert.ok(id !== null, "published");
      const deadline = performance.now() + 10_000;
      while (notices.length < 2 && performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.deepEqual(notices.map(previewNotice), [{ published: id }, { gone: id }]);
      const [left] = await db.sql<{ n: number }>`
        select (select count(*) from import_previews)::int
          + (select count(*) from import_preview_routes)::int as n`;
      assert.equal(left!.n, 0);
    } finally {
      await unlisten();
    }
  } finally {
    await db.close();
  }
});

Deno.test("a preview an instance still reads is removed all the same", async () => {
  const url = await freshDatabaseUrl();
  const db = await connectPostgres(url, { max: 4 });
  await migrate(db);
  const instance = await connectPostgres(url, { max: 1 });
  let release = () => {};
  try {
    const preview = openImportPreview(db, (error) => assert.fail(String(error)));
    await preview.write(new TextEncoder().encode("1\tr-1\tgewerbe\t08\tp-1\n"));
    const id = await preview.publish(1);
    assert.ok(id !== null, "published");
    // An instance reading the preview holds the table: no TRUNCATE, a DELETE instead.
    let reading = () => {};
    const read = new Promise<void>((resolve) => reading = resolve);
    const held = new Promise<void>((resolve) => release = resolve);
    const reader = instance.transaction(async (tx) => {
      await tx.sql`select count(*) from import_preview_routes`;
      reading();
      await held;
    });
    await read;
    await preview.remove(true);
    const [left] = await db.sql<{ n: number }>`
      select (select count(*) from import_previews)::int
        + (select count(*) from import_preview_routes)::int as n`;
    assert.equal(left!.n, 0);
    release();
    await reader;
  } finally {
    release();
    await instance.close();
    await db.close();
  }
});
