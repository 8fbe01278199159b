/**
 * P6's provider (`deno task bench:load protocol-wait`): nginx over HTTPS with the benchmark's
 * own CA (loadtest/nginx_p6.conf.tmpl) answering a transfer's evidence request with the
 * register's JSON document, and handing a random share of the requests (1 % by default) on to
 * the register (loadtest/xnachweis_provider.ts), which checks the evidence token against
 * Lotse's JWKS in full. Lotse is given the front's URL and CA through the admin API, as an
 * operator registers a provider.
 *
 * Why not the register alone (session 11, BENCHMARKS.md "Session 11, P6"): checking every
 * token cost the register 397–593 µs (median ~505) of the load core per transfer (an ES256 signature checked
 * against the JWKS, the JSON read and written, Deno's HTTP/1.1 server), 35–38 % of the core
 * PostgreSQL's commits run on at the held rate. A register runs on its own machine; on two
 * cores its checks queued the commit the figure measures behind them.
 *
 * @module
 */
import { createTestPki } from "../tests/tls.ts";
import { type Cleanups, freePort, LOAD_CPU, runNginx } from "./_harness.ts";
import { registerDocument } from "./_register_document.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** The register's answer to the benchmark's transfer (loadtest/_register_document.ts). */
const P6_EVIDENCE = registerDocument("fahrzeugzulassung", "Müller");

/** A running front: its HTTPS base URL, the CA that signed its certificate, nginx's worker. */
export interface HttpsFront {
  readonly url: string;
  readonly caCert: string;
  /** nginx's worker process (the one whose CPU counts). */
  readonly workerPid: number;
}

/**
 * Starts nginx on the load core in front of the register at `registerUrl` (http://host:port),
 * handing `checkedPercent` of the requests on to it; stopped through `cleanups`.
 */
export async function startHttpsFront(
  cleanups: Cleanups,
  registerUrl: string,
  checkedPercent = 1,
): Promise<HttpsFront> {
  const dir = await Deno.makeTempDir({ prefix: "lotse-bench-p6-front-" });
  cleanups.push(() => Deno.remove(dir, { recursive: true }));
  const pki = await createTestPki("Lotse Bench P6 Provider CA");
  await Deno.writeTextFile(`${dir}/provider.pem`, pki.cert);
  await Deno.writeTextFile(`${dir}/provider.key`, pki.key);
  const port = freePort();
  const body = JSON.stringify(P6_EVIDENCE);
  if (body.includes("'")) throw new Error("The fixed answer must not contain a single quote");
  const config = (await Deno.readTextFile(`${ROOT}loadtest/nginx_p6.conf.tmpl`))
    .replaceAll("{{PREFIX}}", dir)
    .replaceAll("{{PORT}}", String(port))
    .replaceAll("{{CERT}}", `${dir}/provider.pem`)
    .replaceAll("{{KEY}}", `${dir}/provider.key`)
    .replaceAll("{{REGISTER}}", new URL(registerUrl).host)
    .replaceAll("{{CHECKED}}", `${checkedPercent}%`)
    .replaceAll("{{BODY}}", body);
  const workerPid = await runNginx(cleanups, {
    name: "nginx (P6 provider)",
    dir,
    config,
    port,
    cpu: LOAD_CPU,
  });
  return {
    url: `https://127.0.0.1:${port}`,
    caCert: pki.caCert,
    workerPid,
  };
}

/** What the register says it checked: requests checked in full, and those refused. */
export async function registerStats(registerUrl: string) {
  return await (await fetch(`${registerUrl}/stats`)).json() as { checked: number; failed: number };
}

/**
 * Connections to `port` as `ss` sees them, by TCP state: a client that keeps its connections
 * open shows a few ESTAB and no TIME-WAIT; one connection per request shows one TIME-WAIT each.
 */
export async function connectionsTo(port: number): Promise<Record<string, number>> {
  const out = await new Deno.Command("ss", { args: ["-Htan", `dport = :${port}`] }).output();
  const states: Record<string, number> = {};
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const state = line.trim().split(/\s+/)[0];
    if (state) states[state] = (states[state] ?? 0) + 1;
  }
  return states;
}
