/**
 * docs/targets.md P4 and P5 on the product: Lotse started as `deno task serve` runs it, the demo
 * register served over HTTPS with its own CA and registered through the admin API the way
 * an operator registers a provider (`PUT /admin/v1/providers/kba-zfzr` with `caCert`), curl
 * as the consumer, and nginx in front of the same provider as the reference, in alternating
 * rounds. Lotse and nginx run on the server core, the provider and curl on the load core.
 * Where nginx is not installed (the regression guard on a fresh machine), the reference can be
 * a Deno forwarder instead (`reference: "forwarder"`, loadtest/bare_server.ts `--forward`).
 * Beside nginx, the same rounds measure three Deno forwarders, P4's same-shape references (as
 * P1 has its shaped one): the runtime's own stream (`new Response(upstream.body)`), the body
 * through JavaScript a chunk at a time, and that with the provider's `Repr-Digest` checked. The
 * last two are built as Lotse's transfer is (`fetch`, a pull source) with none of its decisions:
 * what such a forwarder reaches on this runtime when it must see every chunk, or hash it too.
 *
 * Per round and path: curl's throughput, the server's CPU seconds per GiB, and Lotse's RSS
 * (sampled every 50 ms); then `concurrent` transfers of `concurrentBytes` at once with the
 * peak RSS beside them.
 *
 * @module
 */
import { createTestPki } from "../tests/tls.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";
import {
  ADMIN_TOKEN,
  Child,
  type Cleanups,
  cpuSeconds,
  demoToken,
  freePort,
  installed,
  LOAD_CPU,
  median,
  pinned,
  runNginx,
  SERVER_CPU,
  sleep,
  startBenchDatabase,
  startLotseProcess,
  waitForPort,
} from "./_harness.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const PROVIDER_ID = "kba-zfzr";
const EVIDENCE_TYPE = "fahrzeugzulassung";

/** Options of {@linkcode evidence}. */
export interface EvidenceOptions {
  /**
   * Alternating rounds of nginx, the same-shape references (when measured), Lotse with digest,
   * Lotse without (default 3).
   */
  readonly rounds?: number;
  /** Bytes per transfer (default 1 GiB). */
  readonly bytes?: number;
  /** Concurrent transfers for P5's second half (default 100; 0 skips it). */
  readonly concurrent?: number;
  /** Bytes of each concurrent transfer (default 10 MiB). */
  readonly concurrentBytes?: number;
  /** Extra `deno run` flags for Lotse (e.g. `--v8-flags=…`), to compare variants. */
  readonly denoFlags?: readonly string[];
  /** Extra environment for Lotse. */
  readonly env?: Readonly<Record<string, string>>;
  /** The checkout whose `deno task serve` is measured (default this one), for A/B runs. */
  readonly cwd?: string;
  /** A file that gets Lotse's output (its log lines, a `--trace-gc`). */
  readonly outFile?: string;
  /**
   * The reference in front of the same provider: nginx (default), or a Deno forwarder handing
   * the provider's body on as the runtime's own stream (needs nothing but Deno).
   */
  readonly reference?: "nginx" | "forwarder";
  /** The three Deno forwarders beside nginx (default: when the reference is nginx). */
  readonly shaped?: boolean;
}

/** One path's figures over the rounds. */
export interface PathFigures {
  readonly mibPerS: number[];
  readonly cpuSecondsPerGiB: number[];
}

/** What {@linkcode evidence} measured. */
export interface EvidenceResult {
  readonly bytes: number;
  readonly rounds: number;
  /** Which reference ran in front of the provider. */
  readonly referenceName: "nginx" | "forwarder";
  readonly reference: PathFigures;
  readonly digest: PathFigures;
  readonly plain: PathFigures;
  /**
   * The Deno forwarders in front of the same provider (loadtest/bare_server.ts `--forward`):
   * `runtime` hands the body on as the runtime's stream, `eachChunk` through JavaScript a chunk
   * at a time, `eachChunkSha256` hashes every chunk too. Null when not measured.
   */
  readonly shaped: Readonly<Partial<Record<ForwarderMode, PathFigures>>> | null;
  /** Median Lotse / reference throughput, with and without the provider's Repr-Digest. */
  readonly digestOverReference: number;
  readonly plainOverReference: number;
  /** The same from CPU seconds per GiB: the reference's median over Lotse's. */
  readonly digestCpuOverReference: number;
  readonly plainCpuOverReference: number;
  /**
   * Lotse's memory (MiB: RSS, and the JavaScript heap in use, reserved and external from its
   * `/metrics`) after ready, after the provider's registration, after the warm-up.
   */
  readonly rssStagesMiB: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Lotse's RSS growth over each verified 1 GiB transfer (MiB, peak minus before). */
  readonly rssGrowthMiB: number[];
  readonly concurrent: {
    readonly transfers: number;
    readonly bytesEach: number;
    readonly failed: number;
    /** Lotse's RSS right before the transfers started. */
    readonly rssBeforeMiB: number;
    readonly peakRssMiB: number;
    readonly ms: number;
  } | null;
}

/** How a Deno forwarder hands the provider's body on (loadtest/bare_server.ts). */
export type ForwarderMode = "runtime" | "eachChunk" | "eachChunkSha256";
const FORWARDER_FLAGS: Readonly<Record<ForwarderMode, readonly string[]>> = {
  runtime: [],
  eachChunk: ["--each-chunk"],
  eachChunkSha256: ["--each-chunk", "--sha256"],
};
const FORWARDER_MODES = Object.keys(FORWARDER_FLAGS) as ForwarderMode[];
// The V8 flags of `deno task serve` (deno.json), for the forwarders that see every chunk.
function serveV8Flags(root: string): string | undefined {
  return /--v8-flags=\S+/.exec(JSON.parse(Deno.readTextFileSync(`${root}deno.json`)).tasks.serve)
    ?.[0];
}

/** Resident set size of a process in MiB (VmRSS). */
export function rssMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kib / 1024;
}

/** Samples a process's RSS every `intervalMs` until `stop()`; returns the peak. */
function rssSampler(pid: number, intervalMs = 50): { stop(): number } {
  let peak = rssMiB(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMiB(pid));
    } catch { /* exited */ }
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      try {
        peak = Math.max(peak, rssMiB(pid));
      } catch { /* exited */ }
      return peak;
    },
  };
}

/** The `process_heap_*` and external memory gauges of Lotse's `/metrics`, in MiB. */
async function memoryMetrics(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const name of ["heap_used", "heap_total", "external_memory"]) {
    const value = new RegExp(`^process_${name}_bytes (\\S+)$`, "m").exec(text)?.[1];
    if (value !== undefined) out[name] = Number(value) / 1024 ** 2;
  }
  return out;
}

async function tablesVersion(url: string): Promise<number> {
  const res = await fetch(`${url}/readyz`);
  return Number((await res.json()).tablesVersion);
}

/** An RFC 8187 header value, so "§" travels as ASCII. */
function textHeader(text: string): string {
  return `UTF-8''${encodeURIComponent(text)}`;
}

interface CurlResult {
  readonly mibPerS: number;
}

/**
 * One POST through curl on the load core (where curl is not installed, loadtest/_consume.ts), its
 * body discarded; fails unless 200 and whole.
 */
export async function curlTransfer(
  url: string,
  headers: Record<string, string>,
  body: string,
  bytes: number,
): Promise<CurlResult> {
  // curl where installed (the consumer), else the same request from Deno.
  const [cmd, args] = installed("curl")
    ? pinned(LOAD_CPU, "curl", [
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code} %{size_download} %{speed_download}",
      "-X",
      "POST",
      ...Object.entries(headers).flatMap(([k, v]) => ["-H", `${k}: ${v}`]),
      "--data-binary",
      body,
      url,
    ])
    : pinned(LOAD_CPU, Deno.execPath(), [
      "run",
      "--allow-net=127.0.0.1",
      `${ROOT}loadtest/_consume.ts`,
      url,
      JSON.stringify(headers),
      body,
    ]);
  const output = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const [status, size, speed] = new TextDecoder().decode(output.stdout).split(" ");
  if (status !== "200" || Number(size) !== bytes) {
    throw new Error(`Transfer from ${url} failed: status ${status}, ${size} of ${bytes} bytes`);
  }
  return { mibPerS: Number(speed) / 1024 ** 2 };
}

/** Runs the P4/P5 measurement; every process it starts is registered in `cleanups`. */
export async function evidence(
  options: EvidenceOptions,
  cleanups: Cleanups,
): Promise<EvidenceResult> {
  const rounds = options.rounds ?? 3;
  const bytes = options.bytes ?? 1024 ** 3;
  const concurrent = options.concurrent ?? 100;
  const concurrentBytes = options.concurrentBytes ?? 10 * 1024 ** 2;
  const gib = bytes / 1024 ** 3;

  const db = await startBenchDatabase(cleanups);
  const lotse = await startLotseProcess(cleanups, db.url, {
    env: { LOTSE_PROVIDER_ALLOWED_NETWORKS: "127.0.0.0/8", ...options.env },
    denoFlags: [...options.denoFlags ?? []],
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.outFile ? { outFile: options.outFile } : {}),
  });
  const stages: Record<string, Record<string, number>> = {};
  const stage = async (name: string) => {
    stages[name] = { rss: rssMiB(lotse.child.pid), ...await memoryMetrics(lotse.url) };
  };
  await stage("ready");
  const dir = await Deno.makeTempDir({ prefix: "lotse-bench-evidence-" });
  cleanups.push(() => Deno.remove(dir, { recursive: true }));
  const pki = await createTestPki("Lotse Bench Provider CA");
  await Deno.writeTextFile(`${dir}/provider.pem`, pki.cert);
  await Deno.writeTextFile(`${dir}/provider.key`, pki.key);
  await Deno.writeTextFile(`${dir}/ca.pem`, pki.caCert);

  // The register, HTTPS with its own CA, checking Lotse's tokens against Lotse's JWKS.
  const providerPort = freePort();
  const provider = new Child("provider", "taskset", [
    "-c",
    LOAD_CPU,
    Deno.execPath(),
    "run",
    "--allow-net",
    "--allow-read",
    `${ROOT}demo/registers.ts`,
    "--port",
    String(providerPort),
    "--jwks",
    `${lotse.url}/.well-known/jwks.json`,
    "--cert",
    `${dir}/provider.pem`,
    "--key",
    `${dir}/provider.key`,
    "--precompute",
    [bytes, concurrentBytes].join(","),
  ]);
  cleanups.push(() => provider.stop());
  await waitForPort(providerPort, 120_000);
  const endpoint = `https://127.0.0.1:${providerPort}/providers/${PROVIDER_ID}`;

  // Registered the way an operator does it.
  const before = await tablesVersion(lotse.url);
  const put = await fetch(`${lotse.url}/admin/v1/providers/${PROVIDER_ID}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({
      name: "Kraftfahrt-Bundesamt (bench, HTTPS)",
      endpoint,
      caCert: pki.caCert,
    }),
  });
  if (!put.ok) throw new Error(`Cannot register the provider: ${put.status} ${await put.text()}`);
  await put.body?.cancel();
  const deadline = performance.now() + 10_000;
  while (await tablesVersion(lotse.url) === before) {
    if (performance.now() > deadline) throw new Error("The provider change never became visible");
    await sleep(20);
  }

  await stage("registered");

  const referenceName = options.reference ?? "nginx";
  const reference = referenceName === "nginx"
    ? await startNginx(cleanups, dir, providerPort)
    : await startForwarder(cleanups, dir, providerPort, "runtime");
  // With a Deno forwarder as the reference, the runtime's stream is measured already.
  const shapedModes = (options.shaped ?? referenceName === "nginx")
    ? FORWARDER_MODES.filter((mode) => referenceName === "nginx" || mode !== "runtime")
    : [];
  // The forwarders that see every chunk run with the V8 flags of the Lotse they stand beside.
  const v8Flags = serveV8Flags(options.cwd ? `${options.cwd}/` : ROOT);
  const shapedServers: { mode: ForwarderMode; port: number; pid: number }[] = [];
  for (const mode of shapedModes) {
    shapedServers.push({
      mode,
      ...await startForwarder(cleanups, dir, providerPort, mode, v8Flags),
    });
  }

  const consumerToken = await demoToken(lotse.url);
  const purpose = DEMO_PURPOSES.bewohnerparken;
  const lotseHeaders = {
    authorization: `Bearer ${consumerToken}`,
    "content-type": "application/json",
    "lotse-purpose": textHeader(purpose.purpose),
    "lotse-legal-basis": textHeader(purpose.legalBasis),
  };
  const lotseUrl = `${lotse.url}/v1/evidence/${EVIDENCE_TYPE}?ags=08111000`;
  // The reference's consumer needs what Lotse would send the provider: an evidence access token.
  const evidenceToken = async () => {
    const res = await fetch(`${lotse.url}/v1/authorizations`, {
      method: "POST",
      headers: { authorization: `Bearer ${consumerToken}`, "content-type": "application/json" },
      body: JSON.stringify({
        evidenceType: EVIDENCE_TYPE,
        providerId: PROVIDER_ID,
        purpose: purpose.purpose,
        legalBasis: purpose.legalBasis,
        idnrUsed: false,
      }),
    });
    if (res.status !== 201) throw new Error(`Authorization refused: ${await res.text()}`);
    return (await res.json()).token as string;
  };
  const referenceHeaders = async () => ({
    authorization: `Bearer ${await evidenceToken()}`,
    "content-type": "application/json",
    "lotse-evidence-type": EVIDENCE_TYPE,
  });
  const forwarderUrl = (port: number) => `http://127.0.0.1:${port}/providers/${PROVIDER_ID}`;
  const referenceUrl = forwarderUrl(reference.port);
  const demoBody = (size: number, digest: boolean) =>
    JSON.stringify({ demo: { bytes: size, ...(digest ? {} : { digest: false }) } });

  // Warm-up (JIT, connection pools), not counted.
  const warm = 64 * 1024 ** 2;
  await curlTransfer(referenceUrl, await referenceHeaders(), demoBody(warm, true), warm);
  for (const { port } of shapedServers) {
    await curlTransfer(forwarderUrl(port), await referenceHeaders(), demoBody(warm, true), warm);
  }
  await curlTransfer(lotseUrl, lotseHeaders, demoBody(warm, true), warm);
  await curlTransfer(lotseUrl, lotseHeaders, demoBody(warm, false), warm);
  await stage("warm");

  const figures = () => ({ mibPerS: [] as number[], cpuSecondsPerGiB: [] as number[] });
  const result = { reference: figures(), digest: figures(), plain: figures() };
  const shaped = Object.fromEntries(shapedModes.map((mode) => [mode, figures()])) as Record<
    ForwarderMode,
    PathFigures
  >;
  // The provider sends its Repr-Digest; the reference and the forwarders hand it on unchecked.
  const referenceRound = async (url: string, pid: number, into: PathFigures) => {
    const headers = await referenceHeaders();
    const cpu = cpuSeconds(pid);
    const r = await curlTransfer(url, headers, demoBody(bytes, true), bytes);
    into.mibPerS.push(r.mibPerS);
    into.cpuSecondsPerGiB.push((cpuSeconds(pid) - cpu) / gib);
  };
  const rssGrowthMiB: number[] = [];
  for (let round = 0; round < rounds; round++) {
    await referenceRound(referenceUrl, reference.pid, result.reference);
    for (const { mode, port, pid } of shapedServers) {
      await referenceRound(forwarderUrl(port), pid, shaped[mode]);
    }
    for (const [key, digest] of [["digest", true], ["plain", false]] as const) {
      const rssBefore = rssMiB(lotse.child.pid);
      const sampler = rssSampler(lotse.child.pid);
      const cpu = cpuSeconds(lotse.child.pid);
      const r = await curlTransfer(lotseUrl, lotseHeaders, demoBody(bytes, digest), bytes);
      result[key].cpuSecondsPerGiB.push((cpuSeconds(lotse.child.pid) - cpu) / gib);
      const peak = sampler.stop();
      result[key].mibPerS.push(r.mibPerS);
      if (digest) rssGrowthMiB.push(peak - rssBefore);
    }
  }

  let concurrentResult: EvidenceResult["concurrent"] = null;
  if (concurrent > 0) {
    const rssBeforeMiB = rssMiB(lotse.child.pid);
    const sampler = rssSampler(lotse.child.pid);
    const fan = new Child("fanout", "taskset", [
      "-c",
      LOAD_CPU,
      Deno.execPath(),
      "run",
      "--allow-net",
      `${ROOT}loadtest/_fanout.ts`,
      JSON.stringify({
        url: lotseUrl,
        headers: lotseHeaders,
        body: demoBody(concurrentBytes, true),
        count: concurrent,
        bytes: concurrentBytes,
      }),
    ]);
    const status = await fan.process.status;
    await fan.stop();
    const peak = sampler.stop();
    const line = fan.output.split("\n").find((l) => l.startsWith("FANOUT_JSON "));
    if (!status.success || !line) throw new Error(`Fan-out failed: ${fan.output.trim()}`);
    const out = JSON.parse(line.slice("FANOUT_JSON ".length));
    concurrentResult = {
      transfers: out.transfers,
      bytesEach: concurrentBytes,
      failed: out.failed,
      rssBeforeMiB,
      peakRssMiB: peak,
      ms: out.ms,
    };
  }

  const referenceMedian = median(result.reference.mibPerS);
  const referenceCpu = median(result.reference.cpuSecondsPerGiB);
  return {
    bytes,
    rounds,
    referenceName,
    ...result,
    shaped: shapedModes.length > 0 ? shaped : null,
    digestOverReference: median(result.digest.mibPerS) / referenceMedian,
    plainOverReference: median(result.plain.mibPerS) / referenceMedian,
    digestCpuOverReference: referenceCpu / median(result.digest.cpuSecondsPerGiB),
    plainCpuOverReference: referenceCpu / median(result.plain.cpuSecondsPerGiB),
    rssGrowthMiB,
    concurrent: concurrentResult,
    rssStagesMiB: stages,
  };
}

/** nginx in front of the provider, trusting its CA, on the server core; its worker's pid. */
async function startNginx(
  cleanups: Cleanups,
  dir: string,
  providerPort: number,
): Promise<{ port: number; pid: number }> {
  const port = freePort();
  const config = (await Deno.readTextFile(`${ROOT}loadtest/nginx.conf.tmpl`))
    .replaceAll("{{PREFIX}}", dir)
    .replaceAll("{{PORT}}", String(port))
    .replaceAll("{{UPSTREAM}}", `127.0.0.1:${providerPort}`)
    .replaceAll("{{SCHEME}}", "https")
    .replaceAll(
      "{{UPSTREAM_TLS}}",
      `proxy_ssl_trusted_certificate ${dir}/ca.pem; proxy_ssl_verify on; ` +
        "proxy_ssl_name localhost; proxy_ssl_session_reuse on;",
    );
  return {
    port,
    pid: await runNginx(cleanups, { name: "nginx", dir, config, port, cpu: SERVER_CPU }),
  };
}

/**
 * The `deno` arguments of a Deno forwarder (loadtest/bare_server.ts `--forward`) listening on
 * `port` in front of `upstream`, trusting the CA in `caFile`. The forwarders that see every
 * chunk get `v8Flags` (default: this checkout's `deno task serve`'s).
 */
export function forwarderArgs(
  port: number,
  upstream: string,
  caFile: string,
  mode: ForwarderMode,
  v8Flags = serveV8Flags(ROOT),
): string[] {
  return [
    "run",
    ...(mode !== "runtime" && v8Flags ? [v8Flags] : []),
    "--allow-net=127.0.0.1",
    `--allow-read=${caFile}`,
    `${ROOT}loadtest/bare_server.ts`,
    String(port),
    "--forward",
    upstream,
    "--ca",
    caFile,
    ...FORWARDER_FLAGS[mode],
  ];
}

/** A Deno forwarder (loadtest/bare_server.ts `--forward`) in front of the provider. */
async function startForwarder(
  cleanups: Cleanups,
  dir: string,
  providerPort: number,
  mode: ForwarderMode,
  v8Flags?: string,
): Promise<{ port: number; pid: number }> {
  const port = freePort();
  const upstream = `https://127.0.0.1:${providerPort}`;
  const forwarder = new Child(`forwarder-${mode}`, "taskset", [
    "-c",
    SERVER_CPU,
    Deno.execPath(),
    ...forwarderArgs(port, upstream, `${dir}/ca.pem`, mode, v8Flags),
  ]);
  cleanups.push(() => forwarder.stop());
  await waitForPort(port);
  return { port, pid: forwarder.pid };
}
