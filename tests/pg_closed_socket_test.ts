/**
 * postgres.js 3.4.9 ends the process when it writes to a connection the server closed
 * cleanly (porsager/postgres#1208): Lotse's guard keeps it alive. The fixture reproduces the
 * crash without the guard first, so the test proves both the crash and the cure.
 */
import assert from "node:assert/strict";
import { freshDatabaseUrl } from "./_pg.ts";

const FIXTURE = new URL("./fixtures/pg_closed_socket.ts", import.meta.url).pathname;

async function runFixture(url: string, ...flags: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", FIXTURE, url, ...flags],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

Deno.test("a write on a connection PostgreSQL closed does not end the process", async () => {
  const url = await freshDatabaseUrl();
  const bare = await runFixture(url, "--no-guard");
  assert.notEqual(bare.code, 0, `without the guard the crash should reproduce:\n${bare.output}`);
  assert.match(bare.output, /Cannot read properties of null \(reading 'write'\)/);
  const guarded = await runFixture(url);
  assert.equal(guarded.code, 0, guarded.output);
  assert.match(guarded.output, /^ALIVE postgres\.js wrote to a connection it had closed/m);
});

Deno.test("a query nobody waits for, failing on a lost connection, does not end the process", async () => {
  const url = await freshDatabaseUrl();
  const bare = await runFixture(url, "--rejection", "--no-guard");
  assert.notEqual(bare.code, 0, `without the guard the rejection should end it:\n${bare.output}`);
  assert.match(bare.output, /CONNECTION_CLOSED|ECONNRESET/);
  const guarded = await runFixture(url, "--rejection");
  assert.equal(guarded.code, 0, guarded.output);
  assert.match(guarded.output, /^ALIVE A database call failed on a lost connection/m);
});
