import assert from "node:assert/strict";
import { Spool } from "./_spool.ts";
import { outcomeEntry, type ProtocolEntry } from "./_entry.ts";

function entries(n: number): ProtocolEntry[] {
  return Array.from(
    { length: n },
    () =>
      outcomeEntry(crypto.randomUUID(), { outcome: "delivered", status: 200 }, {
        now: new Date(),
        hmacKey: "spool-test-key",
      }),
  );
}

// A getter read through a function: assert.equal() narrowed the property to a literal.
function pendingOf(spool: Spool): number {
  return spool.pending;
}

async function files(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".spool")) names.push(e.name);
  return names.sort();
}

Deno.test("a spool hands back its entries in order across segments and a reopen", async () => {
  const dir = await Deno.makeTempDir();
  const written = entries(30);
  let spool = await Spool.open(dir, { segmentMaxBytes: 1000 });
  for (let i = 0; i < 30; i += 5) await spool.append(written.slice(i, i + 5));
  assert.ok((await files(dir)).length > 1);
  await spool.close();
  spool = await Spool.open(dir, { segmentMaxBytes: 1000 });
  assert.equal(spool.pending, 30);
  const read: ProtocolEntry[] = [];
  for (;;) {
    const chunk = await spool.read(7);
    if (chunk.entries.length === 0 && pendingOf(spool) === 0) break;
    read.push(...chunk.entries);
    await spool.commit(chunk);
  }
  assert.deepEqual(read, written);
  assert.equal(pendingOf(spool), 0);
  assert.equal((await files(dir)).length, 1);
  assert.equal((await Deno.stat(`${dir}/${(await files(dir))[0]}`)).size, 0);
  await spool.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a spool cuts a torn last frame at open and appends after the good ones", async () => {
  const dir = await Deno.makeTempDir();
  const written = entries(3);
  let spool = await Spool.open(dir);
  await spool.append(written);
  await spool.close();
  const [name] = await files(dir);
  const path = `${dir}/${name}`;
  const size = (await Deno.stat(path)).size;
  await Deno.truncate(path, size - 10);
  spool = await Spool.open(dir);
  assert.equal(spool.pending, 2);
  const more = entries(1);
  await spool.append(more);
  const chunk = await spool.read(100);
  assert.deepEqual(chunk.entries, [...written.slice(0, 2), ...more]);
  await spool.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a spool keeps a damaged tail aside and warns", async () => {
  const dir = await Deno.makeTempDir();
  const written = entries(3);
  let spool = await Spool.open(dir);
  await spool.append(written);
  await spool.close();
  const [name] = await files(dir);
  const path = `${dir}/${name}`;
  const bytes = await Deno.readFile(path);
  bytes[bytes.length - 3]! ^= 0xff;
  await Deno.writeFile(path, bytes);
  const warnings: string[] = [];
  spool = await Spool.open(dir, { onWarning: (m) => warnings.push(m) });
  assert.equal(spool.pending, 2);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /damaged after byte \d+ \(checksum\)/);
  await spool.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a spool directory cannot be opened twice", async () => {
  const dir = await Deno.makeTempDir();
  const spool = await Spool.open(dir);
  await assert.rejects(() => Spool.open(dir), /another process holds it/);
  await spool.close();
  await Deno.remove(dir, { recursive: true });
});
