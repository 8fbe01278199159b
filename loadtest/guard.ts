/**
 * Performance regression guard, run by CI after the test suite (`deno task test`): a short run
 * of the product benchmarks that fails when a ratio falls below its recorded value
 * (loadtest/guard.json) times the margin.
 *
 * ```sh
 * deno run -A loadtest/guard.ts            # about 100 s
 * deno run -A loadtest/guard.ts --record   # a quiet run: the ratios to guard.json, the raw
 *                                         # figures to loadtest/results/guard.json
 * ```
 *
 * `LOTSE_BENCH_ROOT`, `LOTSE_BENCH_DENO_FLAGS` and `LOTSE_BENCH_SERVER_OUT` work as for
 * `deno task bench:load` (another checkout, extra Deno flags, Lotse's output to a file; P11's
 * Lotse takes the first two), e.g.
 * `LOTSE_BENCH_DENO_FLAGS=--v8-flags=--no-opt,--no-maglev,--no-sparkplug` (Lotse's JavaScript
 * interpreted only) shows the guard failing.
 *
 * Every ratio compares **CPU time per unit of work** (server CPU per request, per sealed token,
 * per GiB), the reference's over Lotse's, each pair measured in the same run, in alternating
 * rounds: P1 (authenticated navigation against bare `Deno.serve`), P10 (`POST
 * /v1/authorizations` against bare `Deno.serve`), P11 (the XNachweis face's 0101 → 0102 against
 * the JSON face of the same process, same benchmark register and data), P4 (256 MiB transfers
 * of evidence from an HTTPS provider
 * with its own CA, registered through the admin API, with and without `Repr-Digest`, against a
 * Deno forwarder in front of the same provider). Lotse is the process `deno task serve` runs.
 *
 * Why CPU time and not req/s: CI runs on a shared 2-core machine, where a neighbour can take half
 * of either core for a while; req/s then swings by a factor of two for reasons outside Lotse
 * (BENCHMARKS.md, "Regression guard"), but the CPU a server spends on a request changes far
 * less. Contention does move the ratios, both ways: measured under load (BENCHMARKS.md, "Session
 * 11, the regression guard in CI"), the guard's own ratios held or rose under load, but in wrk
 * runs Lotse's cost per token rose more than bare's (P10's ratio down by up to ~30 %: fewer
 * records per commit). The margin, half the recorded
 * ratio, is what a regression must exceed: Lotse's own cost per unit doubled against the
 * reference's.
 *
 * What it does not see: a change that makes Lotse wait (a lock, a timer, a serial resource)
 * lowers req/s without raising CPU per request, and latency (P2, P6) is not measured. Those
 * need `deno task bench:load all` on a quiet machine.
 *
 * It needs nothing a fresh machine lacks: the load comes from autocannon (npm), the consumer is
 * curl or, where curl is missing, loadtest/_consume.ts, the references are Deno processes,
 * PostgreSQL comes as for the tests; without `taskset` everything runs unpinned.
 *
 * @module
 */
import { Cleanups, loadAverage, median } from "./_harness.ts";
import {
  cpuSeconds,
  demoToken,
  pinCluster,
  startBenchDatabase,
  startLotseProcess,
  startReference,
} from "./_harness.ts";
import { evidence } from "./_evidence.ts";
import { LOAD_CPU } from "./_harness.ts";
import {
  benchLotse,
  CHECK_EVERY,
  navigationPaths,
  runAutocannon,
  transferBench,
  untilAnswered,
} from "./run.ts";
import type { AutocannonJob } from "./_autocannon.ts";
import { machine, writeResult } from "./raw_results.ts";
import { DEMO_PARKING_AUTHORIZATION } from "../demo/clients.ts";
import GUARD from "./guard.json" with { type: "json" };

type Name = keyof typeof GUARD.recorded;

const GUARD_FILE = new URL("./guard.json", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;
const ROUNDS = 3;
const SECONDS = 3;
const CONNECTIONS = 50;

type Job = Omit<AutocannonJob, "durationS" | "connections">;

/** One load run's figures: the server's CPU µs per answered request, and the rate. */
interface CpuRun {
  readonly usPerRequest: number;
  readonly rps: number;
}

/**
 * autocannon against `url` (unthrottled, on the load core) for `durationS`; the server's CPU
 * per answered request, or null when nothing was answered in that time. Any answer that is not
 * 2xx, or an error or timeout, fails the guard.
 */
async function cpuRun(serverPid: number, job: Job, durationS = SECONDS): Promise<CpuRun | null> {
  const before = cpuSeconds(serverPid);
  const r = await runAutocannon({ ...job, durationS, connections: CONNECTIONS });
  const cpu = cpuSeconds(serverPid) - before;
  const requests = r.requests;
  const failed = r.non2xx + r.errors + r.timeouts;
  if (failed > 0) throw new Error(`${job.url}: ${failed} of ${requests} failed or not 2xx`);
  return requests > 0 ? { usPerRequest: (cpu / requests) * 1e6, rps: r.achievedRps } : null;
}

/**
 * Warms a server up (JIT, connections, the token cache) until a run of it has answered: on a
 * starved machine a first short run can end before the first answer (seen once in CI-like load).
 */
async function warmUp(serverPid: number, job: Job): Promise<void> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    if (await cpuRun(serverPid, job, attempt)) return;
  }
  throw new Error(`${job.url}: no answer in five warm-up runs (1–5 s)`);
}

/** A measured run: it must have answered. */
async function measuredRun(serverPid: number, job: Job): Promise<CpuRun> {
  const run = await cpuRun(serverPid, job);
  if (!run) throw new Error(`${job.url}: no answer in ${SECONDS} s after the warm-up`);
  return run;
}

/**
 * Alternating rounds of a reference and of Lotse (for P11: the JSON face and the XML face of
 * the same process); the ratio of the median CPU per request, the reference's over Lotse's.
 */
async function alternate(
  reference: { pid: number; job: Job },
  lotse: { pid: number; job: Job },
) {
  await warmUp(reference.pid, reference.job);
  await warmUp(lotse.pid, lotse.job);
  const runs = { reference: [] as CpuRun[], lotse: [] as CpuRun[] };
  for (let round = 0; round < ROUNDS; round++) {
    runs.reference.push(await measuredRun(reference.pid, reference.job));
    runs.lotse.push(await measuredRun(lotse.pid, lotse.job));
  }
  const us = (xs: CpuRun[]) => median(xs.map((x) => x.usPerRequest));
  return { ratio: us(runs.reference) / us(runs.lotse), runs };
}

async function navigationRatio(cleanups: Cleanups) {
  const db = await startBenchDatabase(cleanups);
  const lotse = await startLotseProcess(cleanups, db.url, benchLotse());
  const token = await demoToken(lotse.url);
  const paths = navigationPaths(db.tables);
  const bare = await startReference(cleanups, "bare");
  // The reference gets the same requests (token header, rotating paths) and ignores both.
  return await alternate(
    { pid: bare.child.pid, job: { url: bare.url, paths, token } },
    { pid: lotse.child.pid, job: { url: lotse.url, paths, token } },
  );
}

async function authorizationRatio(cleanups: Cleanups) {
  const db = await startBenchDatabase(cleanups);
  // As `bench:load authorizations`: the protocol's PostgreSQL beside the load, off Lotse's core.
  await pinCluster(db.cluster, LOAD_CPU);
  const lotse = await startLotseProcess(cleanups, db.url, benchLotse());
  const token = await demoToken(lotse.url);
  const bare = await startReference(cleanups, "bare");
  const post = {
    method: "POST" as const,
    paths: ["/v1/authorizations"],
    token,
    body: JSON.stringify(DEMO_PARKING_AUTHORIZATION),
  };
  return await alternate(
    { pid: bare.child.pid, job: { url: bare.url, ...post } },
    { pid: lotse.child.pid, job: { url: lotse.url, ...post } },
  );
}

async function xnachweisRatio(cleanups: Cleanups) {
  const { cwd, denoFlags } = benchLotse();
  // The benchmark register of `bench:load xnachweis`, checking every 100th request in full.
  const bench = await transferBench(cleanups, {
    checkEvery: CHECK_EVERY,
    denoFlags,
    ...(cwd ? { cwd } : {}),
  });
  const xml = {
    paths: ["/xnachweis/v1/evidence-requests"],
    method: "POST" as const,
    body: await Deno.readTextFile(`${ROOT}demo/xnachweis/bewohnerparkausweis.0101.xml`),
    headers: { ...bench.headers, "content-type": "application/xml" },
  };
  await untilAnswered(bench.lotse.url, bench.token, xml);
  const pid = bench.lotse.child.pid;
  const ratio = await alternate(
    { pid, job: { url: bench.lotse.url, token: bench.token, ...bench.json } },
    { pid, job: { url: bench.lotse.url, token: bench.token, ...xml } },
  );
  const register = await (await fetch(`${bench.providerUrl}/stats`)).json();
  if (register.failed > 0) {
    throw new Error(`The benchmark register refused ${register.failed} checked requests`);
  }
  return ratio;
}

async function measure(cleanups: Cleanups) {
  const nav = await navigationRatio(cleanups);
  await cleanups.run();
  const au = await authorizationRatio(cleanups);
  await cleanups.run();
  const xn = await xnachweisRatio(cleanups);
  await cleanups.run();
  const ev = await evidence({
    rounds: ROUNDS,
    bytes: 256 * 1024 ** 2,
    concurrent: 0,
    reference: "forwarder",
    ...benchLotse(),
  }, cleanups);
  await cleanups.run();
  const measured: Record<Name, number> = {
    "P1 navigation, CPU bare / Lotse": nav.ratio,
    "P10 authorizations, CPU bare / Lotse": au.ratio,
    "P11 XML face, CPU JSON face / XML face": xn.ratio,
    "P4 digest, CPU forwarder / Lotse": ev.digestCpuOverReference,
    "P4 no digest, CPU forwarder / Lotse": ev.plainCpuOverReference,
  };
  return {
    measured,
    raw: {
      navigation: nav.runs,
      authorizations: au.runs,
      xnachweis: xn.runs,
      evidence: {
        forwarder: ev.reference,
        digest: ev.digest,
        plain: ev.plain,
        bytes: ev.bytes,
      },
    },
  };
}

if (import.meta.main) {
  const record = Deno.args.includes("--record");
  const cleanups = new Cleanups();
  // A cancelled CI job: stop Lotse, the references, the register and the PostgreSQL clusters.
  const unhook = cleanups.runOnSignals();
  let failed = 0;
  try {
    const before = await loadAverage();
    const { measured, raw } = await measure(cleanups);
    const rows = (Object.keys(GUARD.recorded) as Name[]).map((name) => {
      const floor = GUARD.recorded[name] * GUARD.margin;
      const ok = measured[name] >= floor;
      if (!ok) failed++;
      return {
        ratio: name,
        measured: measured[name].toFixed(3),
        recorded: GUARD.recorded[name].toFixed(3),
        floor: floor.toFixed(3),
        ok: ok ? "yes" : "REGRESSED",
      };
    });
    console.table(rows);
    // What a failure needs to be read: each side's CPU per unit in every round.
    const us = (xs: { usPerRequest: number }[]) =>
      xs.map((x) => x.usPerRequest.toFixed(1)).join(" ");
    const sGiB = (f: { cpuSecondsPerGiB: number[] }) =>
      f.cpuSecondsPerGiB.map((x) => x.toFixed(2)).join(" ");
    console.log(
      `CPU µs per request: navigation bare ${us(raw.navigation.reference)}, Lotse ${
        us(raw.navigation.lotse)
      }; authorizations bare ${us(raw.authorizations.reference)}, Lotse ${
        us(raw.authorizations.lotse)
      }; JSON face ${us(raw.xnachweis.reference)}, XML face ${
        us(raw.xnachweis.lotse)
      }. CPU s per GiB: forwarder ${sGiB(raw.evidence.forwarder)}, Lotse with digest ${
        sGiB(raw.evidence.digest)
      }, without ${sGiB(raw.evidence.plain)}`,
    );
    const after = await loadAverage();
    console.log(`Load average before ${before}, after ${after}`);
    if (record) {
      // Only here: the suite runs the guard, and must not leave the checkout changed.
      await writeResult("guard", {
        command: "deno run -A loadtest/guard.ts --record",
        measured,
        previous: GUARD.recorded,
        margin: GUARD.margin,
        raw,
      });
      const rounded = Object.fromEntries(
        Object.entries(measured).map(([name, value]) => [name, Number(value.toFixed(3))]),
      );
      // The comment says when and where: a record kept the last one's and named the wrong run.
      const cpu = machine().cpu ?? "an unnamed CPU";
      const $comment = "CPU-time ratios (the reference's CPU per unit of work over Lotse's, " +
        `same run), recorded ${new Date().toISOString().slice(0, 16)} UTC on ${cpu} by ` +
        "`deno run -A loadtest/guard.ts --record` (raw figures in loadtest/results/guard.json). " +
        "CI runs the guard after the suite and fails when a ratio falls below recorded × margin.";
      await Deno.writeTextFile(
        GUARD_FILE,
        JSON.stringify({ ...GUARD, $comment, recorded: rounded }, null, 2) + "\n",
      );
      console.log(`Recorded in ${GUARD_FILE}`);
      failed = 0;
    }
  } finally {
    await cleanups.run();
    unhook();
  }
  Deno.exit(failed === 0 ? 0 : 1);
}
