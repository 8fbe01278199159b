/**
 * `deno task start` as a newcomer runs it: no `DATABASE_URL`, so Lotse runs the embedded
 * PostgreSQL server (db/embedded_postgres.ts) in its data directory, makes its own secrets
 * there, serves the demo, and comes back with the same data after a restart, after `kill -9`,
 * and after `kill -9` of the server too (a stale `postmaster.pid`). It leaves no server
 * process behind.
 *
 * The task's command line is read from deno.json and run directly: `deno task` does not pass
 * SIGTERM on to its child, and the test must stop and restart the process it started.
 */
import assert from "node:assert/strict";
import { demoTransfer, type LotseProcess, spawnLotse } from "./_lotse_process.ts";
import { waitFor } from "./_wait.ts";

const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
const START: string[] = (config.tasks.start as string).split(/\s+/);

/** The postmaster's pid from its lock file, or null without one. */
async function postmasterPid(lotse: LotseProcess): Promise<number | null> {
  const text = await Deno.readTextFile(`${lotse.dataDir}/postgres/postmaster.pid`).catch(() =>
    null
  );
  return text === null ? null : Number(text.split("\n")[0]);
}

function parentOf(pid: number): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  return parentOf(pid) !== null;
}

/** Processes whose command line names `dir` (the postmaster and its watcher name it). */
function processesOf(dir: string): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).includes(dir)) {
        found.push(Number(entry.name));
      }
    } catch { /* gone */ }
  }
  return found;
}

async function transfer(lotse: LotseProcess): Promise<string> {
  const res = await demoTransfer(lotse);
  assert.equal(res.status, 200, await res.clone().text());
  assert.match(await res.text(), /S-LO 1234/);
  return res.headers.get("lotse-transfer-id")!;
}

async function kids(lotse: LotseProcess): Promise<string[]> {
  const jwks = await (await fetch(`${lotse.url}/.well-known/jwks.json`)).json();
  return jwks.keys.map((k: { kid: string }) => k.kid);
}

/** The transfer's record, once the protocol has it (a spool is replayed after a crash). */
async function recorded(lotse: LotseProcess, id: string): Promise<void> {
  const token = await lotse.token("stuttgart-bewohnerparken");
  await waitFor(async () => {
    const res = await fetch(`${lotse.url}/v1/transfers/${id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const body = await res.json();
    return res.status === 200 && body.transferId === id && body.outcome === "delivered";
  }, `the record of transfer ${id}`);
}

Deno.test({
  name: "deno task start runs the embedded PostgreSQL, keeps its data and leaves no server behind",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    assert.equal(START[0], "deno");
    assert.ok(START.includes("src/main.ts"));
    const lotse = await spawnLotse({
      databaseUrl: null,
      args: START.slice(1),
      readyTimeoutMs: 120_000,
    });
    try {
      const id = await transfer(lotse);
      assert.match(lotse.output, /"msg":"Embedded database","engine":"postgres"/);
      assert.doesNotMatch(lotse.output, /DATABASE_URL/);

      // The embedded cluster and the secrets live in the data directory.
      const files = [];
      for await (const entry of Deno.readDir(lotse.dataDir)) files.push(entry.name);
      assert.deepEqual(
        files.filter((f) => ["postgres", "key-secret", "protocol-key"].includes(f)).sort(),
        ["key-secret", "postgres", "protocol-key"],
      );
      assert.equal((await Deno.readTextFile(`${lotse.dataDir}/postgres/PG_VERSION`)).trim(), "15");

      // The server is Lotse's descendant, listens on no TCP port, only on its Unix socket.
      const first = (await postmasterPid(lotse))!;
      let ancestor: number | null = first;
      while (ancestor !== null && ancestor > 1 && ancestor !== lotse.pid) {
        ancestor = parentOf(ancestor);
      }
      assert.equal(ancestor, lotse.pid, `postmaster ${first} is not a descendant of Lotse`);
      const pidFile = (await Deno.readTextFile(`${lotse.dataDir}/postgres/postmaster.pid`))
        .split("\n");
      assert.equal(pidFile[5]?.trim(), "", `listen address "${pidFile[5]}"`);
      assert.equal(pidFile[4], `${await Deno.realPath(lotse.dataDir)}/postgres`);

      // SIGTERM: Lotse stops its server before it exits.
      const keys = await kids(lotse);
      const status = await lotse.kill("SIGTERM");
      assert.equal(status.code, 0, lotse.output);
      assert.ok(!alive(first), `postmaster ${first} outlived Lotse`);
      assert.deepEqual(processesOf(`${lotse.dataDir}/postgres`), []);
      assert.equal(await postmasterPid(lotse), null, "a clean shutdown removes postmaster.pid");

      // A restart keeps the protocol and the signing keys.
      await lotse.start();
      assert.deepEqual(await kids(lotse), keys);
      await recorded(lotse, id);

      // kill -9 of Lotse: the watcher shuts the server down; the next start gets the data.
      const second = (await postmasterPid(lotse))!;
      assert.notEqual(second, first);
      const id2 = await transfer(lotse);
      await lotse.kill("SIGKILL");
      await waitFor(() => !alive(second), `postmaster ${second} to end after Lotse's kill -9`);
      await lotse.start();
      assert.deepEqual(await kids(lotse), keys);
      await recorded(lotse, id2);

      // kill -9 of both: a stale postmaster.pid, crash recovery at the next start.
      const third = (await postmasterPid(lotse))!;
      const id3 = await transfer(lotse);
      await recorded(lotse, id3);
      Deno.kill(third, "SIGKILL");
      await lotse.kill("SIGKILL");
      assert.equal(await postmasterPid(lotse), third, "the lock file stays behind");
      await lotse.start();
      assert.deepEqual(await kids(lotse), keys);
      await recorded(lotse, id3);
      await transfer(lotse);
    } finally {
      // close() kills Lotse (SIGKILL): its watcher stops the server. A failing run must not
      // leave its server behind either.
      const pid = await postmasterPid(lotse);
      await lotse.close();
      await waitFor(() => processesOf(`${lotse.dataDir}/postgres`).length === 0, "no server left")
        .catch((error) => {
          if (pid !== null && alive(pid)) Deno.kill(pid, "SIGQUIT");
          throw error;
        });
    }
  },
});
