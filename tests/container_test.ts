/**
 * R7 for the container: the image runs as a non-root user, with Deno's permissions narrowed
 * to what Lotse needs — and Lotse really works with exactly those permissions (the
 * Dockerfile's flags, with its paths mapped onto this checkout, against PostgreSQL, through a
 * whole transfer). No Docker engine runs here, so the image itself is not built in tests.
 */
import assert from "node:assert/strict";
import { CONFIG_VARIABLES } from "../src/config.ts";
import { LIBC_PATHS } from "../src/serve.ts";
import { LIBCRYPTO_PATHS } from "../crypto/mod.ts";
import { POSTGRES_ENV_VARIABLES } from "../db/postgres.ts";
import { demoTransfer, spawnLotse } from "./_lotse_process.ts";
import { freshDatabaseUrl } from "./_pg.ts";
import { packagedBinDir } from "../db/embedded_postgres.ts";
import { exists } from "./_fs.ts";
import { dirname } from "node:path";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const dockerfile = await Deno.readTextFile(`${ROOT}/Dockerfile`);

/** The final stage's instructions, continuation lines joined. */
function finalStage(): string[] {
  const lines = dockerfile.replace(/\\\n/g, " ").split("\n").map((l) => l.trim());
  const from = lines.findLastIndex((l) => /^FROM\s/i.test(l));
  return lines.slice(from).filter((l) => l && !l.startsWith("#"));
}

function entrypoint(): string[] {
  const line = finalStage().find((l) => /^ENTRYPOINT\s/i.test(l));
  assert.ok(line, "the final stage has an ENTRYPOINT");
  return JSON.parse(line.replace(/^ENTRYPOINT\s+/i, "")) as string[];
}

Deno.test("the image runs as a non-root user", () => {
  const users = finalStage().filter((l) => /^USER\s/i.test(l)).map((l) => l.split(/\s+/)[1]);
  assert.ok(users.length > 0, "the final stage sets USER");
  const user = users.at(-1)!;
  assert.ok(!/^(root|0)(:|$)/.test(user), `USER is "${user}"`);
});

Deno.test("the entrypoint runs V8 with the flags of deno task serve and start", async () => {
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).tasks;
  const v8 = (words: string[]) => words.filter((w) => w.startsWith("--v8-flags="));
  const image = v8(entrypoint());
  // The young generation's cap is part of the product's memory figures (BENCHMARKS.md, P5).
  assert.ok(image.some((w) => /--max-semi-space-size=\d+/.test(w)), image.join(" "));
  for (const task of ["serve", "start"]) {
    assert.deepEqual(v8(String(tasks[task]).split(/\s+/)), image, `deno task ${task}`);
  }
});

Deno.test("the entrypoint narrows Deno's permissions", () => {
  const args = entrypoint();
  assert.deepEqual(args.slice(0, 2), ["deno", "run"]);
  assert.equal(args.at(-1), "src/main.ts");
  for (const flag of args) {
    assert.ok(!/^(-A|--allow-all|--allow-run|--allow-ffi|--allow-sys)$/.test(flag), flag);
    assert.ok(!/^--allow-(read|write|env)$/.test(flag), `${flag} without a list`);
  }
  const writes = args.find((a) => a.startsWith("--allow-write="))!.split("=")[1]!.split(",");
  assert.deepEqual(writes, ["/data"]);
  // FFI for libc and libcrypto only, at the paths the connection timeouts and the token
  // signer look for.
  const ffi = args.find((a) => a.startsWith("--allow-ffi="))!.split("=")[1]!.split(",");
  assert.ok(ffi.some((path) => LIBC_PATHS.includes(path)), ffi.join());
  assert.ok(ffi.some((path) => LIBCRYPTO_PATHS.includes(path)), ffi.join());
  assert.ok(ffi.every((path) => [...LIBC_PATHS, ...LIBCRYPTO_PATHS].includes(path)), ffi.join());
  const env = args.find((a) => a.startsWith("--allow-env="))!.split("=")[1]!.split(",");
  assert.deepEqual([...env].sort(), [...CONFIG_VARIABLES, ...POSTGRES_ENV_VARIABLES].sort());
});

/**
 * Lotse run with the entrypoint's flags, its paths mapped onto this checkout: against
 * PostgreSQL (`databaseUrl`) or (null) the image's embedded PostgreSQL from /opt/postgres,
 * here the npm package's copy. Running as root (this test, not the image), the embedded server
 * runs as an unprivileged user through `runuser` and `chown`, and Lotse must ask for its uid to
 * know: the image never needs these three.
 */
async function entrypointTransfer(databaseUrl: string | null): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "lotse-container-" });
  await Deno.chmod(dataDir, 0o755);
  const bin = databaseUrl === null ? await packagedBinDir() : null;
  if (databaseUrl === null) assert.ok(bin, "the npm package's PostgreSQL binaries");
  const map = (flag: string) => {
    let mapped = flag.replace(/\/app\b/g, ROOT).replace(/\/data\b/g, dataDir).replace(
      /\/deno-dir\b/g,
      Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
    );
    if (bin !== null) mapped = mapped.replace(/\/opt\/postgres\b/g, dirname(bin));
    if (mapped.startsWith("--allow-run=") && Deno.uid() === 0) mapped += ",runuser,chown";
    return mapped;
  };
  const args = entrypoint().slice(1, -1).filter((a) => a !== "--cached-only").map(map);
  if (Deno.uid() === 0) args.push("--allow-sys=uid");
  const lotse = await spawnLotse({
    databaseUrl,
    dataDir,
    denoArgs: args,
    env: bin === null ? {} : { LOTSE_POSTGRES_BIN: bin },
    readyTimeoutMs: 60_000,
  });
  try {
    const res = await demoTransfer(lotse);
    assert.equal(res.status, 200, await res.clone().text());
    assert.match(await res.text(), /S-LO 1234/);
    assert.ok(!/NotCapable|PermissionDenied|Requires .* access/.test(lotse.output), lotse.output);
    // The connection timeouts and the OpenSSL signer run inside the container's permissions.
    assert.doesNotMatch(lotse.output, /No header or idle timeout/);
    assert.match(lotse.output, /"signer":"openssl"/);
    if (databaseUrl === null) {
      assert.match(lotse.output, /"msg":"Embedded database","engine":"postgres"/);
      // Stopped the way `docker stop` stops it: the server goes with Lotse.
      assert.equal((await lotse.kill("SIGTERM")).code, 0, lotse.output);
      assert.ok(!await exists(`${dataDir}/postgres/postmaster.pid`), "postmaster.pid left");
    }
  } finally {
    await lotse.close();
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name: "Lotse serves a whole transfer with exactly the entrypoint's permissions",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => await entrypointTransfer(await freshDatabaseUrl()),
});

Deno.test({
  name: "the image's embedded PostgreSQL works with exactly the entrypoint's permissions",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => await entrypointTransfer(null),
});
