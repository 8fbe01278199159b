/**
 * CSV bulk imports through `POST /admin/v1/imports/:table` against a real PostgreSQL: quoted
 * line breaks, and every kind of bad CSV as a 4xx problem with a per-row report.
 */
import assert from "node:assert/strict";
import { bearer, startTestLotse, type TestLotse } from "./_app.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";

function importCsv(lotse: TestLotse, body: BodyInit, table = "regions"): Promise<Response> {
  return lotse.fetch(`/admin/v1/imports/${table}`, {
    method: "POST",
    headers: bearer(ADMIN, { "content-type": "text/csv" }),
    body,
  });
}

async function problem(res: Response, status: number, type: string) {
  const body = await res.json() as Record<string, unknown>;
  assert.equal(res.status, status, JSON.stringify(body));
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.equal(body.type, `https://lotse.dev/problems/${type}`);
  return body;
}

async function regionStatus(lotse: TestLotse, id: string): Promise<number> {
  const res = await lotse.fetch(`/admin/v1/regions/${id}`, { headers: bearer(ADMIN) });
  await res.body?.cancel();
  return res.status;
}

Deno.test({
  name: "CSV imports take quoted line breaks and report every bad CSV as a 4xx",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lotse = await startTestLotse({ serve: true });
    try {
      await t.step("a quoted line break, comma and quote stay inside their cell", async () => {
        const res = await importCsv(
          lotse,
          "\ufeffid,name,description\r\n" +
            'test-mehrzeilig,"Mehrzeilig, ""zitiert""","Erste Zeile\r\nzweite Zeile\ndritte"\r\n' +
            "\r\n" +
            "test-einzeilig,Einzeilig,\r\n",
          "evidence-types",
        );
        assert.equal(res.status, 200, await res.clone().text());
        assert.equal((await res.json()).imported, 2);
        const row = await (await lotse.fetch("/admin/v1/evidence-types/test-mehrzeilig", {
          headers: bearer(ADMIN),
        })).json();
        assert.equal(row.name, 'Mehrzeilig, "zitiert"');
        assert.equal(row.description, "Erste Zeile\r\nzweite Zeile\ndritte");
      });

      await t.step(
        "a wrong cell count is reported per row, at the line its record starts",
        async () => {
          const body = await problem(
            await importCsv(
              lotse,
              'id,name,description\ntest-a,A,"Über\nzwei Zeilen"\ntest-b,Zu wenig\n\ntest-c,C,,zu viel\n',
              "evidence-types",
            ),
            422,
            "unprocessable",
          );
          assert.deepEqual(body.errors, [
            { line: 4, message: "Expected 3 cells, got 2" },
            { line: 6, message: "Expected 3 cells, got 4" },
          ]);
          const res = await lotse.fetch("/admin/v1/evidence-types/test-a", {
            headers: bearer(ADMIN),
          });
          await res.body?.cancel();
          assert.equal(res.status, 404, "all rows or none");
        },
      );

      await t.step(
        "a route import (COPY) reports an id or a key twice, and a key another route keeps, at their lines",
        async () => {
          const kept = lotse.lotse.store.snapshot!.tables.routes.find((r) =>
            r.evidenceType === "fahrzeugzulassung"
          )!;
          const route = (id: string, regionKey: string) =>
            JSON.stringify({
              id,
              evidenceType: "fahrzeugzulassung",
              regionKey,
              providerId: "kba-zfzr",
            });
          const lines = [
            route("copy-a", "09999001"),
            route("copy-b", "09999002"),
            route("copy-a", "09999003"),
            route("copy-c", "09999002"),
            route("copy-d", kept.regionKey),
          ];
          const res = await lotse.fetch("/admin/v1/imports/routes", {
            method: "POST",
            headers: bearer(ADMIN, { "content-type": "application/x-ndjson" }),
            body: lines.join("\n"),
          });
          const body = await problem(res, 422, "unprocessable");
          assert.deepEqual(body.errors, [
            { line: 3, id: "copy-a", message: 'Duplicate id "copy-a"' },
            {
              line: 4,
              id: "copy-c",
              message:
                'evidenceType "fahrzeugzulassung" and regionKey "09999002" are taken by line 2',
            },
            {
              line: 5,
              id: "copy-d",
              message: `evidenceType "fahrzeugzulassung" and regionKey "${kept.regionKey}" are ` +
                `taken by route "${kept.id}"`,
            },
          ]);
          const version = lotse.lotse.store.snapshot!.versions.routes;
          const good = await lotse.fetch("/admin/v1/imports/routes", {
            method: "POST",
            headers: bearer(ADMIN, { "content-type": "application/x-ndjson" }),
            body: [lines[0], lines[1], route(kept.id, kept.regionKey)].join("\n"),
          });
          assert.equal(good.status, 200, await good.clone().text());
          assert.equal((await good.json()).version, version + 1);
          // The same rows again change nothing: no new version.
          const again = await lotse.fetch("/admin/v1/imports/routes", {
            method: "POST",
            headers: bearer(ADMIN, { "content-type": "application/x-ndjson" }),
            body: [lines[0], lines[1], route(kept.id, kept.regionKey)].join("\n"),
          });
          assert.equal((await again.json()).version, version + 1);
        },
      );

      await t.step(
        "a route import that breaks off mid-COPY is a 4xx, and the next import works",
        async () => {
          const row = (i: number) =>
            JSON.stringify({
              id: `cut-${i}`,
              evidenceType: "fahrzeugzulassung",
              regionKey: `0999${String(i).padStart(4, "0")}`,
              providerId: "kba-zfzr",
            }) + "\n";
          // Enough rows to be under way in the COPY, then a byte that is not UTF-8.
          const good = new TextEncoder().encode(
            Array.from({ length: 3000 }, (_, i) => row(i)).join(""),
          );
          const body = new Uint8Array([...good, 0xff, 0x0a]);
          const cut = await lotse.fetch("/admin/v1/imports/routes", {
            method: "POST",
            headers: bearer(ADMIN, { "content-type": "application/x-ndjson" }),
            body,
          });
          assert.equal(
            (await problem(cut, 400, "invalid-request")).detail,
            "Import body is not valid UTF-8",
          );
          for (let attempt = 0; attempt < 12; attempt++) {
            const res = await lotse.fetch("/admin/v1/imports/routes", {
              method: "POST",
              headers: bearer(ADMIN, { "content-type": "application/x-ndjson" }),
              body: row(1),
            });
            assert.equal(res.status, 200, await res.text());
          }
        },
      );

      await t.step("an unterminated quote is reported at the line its record starts", async () => {
        const body = await problem(
          await importCsv(lotse, 'id,name\n09999006,Gut\n09999007,"offen\nbis zum Ende\n'),
          422,
          "unprocessable",
        );
        const errors = body.errors as { line: number; message: string }[];
        assert.equal(errors.length, 1);
        assert.equal(errors[0]!.line, 3);
        assert.match(errors[0]!.message, /^Cannot read CSV: Quote Not Closed/);
        assert.equal(await regionStatus(lotse, "09999006"), 404);
      });

      await t.step("a stray quote inside a cell is reported, not a 500", async () => {
        const body = await problem(
          await importCsv(lotse, 'id,name\n09999008,"a"b\n'),
          422,
          "unprocessable",
        );
        assert.match(
          JSON.stringify(body.errors),
          /"line":2,"message":"Cannot read CSV: Invalid Closing Quote/,
        );
      });

      await t.step("a malformed header is a 400 naming the fault", async () => {
        for (
          const [csv, detail] of [
            ["name,ars\nX,\n", 'CSV header lacks an "id" column'],
            ["id,name,name\n09999009,X,Y\n", 'CSV header names column "name" twice'],
            ["id,,name\n09999009,,X\n", "CSV header has an empty column name at column 2"],
          ]
        ) {
          const body = await problem(await importCsv(lotse, csv!), 400, "invalid-request");
          assert.equal(body.detail, detail);
        }
      });

      await t.step("a body that is not UTF-8 is a 400", async () => {
        const latin1 = new Uint8Array([
          ...new TextEncoder().encode("id,name\n09999010,M"),
          0xfc, // "ü" in Latin-1
          ...new TextEncoder().encode("nchen\n"),
        ]);
        const body = await problem(await importCsv(lotse, latin1), 400, "invalid-request");
        assert.equal(body.detail, "Import body is not valid UTF-8");
      });

      await t.step("a record over 1 MiB is a 413", async () => {
        const body = `id,name\n09999011,"${"x".repeat(1024 * 1024 + 1)}"\n`;
        await problem(await importCsv(lotse, body), 413, "payload-too-large");
      });

      await t.step(
        "the upload is read as it arrives: a bad header is answered mid-upload",
        async () => {
          // The body never ends: an answer proves the server did not wait for all of it.
          const endless = new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(new TextEncoder().encode("name,ars\nX,\n"));
            },
          });
          const res = await lotse.fetch("/admin/v1/imports/regions", {
            method: "POST",
            headers: bearer(ADMIN, { "content-type": "text/csv" }),
            body: endless,
            signal: AbortSignal.timeout(20_000),
          });
          await problem(res, 400, "invalid-request");
        },
      );
    } finally {
      await lotse.close();
    }
  },
});
