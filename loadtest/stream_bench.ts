/**
 * docs/targets.md P4: 1 GiB of evidence through forward() against nginx in the same run.
 *
 * Provider (demo/registers.ts) and curl on core 1, the proxies (nginx, and
 * tests/fixtures/forward_server.ts around forward()) on core 0:
 *
 * ```sh
 * deno run -A loadtest/stream_bench.ts [--rounds 3] [--bytes 1073741824] [--chunk 65536] \
 *   [--cases direct,nginx,digest,watched,passthrough]
 * ```
 *
 * Prints the median GiB/s of each path with every run, the ratio to nginx and to the direct
 * download from the same run, and for the forward paths the forwarder's CPU seconds per GiB
 * (median), which drift less than throughput on a shared machine.
 *
 * Needs `taskset`, `curl` and `/usr/sbin/nginx` (or `NGINX=…`).
 *
 * @module
 */
import { exportJWK, generateKeyPair } from "jose";
import { sealEvidenceToken } from "../crypto/mod.ts";
import { curlTransfer } from "./_evidence.ts";
import { freePort, waitForPort } from "./_harness.ts";
import { writeResult } from "./raw_results.ts";

const args = new Map<string, string>();
for (let i = 0; i < Deno.args.length - 1; i += 2) {
  args.set(Deno.args[i]!.replace(/^--/, ""), Deno.args[i + 1]!);
}
const ROUNDS = Number(args.get("rounds") ?? 3);
const BYTES = Number(args.get("bytes") ?? 1024 ** 3);
const CHUNK = Number(args.get("chunk") ?? 64 * 1024);
const CASES = new Set((args.get("cases") ?? "direct,nginx,digest,watched,passthrough").split(","));
const NGINX = Deno.env.get("NGINX") ?? "/usr/sbin/nginx";
const root = new URL("..", import.meta.url).pathname;

const children: Deno.ChildProcess[] = [];
const dir = await Deno.makeTempDir({ prefix: "lotse_stream_bench_" });

try {
  const keys = await generateKeyPair("ES256");
  const jwk = { ...await exportJWK(keys.publicKey), kid: "bench", alg: "ES256" };
  await Deno.writeTextFile(`${dir}/jwks.json`, JSON.stringify({ keys: [jwk] }));
  // An evidence token as Lotse seals it (the demo register verifies it with crypto/).
  const { token } = await sealEvidenceToken({
    consumerId: "bench-consumer",
    providerId: "demo",
    evidenceType: "fahrzeugzulassung",
    purpose: "bench",
    legalBasis: "bench",
    idnrUsed: false,
  }, {
    keys: { signingKey: () => ({ kid: "bench", alg: "ES256" as const, key: keys.privateKey }) },
    issuer: "lotse-bench",
  });

  const providerPort = await spawnWithPort(
    ["taskset", "-c", "1", Deno.execPath(), "run", "-A", "demo/registers.ts"],
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
    .replaceAll("{{UPSTREAM}}", `127.0.0.1:${providerPort}`)
    .replaceAll("{{SCHEME}}", "http")
    .replaceAll("{{UPSTREAM_TLS}}", "");
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
  const lotse = `http://127.0.0.1:${lotsePort}`;
  const allCases = [
    {
      key: "direct",
      name: "direct (curl → provider)",
      url: `http://127.0.0.1:${providerPort}/providers/demo`,
      digest: true,
    },
    {
      key: "nginx",
      name: "nginx",
      url: `http://127.0.0.1:${nginxPort}/providers/demo`,
      digest: true,
    },
    {
      key: "digest",
      name: "forward, digest verified",
      url: `${lotse}/evidence`,
      digest: true,
    },
    {
      key: "watched",
      name: "forward, no digest (watched)",
      url: `${lotse}/evidence`,
      digest: false,
    },
    {
      key: "passthrough",
      name: "forward, no digest (direct)",
      url: `${lotse}/evidence?mode=direct`,
      digest: false,
    },
  ];
  // nginx is the reference every ratio needs, so it always runs.
  const cases = allCases.filter((c) => c.key === "nginx" || CASES.has(c.key));
  const speeds = new Map<string, number[]>(cases.map((c) => [c.key, []]));
  const cpu = new Map<string, number[]>(cases.map((c) => [c.key, []]));
  const cpuMicros = async () => (await (await fetch(`${lotse}/rss`)).json()).cpuMicros as number;
  await curl(allCases[0]!.url, body(true), token, BYTES); // warm up
  await curl(`${lotse}/evidence`, body(true), token, BYTES);
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of cases) {
      const before = c.url.startsWith(lotse) ? await cpuMicros() : 0;
      speeds.get(c.key)!.push(await curl(c.url, body(c.digest), token, BYTES));
      if (c.url.startsWith(lotse)) {
        cpu.get(c.key)!.push((await cpuMicros() - before) / 1e6 / (BYTES / 1024 ** 3));
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const nginx = median(speeds.get("nginx")!);
  const direct = speeds.has("direct") ? median(speeds.get("direct")!) : null;
  console.log(`\n${BYTES} bytes, chunk ${CHUNK}, ${ROUNDS} rounds, medians (GiB/s):`);
  console.log("| path | GiB/s | runs | vs nginx | vs direct | forwarder CPU s/GiB |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const c of cases) {
    const runs = speeds.get(c.key)!;
    const m = median(runs);
    const seconds = cpu.get(c.key)!;
    console.log(
      `| ${c.name} | ${m.toFixed(3)} | ${runs.map((r) => r.toFixed(2)).join(" ")} | ${
        (100 * m / nginx).toFixed(0)
      } % | ${direct === null ? "–" : `${(100 * m / direct).toFixed(0)} %`} | ${
        seconds.length === 0 ? "–" : median(seconds).toFixed(2)
      } |`,
    );
  }
  const path = await writeResult("stream", {
    command: `deno run -A loadtest/stream_bench.ts ${Deno.args.join(" ")}`,
    bytes: BYTES,
    chunk: CHUNK,
    rounds: ROUNDS,
    gibPerSecond: Object.fromEntries(speeds),
    forwarderCpuSecondsPerGib: Object.fromEntries(cpu),
  });
  console.log(`Written to ${path}`);
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
  const headers = {
    authorization: `Bearer ${token}`,
    "content-type": "application/json",
    "lotse-evidence-type": "fahrzeugzulassung",
  };
  return (await curlTransfer(url, headers, body, bytes)).mibPerS / 1024;
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
