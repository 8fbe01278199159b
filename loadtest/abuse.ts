/**
 * The abuse set of issue 10 under load: Lotse (demo tables and demo providers, a throwaway
 * PostgreSQL) pinned to core 0 while, on core 1, one process holds idle connections,
 * slowloris connections (a header byte every few seconds) and stalled consumers (evidence
 * transfers whose answer is never read), re-opening whatever Lotse closes, and a second
 * process is a normal consumer that keeps navigating and fetching evidence. At the end:
 * Lotse still answers, the normal client's latency percentiles and errors, Lotse's peak and
 * final RSS and descriptors, and the protocol: every transfer the normal client received
 * has its record `delivered`, every stalled one ended `failed`.
 *
 * ```sh
 * prlimit --nofile=20000:20000 deno run -A loadtest/abuse.ts [--duration 60] [--idle 5000] \
 *   [--slowloris 500] [--stalled 200]
 * ```
 *
 * Loopback only; every loop is bounded by `--duration`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { machine } from "./raw_results.ts";
import { startCluster } from "../tests/pg.ts";
import { fetchDemoToken } from "../tools/demo_client.ts";
import {
  Child,
  Cleanups,
  freePort,
  LOAD_CPU,
  SERVER_CPU,
  sleep,
  taskArgs,
  waitFor200,
} from "./_harness.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const encoder = new TextEncoder();
const PURPOSE = "bewohnerparkausweis";
const LEGAL_BASIS = "§ 45 Abs. 1b Satz 1 Nr. 2a StVO";

function transferRequest(token: string, bytes: number): Uint8Array {
  const body = JSON.stringify({ demo: { bytes, digest: false } });
  return encoder.encode(
    "POST /v1/evidence/fahrzeugzulassung?plz=70173 HTTP/1.1\r\nHost: lotse\r\n" +
      `Authorization: Bearer ${token}\r\nLotse-Purpose: ${PURPOSE}\r\n` +
      `Lotse-Legal-Basis: UTF-8''${encodeURIComponent(LEGAL_BASIS)}\r\n` +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${encoder.encode(body).length}\r\n\r\n${body}`,
  );
}

// ---------------------------------------------------------------------------------------
// Role "attack": holds idle, slowloris and stalled-consumer connections for `duration` s.

async function attack(
  port: number,
  token: string,
  counts: Record<string, number>,
  seconds: number,
) {
  const until = performance.now() + seconds * 1000;
  const stats = { opened: 0, closedByLotse: 0, refused: 0, stalledIds: [] as string[] };
  const alive = () => performance.now() < until;

  async function hold(kind: "idle" | "slowloris" | "stalled"): Promise<void> {
    while (alive()) {
      let conn: Deno.Conn;
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        stats.refused++;
        await sleep(200);
        continue;
      }
      stats.opened++;
      let trickle: ReturnType<typeof setInterval> | undefined;
      try {
        if (kind === "slowloris") {
          await conn.write(encoder.encode("GET /healthz HTTP/1.1\r\nHost: lotse\r\n"));
          trickle = setInterval(() => {
            conn.write(encoder.encode("X")).catch(() => {});
          }, 5000);
        } else if (kind === "stalled") {
          await conn.write(transferRequest(token, 200_000_000));
          const head = new Uint8Array(2048);
          const n = await conn.read(head);
          const id = /lotse-transfer-id: ([0-9a-f-]+)/i.exec(
            new TextDecoder().decode(head.subarray(0, n ?? 0)),
          )?.[1];
          if (id) stats.stalledIds.push(id);
          // Then read nothing more: wait for Lotse to cut it (or the end of the run).
        }
        const closed = (async () => {
          // Stalled consumers take one byte every 2 s (slower than any floor); the others
          // read whatever comes. Either way a read that ends means Lotse closed it.
          const buffer = new Uint8Array(kind === "stalled" ? 1 : 4096);
          try {
            while ((await conn.read(buffer)) !== null) {
              if (kind === "stalled") await sleep(2000);
              if (!alive()) return false;
            }
          } catch { /* reset */ }
          return alive();
        })();
        const byLotse = await Promise.race([
          closed,
          (async () => {
            while (alive()) await sleep(250);
            return false;
          })(),
        ]);
        if (byLotse) stats.closedByLotse++;
      } catch {
        stats.closedByLotse++;
      } finally {
        clearInterval(trickle);
        try {
          conn.close();
        } catch { /* closed */ }
      }
    }
  }

  const holders: Promise<void>[] = [];
  for (const [kind, n] of Object.entries(counts)) {
    for (let i = 0; i < n; i++) {
      holders.push(hold(kind as "idle" | "slowloris" | "stalled"));
      if (i % 100 === 99) await sleep(10);
    }
  }
  await Promise.all(holders);
  console.log(JSON.stringify(stats));
}

// ---------------------------------------------------------------------------------------
// Role "client": navigates and fetches evidence, timing every request.

async function client(base: string, token: string, seconds: number, out: string) {
  const until = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  const transferLatencies: number[] = [];
  const errors: string[] = [];
  const delivered: string[] = [];
  const headers = { authorization: `Bearer ${token}` };
  const places = ["08111000", "09184145"];
  let i = 0;
  while (performance.now() < until) {
    i++;
    const start = performance.now();
    try {
      if (i % 10 === 0) {
        const res = await fetch(`${base}/v1/evidence/fahrzeugzulassung?plz=70173`, {
          method: "POST",
          headers: {
            ...headers,
            "lotse-purpose": PURPOSE,
            "lotse-legal-basis": `UTF-8''${encodeURIComponent(LEGAL_BASIS)}`,
            "content-type": "application/json",
          },
          body: JSON.stringify({ demo: { bytes: 16_384 } }),
        });
        const body = await res.arrayBuffer();
        transferLatencies.push(performance.now() - start);
        if (res.status !== 200 || body.byteLength !== 16_384) {
          errors.push(`transfer ${res.status} ${body.byteLength}`);
        } else delivered.push(res.headers.get("lotse-transfer-id")!);
      } else {
        const ags = places[i % places.length];
        const res = await fetch(
          `${base}/v1/navigation?evidenceType=fahrzeugzulassung&ags=${ags}`,
          { headers },
        );
        await res.arrayBuffer();
        latencies.push(performance.now() - start);
        if (res.status !== 200) errors.push(`navigation ${res.status}`);
      }
    } catch (error) {
      // `fetch failed` alone does not say why: the cause does, without the client's port.
      const cause = String((error as Error).cause ?? "").replace(/from 127\.0\.0\.1:\d+ /, "");
      errors.push(`${error}${cause ? `: ${cause}` : ""}`.slice(0, 240));
    }
    await sleep(5);
  }
  // The full record goes to a file (a child's output is kept only in part).
  await Deno.writeTextFile(
    out,
    JSON.stringify({ latencies, transferLatencies, errors, delivered }),
  );
}

// ---------------------------------------------------------------------------------------

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function procStatus(pid: number): { rssMiB: number; fds: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  let fds = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) fds++;
  return { rssMiB: Math.round(rss), fds };
}

function lastJson(output: string): Record<string, unknown> {
  const line = output.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  return line ? JSON.parse(line) : {};
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      role: { type: "string" },
      base: { type: "string" },
      token: { type: "string" },
      duration: { type: "string", default: "60" },
      idle: { type: "string", default: "5000" },
      slowloris: { type: "string", default: "500" },
      stalled: { type: "string", default: "200" },
      out: { type: "string" },
    },
  });
  const seconds = Number(values.duration);
  if (values.role === "attack") {
    const port = Number(new URL(values.base!).port);
    return await attack(port, values.token!, {
      idle: Number(values.idle),
      slowloris: Number(values.slowloris),
      stalled: Number(values.stalled),
    }, seconds);
  }
  if (values.role === "client") {
    return await client(values.base!, values.token!, seconds, values.out!);
  }

  const cleanups = new Cleanups();
  try {
    const cluster = await startCluster();
    cleanups.push(() => cluster.destroy());
    const dataDir = await Deno.makeTempDir({ prefix: "lotse-abuse-" });
    cleanups.push(() => Deno.remove(dataDir, { recursive: true }));
    const port = freePort();
    const base = `http://127.0.0.1:${port}`;
    const lotse = new Child("lotse", "taskset", [
      "-c",
      SERVER_CPU,
      "prlimit",
      "--nofile=20000:20000",
      Deno.execPath(),
      // Exactly the process `deno task serve` runs, with its permissions.
      ...taskArgs("serve"),
    ], {
      env: {
        DATABASE_URL: cluster.url,
        LOTSE_PORT: String(port),
        LOTSE_PUBLIC_URL: base,
        LOTSE_DATA_DIR: dataDir,
        LOTSE_DEMO: "1",
        LOTSE_DEMO_PROVIDER_PORT: String(freePort()),
        LOTSE_KEY_SECRET: "abuse-key-secret-of-at-least-32-characters",
        LOTSE_PROTOCOL_KEY: "abuse-protocol-key-of-at-least-32-chars",
        LOTSE_CONSUMER_IDLE_TIMEOUT_MS: "10000",
        LOTSE_CONNECTION_CHECK_MS: "2000",
        LOTSE_CONNECTION_SOFT_LIMIT: "1024",
      },
    });
    cleanups.push(() => lotse.stop());
    await waitFor200(`${base}/readyz`, { child: lotse, timeoutMs: 120_000 });
    const token = await fetchDemoToken(base, "stuttgart-bewohnerparken");
    const attackerToken = await fetchDemoToken(base, "stuttgart-bewohnerparken");
    const before = procStatus(lotse.pid);

    const role = (name: string, extra: string[]) =>
      new Child(name, "taskset", [
        "-c",
        LOAD_CPU,
        "prlimit",
        "--nofile=20000:20000",
        Deno.execPath(),
        "run",
        "-A",
        `${ROOT}loadtest/abuse.ts`,
        `--role=${name}`,
        `--base=${base}`,
        `--duration=${seconds}`,
        ...extra,
      ]);
    const attacker = role("attack", [
      `--token=${attackerToken}`,
      `--idle=${values.idle}`,
      `--slowloris=${values.slowloris}`,
      `--stalled=${values.stalled}`,
    ]);
    // The attack builds up first; then the normal client measures while it holds.
    await sleep(5000);
    const clientOut = `${dataDir}/client.json`;
    const normal = role("client", [`--token=${token}`, `--out=${clientOut}`]);
    let peak = { rssMiB: 0, fds: 0 };
    const samples: { t: number; rssMiB: number; fds: number }[] = [];
    const t0 = performance.now();
    let running = true;
    const sampler = (async () => {
      while (running) {
        const s = procStatus(lotse.pid);
        samples.push({ t: Math.round((performance.now() - t0) / 1000), ...s });
        peak = { rssMiB: Math.max(peak.rssMiB, s.rssMiB), fds: Math.max(peak.fds, s.fds) };
        await sleep(1000);
      }
    })();
    const [clientStatus] = await Promise.all([normal.process.status, attacker.process.status]);
    await normal.stop();
    await attacker.stop();
    running = false;
    await sampler;
    // Lotse cuts the stalled consumers within LOTSE_CONSUMER_IDLE_TIMEOUT_MS; let it finish.
    await sleep(12_000);
    const after = procStatus(lotse.pid);
    const health = await fetch(`${base}/healthz`).then((r) => r.status).catch(() => 0);

    const c = JSON.parse(await Deno.readTextFile(clientOut)) as {
      latencies: number[];
      transferLatencies: number[];
      errors: string[];
      delivered: string[];
    };
    const a = lastJson(attacker.output) as {
      opened: number;
      closedByLotse: number;
      refused: number;
      stalledIds: string[];
    };
    const outcomes = async (ids: string[], bearer: string) => {
      const counts: Record<string, number> = {};
      for (const id of ids) {
        const res = await fetch(`${base}/v1/transfers/${id}`, {
          headers: { authorization: `Bearer ${bearer}` },
        });
        const outcome = res.status === 200 ? (await res.json()).outcome : `http ${res.status}`;
        counts[outcome] = (counts[outcome] ?? 0) + 1;
      }
      return counts;
    };
    const summary = {
      lotseUp: health === 200,
      clientExit: clientStatus.code,
      navigation: {
        requests: c.latencies?.length ?? 0,
        p50Ms: +percentile(c.latencies ?? [], 0.5).toFixed(2),
        p99Ms: +percentile(c.latencies ?? [], 0.99).toFixed(2),
        maxMs: +Math.max(...(c.latencies ?? [0])).toFixed(2),
      },
      transfers: {
        requests: c.transferLatencies?.length ?? 0,
        p50Ms: +percentile(c.transferLatencies ?? [], 0.5).toFixed(2),
        p99Ms: +percentile(c.transferLatencies ?? [], 0.99).toFixed(2),
      },
      allRequestsP99Ms: +percentile([...(c.latencies ?? []), ...(c.transferLatencies ?? [])], 0.99)
        .toFixed(2),
      clientErrors: c.errors?.length ?? 0,
      clientErrorKinds: (c.errors ?? []).reduce((kinds, e) => {
        kinds[e] = (kinds[e] ?? 0) + 1;
        return kinds;
      }, {} as Record<string, number>),
      attack: {
        connectionsOpened: a.opened,
        closedByLotse: a.closedByLotse,
        refused: a.refused,
        stalledTransfers: a.stalledIds?.length ?? 0,
      },
      lotse: { before, peak, after },
      protocol: {
        deliveredByClient: await outcomes(c.delivered ?? [], token),
        stalled: await outcomes(a.stalledIds ?? [], token),
      },
      samples: samples.filter((_, i) => i % 5 === 0),
      machine: machine(),
    };
    console.log(JSON.stringify(summary, null, 2));
  } finally {
    await cleanups.run();
  }
}

if (import.meta.main) await main();
