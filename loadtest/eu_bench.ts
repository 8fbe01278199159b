/**
 * The EU face against the XML face, same run, same register, same data (`deno task bench:load
 * eu`): the Gewerbeanmeldung pilot as an EDM `query:QueryRequest` from the eDelivery access
 * point (parse, validate against ebRS/SDG, read, build and validate a 0301, decide, seal, record,
 * forward, read the 0302 as it streams and pass its evidence document on inside an EDM
 * response) vs the same pilot as a national
 * `DE.EvidenceRequest.0101` (parse, validate, hash, decide, seal, record, forward, stream back).
 * The register (loadtest/xnachweis_provider.ts, on the load generator's core) checks the token
 * and request hash on both. Reported: req/s and latency of each, and the ratio EU/XML.
 *
 * @module
 */
import { DEMO_PURPOSES } from "../demo/clients.ts";
import { DEMO_CLASSIFICATIONS } from "../demo/tables.ts";
import {
  ADMIN_TOKEN,
  Child,
  type Cleanups,
  demoToken,
  freePort,
  LOAD_CPU,
  loadAverage,
  median,
  sleep,
  startBenchDatabase,
  startLotseProcess,
} from "./_harness.ts";
import { runWrk, type WrkOptions, type WrkResult } from "./_wrk.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** What {@linkcode euRoundTrip} measured. */
export interface EuBenchResult {
  readonly durationS: number;
  readonly results: readonly { xml: WrkResult; eu: WrkResult; ratio: number }[];
  /** Median of EU req/s over XML req/s. */
  readonly ratio: number;
  readonly loadAverage: readonly (number | null)[];
}

/**
 * PostgreSQL, Lotse and the benchmark register (loadtest/xnachweis_provider.ts, answering the
 * JSON and XNachweis faces from the same data, on the load generator's core), and a `put` for
 * the admin API: the setup of P11 and of the EU comparison.
 */
export async function startBenchRegister(
  cleanups: Cleanups,
  options: {
    denoFlags?: string[];
    durable?: boolean;
    cwd?: string;
    checkEvery?: number;
    outFile?: string;
  } = {},
) {
  const db = await startBenchDatabase(cleanups, { durable: options.durable });
  const lotse = await startLotseProcess(cleanups, db.url, {
    env: { LOTSE_PROVIDER_ALLOWED_NETWORKS: "127.0.0.0/8" },
    ...(options.denoFlags === undefined ? {} : { denoFlags: options.denoFlags }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.outFile === undefined ? {} : { outFile: options.outFile }),
  });
  const providerPort = freePort();
  const provider = new Child("provider", "taskset", [
    "-c",
    LOAD_CPU,
    Deno.execPath(),
    "run",
    "-A",
    `${ROOT}loadtest/xnachweis_provider.ts`,
    "--port",
    String(providerPort),
    "--jwks",
    `${lotse.url}/.well-known/jwks.json`,
    "--issuer",
    lotse.url,
    "--check-every",
    String(options.checkEvery ?? 1),
  ]);
  cleanups.push(() => provider.stop());
  const put = async (path: string, body: unknown) => {
    const res = await fetch(`${lotse.url}/admin/v1/${path}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
  };
  return { lotse, db, provider, providerUrl: `http://127.0.0.1:${providerPort}`, put };
}

/** Runs the EDM vs XNachweis comparison. */
export async function euRoundTrip(
  args: { duration?: number; runs?: number },
  cleanups: Cleanups,
): Promise<EuBenchResult> {
  const durationS = args.duration ?? 10;
  const runs = args.runs ?? 1;
  const { lotse, providerUrl, put } = await startBenchRegister(cleanups);
  const id = "gewerberegister-08111000";
  await put("evidence-types/gewerberegisterauszug", {
    name: "Auszug aus dem Gewerberegister",
    classification: DEMO_CLASSIFICATIONS.gewerberegisterauszug,
  });
  await put(`providers/${id}`, {
    name: "Gewerberegister Stuttgart (benchmark)",
    endpoint: `${providerUrl}/providers/${id}`,
    xnachweisEndpoint: `${providerUrl}/xnachweis/providers/${id}`,
  });
  const purpose = DEMO_PURPOSES.gewerbe;
  const xml: WrkOptions = {
    paths: ["/xnachweis/v1/evidence-requests"],
    method: "POST",
    body: await Deno.readTextFile(`${ROOT}demo/xnachweis/gewerbeanmeldung.0101.xml`),
    contentType: "application/xml",
    headers: {
      "Lotse-Purpose": purpose.purpose,
      "Lotse-Legal-Basis": `UTF-8''${encodeURIComponent(purpose.legalBasis)}`,
    },
    token: await demoToken(lotse.url, "service-bw-gewerbe"),
    durationS,
  };
  const eu: WrkOptions = {
    paths: ["/eu/v1/evidence-requests"],
    method: "POST",
    body: await Deno.readTextFile(`${ROOT}demo/eu/gewerbeanmeldung.edm.xml`),
    contentType: "application/xml",
    token: await demoToken(lotse.url, "eu-access-point"),
    durationS,
  };
  // Both faces must answer 200 before anything is measured (the table change, the provider).
  for (const job of [xml, eu]) {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const res = await fetch(`${lotse.url}${job.paths![0]}`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${job.token}`,
          "content-type": "application/xml",
          ...job.headers,
        },
        body: job.body,
      });
      const text = await res.text();
      if (res.status === 200) break;
      if (Date.now() > deadline) throw new Error(`${job.paths![0]}: ${res.status} ${text}`);
      await sleep(200);
    }
  }
  await runWrk(lotse.url, { ...xml, durationS: 2 });
  await runWrk(lotse.url, { ...eu, durationS: 2 });
  const results: { xml: WrkResult; eu: WrkResult; ratio: number }[] = [];
  const rows: Record<string, string | number>[] = [];
  const load = [await loadAverage()];
  for (let run = 1; run <= runs; run++) {
    const x = await runWrk(lotse.url, { ...xml, serverPid: lotse.child.pid });
    const e = await runWrk(lotse.url, { ...eu, serverPid: lotse.child.pid });
    results.push({ xml: x, eu: e, ratio: e.rps / x.rps });
    for (
      const [what, r] of [["XML face 0101 → 0102", x], ["EU face EDM → 0301 → EDM", e]] as const
    ) {
      rows.push({
        run,
        what,
        "req/s": Math.round(r.rps),
        "p50 ms": r.latencyMs.p50,
        "p99 ms": r.latencyMs.p99,
        failures: r.failures,
        "server µs/req": r.serverCpu ? Math.round(r.serverCpu.usPerRequest) : "-",
      });
    }
  }
  load.push(await loadAverage());
  console.table(rows);
  const ratio = median(results.map((r) => r.ratio));
  console.log(`EU/XML req/s (median of ${runs}): ${(ratio * 100).toFixed(1)} %`);
  console.log(`Load average before/after: ${load.join(" / ")}`);
  return { durationS, results, ratio, loadAverage: load };
}
