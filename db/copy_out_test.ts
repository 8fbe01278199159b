import assert from "node:assert/strict";
import { freshDatabaseUrl, freshPostgres } from "../tests/pg.ts";
import { connectPostgres } from "./postgres.ts";
import { CopyTextRows } from "./_copy_binary.ts";
import { migrate } from "./migrate.ts";
import { loadTable } from "./tables.ts";
import type { Provider, Route } from "../src/model.ts";

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

Deno.test("copyOut read in slices lets an HTTP server answer while a long COPY is read", async () => {
  // A reader that always has the next piece ready kept the event loop to itself: a request
  // to the instance waited until the whole COPY was read (it still does without `sliceMs`).
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
    }, { sliceMs: 20 });
    reading = false;
    await asked;
    assert.equal(answeredDuringRead, true, "the request was answered only after the COPY");
  } finally {
    client.close();
    await server.shutdown();
    await db.close();
  }
});

Deno.test("loadTable reads routes and providers in chunks of pages: every row of its snapshot once", async () => {
  const url = await freshDatabaseUrl();
  const db = await connectPostgres(url, { max: 2 });
  try {
    await migrate(db);
    // Several chunks of 64 pages each (~4,600 routes, ~5,000 providers), with rows deleted and
    // updated in place and elsewhere, so that dead tuples and moved versions lie between them.
    await db.exec(`
      insert into evidence_types (id, name) select 'et-' || i, 'Type ' || i
        from generate_series(0, 2) as i;
      insert into providers (id, name, endpoint, ca_cert, xnachweis_endpoint)
        select 'p-' || i, 'Provider ' || i, 'https://p' || i || '.example',
          case when i % 4 = 0 then 'ca-' || (i % 3) end,
          case when i % 5 = 0 then 'https://x' || i || '.example' end
        from generate_series(1, 16000) as i;
      insert into routes (id, evidence_type, region_key, provider_id)
        select 'r-' || i, 'et-' || (i % 3), lpad(i::text, 8, '0'), 'p-' || (1 + i % 16000)
        from generate_series(1, 30000) as i;
      delete from routes where substr(id, 3)::int % 7 = 0;
      update routes set provider_id = 'p-1' where substr(id, 3)::int % 5 = 0;
      delete from providers where substr(id, 3)::int % 11 = 0
        and not exists (select 1 from routes where provider_id = providers.id);
      update providers set name = 'Renamed ' || id where substr(id, 3)::int % 3 = 0;`);
    const pages = await db.sql<{ routes: number; providers: number }>`
      select pg_relation_size('routes') / 8192 as routes,
        pg_relation_size('providers') / 8192 as providers`;
    assert.ok(Number(pages[0]!.routes) > 3 * 64, `routes span ${pages[0]!.routes} pages`);
    assert.ok(Number(pages[0]!.providers) > 2 * 64, `providers span ${pages[0]!.providers} pages`);
    const sorted = <T extends { id: string }>(rows: Iterable<T>) =>
      [...rows].map((r) => ({ ...r })).sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    await db.transaction(async (tx) => {
      await tx.sql`set transaction isolation level repeatable read, read only`;
      const routesBefore = await tx.sql<Route>`select id, evidence_type as "evidenceType",
        region_key as "regionKey", provider_id as "providerId" from routes`;
      const providersBefore = await tx.sql<Provider>`select id, name, endpoint,
        ca_cert as "caCert", xnachweis_endpoint as "xnachweisEndpoint" from providers`;
      // Written after this transaction's snapshot, on another connection: not to be seen.
      const writer = await connectPostgres(url, { max: 1 });
      try {
        await writer.exec(`
          insert into routes (id, evidence_type, region_key, provider_id)
            select 'late-' || i, 'et-0', lpad((100000 + i)::text, 8, '0'), 'p-2'
            from generate_series(1, 5000) as i;
          delete from routes where id like 'r-%' and substr(id, 3)::int % 13 = 0;
          update providers set name = 'Later' where id = 'p-2';`);
      } finally {
        await writer.close();
      }
      const routes = await loadTable(tx, "routes");
      const providers = await loadTable(tx, "providers");
      assert.equal(routes.length, routesBefore.length);
      assert.deepEqual(sorted(routes), sorted(routesBefore));
      assert.equal(providers.length, providersBefore.length);
      assert.deepEqual(sorted(providers), sorted(providersBefore));
    });
  } finally {
    await db.close();
  }
});
