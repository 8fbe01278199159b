import assert from "node:assert/strict";
import { freshDatabaseUrl, freshPostgres } from "../tests/pg.ts";
import { connectPostgres } from "./postgres.ts";
import { CopyTextRows } from "./_copy_binary.ts";

Deno.test("copyOut streams a binary COPY that decodes to the rows, in a transaction too", async () => {
  const db = await freshPostgres();
  try {
    await db.exec(`create table t (a text not null, b text);
      insert into t select 'row-' || i, case when i % 3 = 0 then null else 'b-' || (i % 5) end
      from generate_series(1, 5000) as i;`);
    const read = async (q: typeof db | Parameters<Parameters<typeof db.transaction>[0]>[0]) => {
      const rows: (string | null)[][] = [];
      const decoder = new CopyTextRows(2, [1], (cells) => rows.push([...cells]));
      const source = await q
        .copyOut!`copy (select a, b from t order by a) to stdout (format binary)`;
      await source.read((chunk) => decoder.push(chunk));
      decoder.end();
      return rows;
    };
    const expected = (await db.sql<{ a: string; b: string | null }>`select a, b from t order by a`)
      .map((r) => [r.a, r.b]);
    assert.equal(expected.length, 5000);
    assert.deepEqual(await read(db), expected);
    assert.deepEqual(await db.transaction((tx) => read(tx)), expected);
  } finally {
    await db.close();
  }
});

Deno.test("copyOut rejects with the server's error or the reader's, and the pool goes on", async () => {
  // One connection: what follows the failed COPYs must run on the same one.
  const db = await connectPostgres(await freshDatabaseUrl(), { max: 1 });
  try {
    await assert.rejects(
      db.copyOut!`copy no_such_table to stdout (format binary)`,
      /no_such_table/,
    );
    const source = await db.copyOut!`copy (select 'x' || i from generate_series(1, 20000) as i)
      to stdout (format binary)`;
    let chunks = 0;
    await assert.rejects(
      source.read(() => {
        if (++chunks === 3) throw new Error("reader gave up");
      }),
      /reader gave up/,
    );
    assert.deepEqual(await db.sql`select 1 as one`, [{ one: 1 }]);
  } finally {
    await db.close();
  }
});

Deno.test("copyOut waits for a reader's promise before the next piece, and its rejection ends the read", async () => {
  // One connection: a read left hanging would stall the query after it.
  const db = await connectPostgres(await freshDatabaseUrl(), { max: 1 });
  try {
    const source = await db.copyOut!`copy (select 'line-' || i from generate_series(1, 20000) as i)
      to stdout`;
    let text = "";
    let waiting = false;
    let overlapped = false;
    await source.read((chunk) => {
      if (waiting) overlapped = true;
      text += new TextDecoder().decode(chunk);
      // Every 100th piece is taken later (a sink that is full): nothing may come meanwhile.
      if (text.length % 100 !== 0) return undefined;
      waiting = true;
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          waiting = false;
          resolve();
        }, 1)
      );
    });
    assert.equal(overlapped, false, "a piece came while the reader's promise was pending");
    const lines = text.trimEnd().split("\n");
    assert.equal(lines.length, 20000);
    assert.equal(lines[19999], "line-20000");

    const failing = await db.copyOut!`copy (select 'x' || i from generate_series(1, 20000) as i)
      to stdout`;
    let pieces = 0;
    await assert.rejects(
      failing.read(() => ++pieces === 5 ? Promise.reject(new Error("sink broke")) : undefined),
      /sink broke/,
    );
    assert.deepEqual(await db.sql`select 1 as one`, [{ one: 1 }]);
  } finally {
    await db.close();
  }
});

Deno.test("copyOut lets an HTTP server answer while a long COPY is read", async () => {
  // A reader that always has the next piece ready kept the event loop to itself: a request
  // to the instance waited until the whole COPY was read.
  const db = await connectPostgres(await freshDatabaseUrl(), { max: 1 });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("ok"),
  );
  const client = Deno.createHttpClient({});
  try {
    await db.exec(`create table big as select repeat('x', 60) || i as a
      from generate_series(1, 60000) as i`);
    const source = await db.copyOut!`copy big to stdout (format binary)`;
    let asked: Promise<void> | null = null;
    let answeredDuringRead = false;
    let reading = true;
    let pieces = 0;
    await source.read(() => {
      // Decoding work, as a table load does.
      if (++pieces % 4 === 0) {
        const until = performance.now() + 0.2;
        while (performance.now() < until) { /* busy */ }
      }
      asked ??= fetch(`http://127.0.0.1:${server.addr.port}/`, { client })
        .then((res) => res.text())
        .then(() => {
          answeredDuringRead = reading;
        });
    });
    reading = false;
    await asked;
    assert.equal(answeredDuringRead, true, "the request was answered only after the COPY");
  } finally {
    client.close();
    await server.shutdown();
    await db.close();
  }
});
