import assert from "node:assert/strict";
import { freshPostgres } from "../tests/pg.ts";
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
