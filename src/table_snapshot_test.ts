import assert from "node:assert/strict";
import {
  readTableSnapshot,
  SnapshotError,
  SnapshotWriter,
  type TableCopy,
  writeTableSnapshot,
} from "./table_snapshot.ts";
import type { TableVersions } from "../db/tables.ts";

function copyOf(routes: number): TableCopy {
  return {
    tables: {
      regions: [{ ags: "08111000", ars: "081110000000", name: "Stuttgart" }],
      postcodes: [{ plz: "70173", places: [{ ags: "08111000", ort: "Stuttgart" }] }],
      evidenceTypes: [{ id: "x", name: "X", description: null }],
      providers: [{ id: "p", name: "P", endpoint: "https://p.example", caCert: null }],
      routes: Array.from({ length: routes }, (_, i) => ({
        id: `r${i}`,
        evidenceType: "x",
        regionKey: String(i).padStart(8, "0"),
        providerId: "p",
      })),
      clients: [],
      permissions: [],
    },
    versions: { "regions": 1, "routes": 7 } as TableVersions,
    keys: [{ kid: "k1", alg: "ES256", sealed: "abc", createdAt: 1, retiredAt: null }],
  };
}

Deno.test("a table snapshot reads back what was written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const copy = copyOf(12_345);
    await writeTableSnapshot(`${dir}/t`, copy);
    const back = await readTableSnapshot(`${dir}/t`);
    assert.deepEqual(back?.tables, copy.tables);
    assert.deepEqual(back?.versions, copy.versions);
    assert.deepEqual(back?.keys, copy.keys);
    assert.equal(await readTableSnapshot(`${dir}/none`), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a table snapshot with one changed byte, or cut short, is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeTableSnapshot(`${dir}/t`, copyOf(100));
    const bytes = await Deno.readFile(`${dir}/t`);
    const text = new TextDecoder().decode(bytes);
    await Deno.writeTextFile(`${dir}/changed`, text.replace('"r42"', '"r43"'));
    await assert.rejects(() => readTableSnapshot(`${dir}/changed`), SnapshotError);
    await Deno.writeFile(`${dir}/cut`, bytes.subarray(0, bytes.length - 90));
    await assert.rejects(() => readTableSnapshot(`${dir}/cut`), SnapshotError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SnapshotWriter folds a burst of requests into few writes", async () => {
  const dir = await Deno.makeTempDir();
  let reads = 0;
  const writer = new SnapshotWriter(`${dir}/t`, () => {
    reads++;
    return Promise.resolve(copyOf(10));
  }, { minIntervalMs: 60_000 });
  try {
    for (let i = 0; i < 50; i++) writer.schedule();
    while (writer.writes < 1) await new Promise((r) => setTimeout(r, 5));
    assert.equal(reads, 1);
    assert.ok(await readTableSnapshot(`${dir}/t`));
  } finally {
    await writer.close();
    await Deno.remove(dir, { recursive: true });
  }
});
