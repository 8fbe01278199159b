import assert from "node:assert/strict";
import postgres from "postgres";
import { startCluster } from "../tests/pg.ts";
import { CAN_PIN, pinCluster } from "./_harness.ts";

async function cpusAllowed(pid: number | string): Promise<string> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return status.match(/^Cpus_allowed_list:\s*(\S+)$/m)![1]!;
}

Deno.test({
  name: "pinCluster() moves the server and the backends it starts later to one CPU",
  ignore: Deno.build.os !== "linux",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // A cluster of its own: the tests' shared one must stay where the scheduler puts it.
    const cluster = await startCluster();
    try {
      const postmaster = (await Deno.readTextFile(`${cluster.dataDir}/postmaster.pid`))
        .split("\n")[0]!.trim();
      if (!CAN_PIN) {
        // A machine without taskset (a bare container): the benchmarks run unpinned, and say so.
        assert.equal(await pinCluster(cluster, "0"), "unpinned (no taskset)");
        return;
      }
      assert.equal(await pinCluster(cluster, "0"), "CPU 0");
      assert.equal(await cpusAllowed(postmaster), "0");
      const sql = postgres(cluster.url, { max: 1, onnotice: () => {} });
      try {
        const [row] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
        assert.equal(await cpusAllowed(row!.pid), "0");
      } finally {
        await sql.end();
      }
    } finally {
      await cluster.destroy();
    }
  },
});
