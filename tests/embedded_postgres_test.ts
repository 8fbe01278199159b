/**
 * The embedded PostgreSQL server after crashes: a start killed during `initdb` leaves a staging
 * directory that a later start removes, and a start after `kill -9` of the postmaster waits for
 * a backend of the dead server that still holds its shared memory instead of failing.
 */
import assert from "node:assert/strict";
import { openEmbeddedPostgres, removeStaleStaging } from "../db/embedded_postgres.ts";
import { postgresBinDir } from "./_pg.ts";
import { waitFor } from "./_wait.ts";

Deno.test("removeStaleStaging removes old staging directories of the data directory only", async () => {
  const root = await Deno.makeTempDir({ prefix: "lotse-staging-" });
  try {
    const dir = `${root}/postgres`;
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const name of ["postgres.init-old1", "postgres.init-new1", "other.init-old2"]) {
      await Deno.mkdir(`${root}/${name}/base`, { recursive: true });
      if (name.includes("old")) await Deno.utime(`${root}/${name}`, hourAgo, hourAgo);
    }
    await Deno.writeTextFile(`${root}/postgres.init-file`, "not a directory");
    await Deno.utime(`${root}/postgres.init-file`, hourAgo, hourAgo);

    assert.deepEqual(await removeStaleStaging(dir), [`${root}/postgres.init-old1`]);
    const left = [];
    for await (const entry of Deno.readDir(root)) left.push(entry.name);
    assert.deepEqual(left.sort(), ["other.init-old2", "postgres.init-file", "postgres.init-new1"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

async function postmasterPid(dir: string): Promise<number> {
  return Number((await Deno.readTextFile(`${dir}/postmaster.pid`)).split("\n")[0]);
}

function alive(pid: number): boolean {
  try {
    Deno.readTextFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}

async function logs(dir: string): Promise<string> {
  const read = (p: string) => Deno.readTextFile(p).catch(() => "");
  return await read(`${dir}/postgres.log.1`) + await read(`${dir}/postgres.log`);
}

Deno.test({
  name:
    "a start after kill -9 of the postmaster waits for its backend that still holds shared memory",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const bin = await postgresBinDir();
    const root = await Deno.makeTempDir({ prefix: "lotse-shm-" });
    await Deno.chmod(root, 0o755); // run as root, the server's user must reach it
    const dir = `${root}/postgres`;
    const first = await openEmbeddedPostgres(bin, dir);
    let backend: number | null = null;
    try {
      // A backend busy computing does not look for its postmaster: it outlives a kill -9.
      const [row] = await first.sql<{ pid: number }>`select pg_backend_pid() as pid`;
      backend = Number(row!.pid);
      const busy = first.sql`select count(*) from generate_series(1, 1e12::bigint)`
        .catch(() => null);
      await waitFor(async () => {
        const stat = await Deno.readTextFile(`/proc/${backend}/stat`).catch(() => "");
        return stat.slice(stat.lastIndexOf(")") + 2).startsWith("R");
      }, "the backend's query to run");
      const postmaster = await postmasterPid(dir);
      Deno.kill(postmaster, "SIGKILL");
      await waitFor(() => !alive(postmaster), "the postmaster to die");
      assert.ok(alive(backend), "the busy backend outlives its postmaster");
      // The old pool's end waits out its lost connection (postgres.js gives it 5 s).
      const closing = first.close().catch(() => {});

      // The next start meets the shared memory in use, and tries again until it is free.
      const second = openEmbeddedPostgres(bin, dir, { busyTimeoutMs: 120_000 });
      await waitFor(
        async () => /pre-existing shared memory block/.test(await logs(dir)),
        "the new server to find the old shared memory in use",
      );
      Deno.kill(backend, "SIGKILL");
      await busy; // its connection is gone with it
      const db = await second;
      try {
        const [one] = await db.sql<{ n: number }>`select 1 as n`;
        assert.equal(one!.n, 1);
      } finally {
        await db.close();
      }
      await closing;
    } finally {
      if (backend !== null && alive(backend)) Deno.kill(backend, "SIGKILL");
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
