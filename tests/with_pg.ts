/**
 * Runs a command with a throwaway PostgreSQL cluster for the whole run:
 * `deno run -A tests/with_pg.ts deno test …`. The cluster's URL is passed in
 * `LOTSE_TEST_PG_URL`; the cluster is removed afterwards, whatever the command's outcome.
 */
import { startCluster } from "./_pg.ts";

if (Deno.args.length === 0) {
  console.error("Usage: deno run -A tests/with_pg.ts <command> [args…]");
  Deno.exit(2);
}
const cluster = await startCluster();
console.error(
  `Test PostgreSQL: ${cluster.bin}/postgres${cluster.user ? ` as user ${cluster.user}` : ""}`,
);
let code = 1;
try {
  const [cmd, ...args] = Deno.args as [string, ...string[]];
  // Inside `deno task`, "deno" means the Deno running this script (npx may be the only one).
  const child = new Deno.Command(cmd === "deno" ? Deno.execPath() : cmd, {
    args,
    env: { LOTSE_TEST_PG_URL: cluster.url },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const stop = () => {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  code = (await child.status).code;
} finally {
  await cluster.destroy();
}
Deno.exit(code);
