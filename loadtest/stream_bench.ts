/**
 * TARGETS P4: 1 GiB of evidence through forward() against nginx in the same run.
 *
 * Provider (src/demo_provider.ts) and curl on core 1, the proxies (nginx, and
 * tests/fixtures/forward_server.ts around forward()) on core 0:
 *
 * ```sh
 * deno run -A loadtest/stream_bench.ts [--rounds 3] [--bytes 1073741824] [--chunk 65536]
 * ```
 *
 * Needs `taskset`, `curl` and `/usr/sbin/nginx` (or `NGINX=…`).
 *
 * @module
 */
import { exportJWK, generateKeyPair, SignJWT } from "jose";

const args = new Map<string, string>();
for (let i = 0; i < Deno.args.length - 1; i += 2) {
  args.set(Deno.args[i]!.replace(/^--/, ""), Deno.args[i + 1]!);
}
const ROUNDS = Number(args.get("rounds") ?? 3);
const BYTES = Number(args.get("bytes") ?? 1024 ** 3);
const CHUNK = Number(args.get("chunk") ?? 64 * 1024);
const NGINX = Deno.env.get("NGINX") ?? "/usr/sbin/nginx";
const root = new URL("..", import.meta.url).pathname;

const children: Deno.ChildProcess[] = [];
const dir = await Deno.makeTempDir({ prefix: "lotse_stream_bench_" });

try {
  const keys = await generateKeyPair("ES256");
  const jwk = { ...await exportJWK(keys.publicKey), kid: "bench", alg: "ES256" };
  await Deno.writeTextFile(`${dir}/jwks.json`, JSON.stringify({ keys: [jwk] }));
  const token = await new SignJWT({ evidence_type: "fahrzeugzulassung" })
    .setProtectedHeader({ alg: "ES256", kid: "bench" })
    .setAudience("demo")
    .setExpirationTime("1h")
    .sign(keys.privateKey);

  const providerPort = await spawnWithPort(
    ["taskset", "-c", "1", Deno.execPath(), "run", "-A", "src/demo_provider.ts"],
    ["--jwks", `${dir}/jwks.json`, "--precompute", String(BYTES)],
  );
  const lotsePort = await spawnWithPort(
    ["taskset", "-c", "0", Deno.execPath(), "run", "-A", "tests/fixtures/forward_server.ts"],
    [],
    { PROVIDER_ENDPOINT: `http://127.0.0.1:${providerPort}/providers/demo`, TOKEN: token },
  );
  const nginxPort = freePort();
  const config = (await Deno.readTextFile(`${root}/loadtest/nginx.conf.tmpl`))
    .replaceAll("{{PREFIX}}", dir)
    .replaceAll("{{PORT}}", String(nginxPort))
    .replaceAll("{{UPSTREAM}}", `127.0.0.1:${providerPort}`);
  await Deno.writeTextFile(`${dir}/nginx.conf`, config);
  children.push(
    new Deno.Command("taskset", {
      args: ["-c", "0", NGINX, "-c", `${dir}/nginx.conf`, "-p", dir],
      stdout: "null",
      stderr: "inherit",
    }).spawn(),
  );
  await waitForPort(nginxPort);

  const body = (digest: boolean) =>
    JSON.stringify({
      demo: { bytes: BYTES, chunkBytes: CHUNK, ...(digest ? {} : { digest: false }) },
    });
  const cases = [
    {
      name: "direct (curl → provider)",
      url: `http://127.0.0.1:${providerPort}/providers/demo`,
      digest: true,
    },
    { name: "nginx", url: `http://127.0.0.1:${nginxPort}/providers/demo`, digest: true },
    {
      name: "forward, digest verified",
      url: `http://127.0.0.1:${lotsePort}/evidence`,
      digest: true,
    },
    {
      name: "forward, no digest (watched)",
      url: `http://127.0.0.1:${lotsePort}/evidence`,
      digest: false,
    },
    {
      name: "forward, no digest (direct)",
      url: `http://127.0.0.1:${lotsePort}/evidence?mode=direct`,
      digest: false,
    },
  ];
  const results = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  await curl(cases[0]!.url, body(true), token, BYTES); // warm up
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      results.get(c.name)!.push(await curl(c.url, body(c.digest), token, BYTES));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const nginx = median(results.get("nginx")!);
  const direct = median(results.get(cases[0]!.name)!);
  console.log(`\n${BYTES} bytes, chunk ${CHUNK}, ${ROUNDS} rounds, medians (GiB/s):`);
  console.log("| path | GiB/s | runs | vs nginx | vs direct |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const c of cases) {
    const runs = results.get(c.name)!;
    const m = median(runs);
    console.log(
      `| ${c.name} | ${m.toFixed(3)} | ${runs.map((r) => r.toFixed(2)).join(" ")} | ${
        (100 * m / nginx).toFixed(0)
      } % | ${(100 * m / direct).toFixed(0)} % |`,
    );
  }
} finally {
  for (const child of children) {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
  }
  await Deno.remove(dir, { recursive: true });
}

async function curl(url: string, body: string, token: string, bytes: number): Promise<number> {
  const output = await new Deno.Command("taskset", {
    args: [
      "-c",
      "1",
      "curl",
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code} %{size_download} %{speed_download}",
      "-X",
      "POST",
      "-H",
      `authorization: Bearer ${token}`,
      "-H",
      "content-type: application/json",
      "-H",
      "lotse-evidence-type: fahrzeugzulassung",
      "--data-binary",
      body,
      url,
    ],
  }).output();
  const [status, size, speed] = new TextDecoder().decode(output.stdout).split(" ");
  if (status !== "200" || Number(size) !== bytes) {
    throw new Error(`Cannot benchmark ${url}: status ${status}, ${size} of ${bytes} bytes`);
  }
  return Number(speed) / 1024 ** 3;
}

async function spawnWithPort(
  command: string[],
  extra: string[],
  env: Record<string, string> = {},
): Promise<number> {
  const child = new Deno.Command(command[0]!, {
    args: [...command.slice(1), ...extra],
    cwd: root,
    env,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  children.push(child);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`Cannot start ${command.join(" ")}`);
    text += value;
  }
  reader.releaseLock();
  return JSON.parse(text.split("\n")[0]!).port;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`Nothing listens on port ${port}`);
}
