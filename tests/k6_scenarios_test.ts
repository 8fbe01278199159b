/**
 * Every k6 scenario in loadtest/k6/ runs against a real Lotse (demo tables and providers),
 * through stand-ins for k6's modules (tests/fixtures/k6/): each scenario's requests must be
 * answered as the scenario expects, i.e. every check passes and no request fails the way k6's
 * `http_req_failed` counts it. k6 itself is not needed; the scripts are the real ones.
 *
 * @module
 */
import assert from "node:assert/strict";
import { freshDatabaseUrl } from "./_pg.ts";
import { spawnLotse } from "./_lotse_process.ts";

const ROOT = new URL("../", import.meta.url).pathname;

interface ShimReport {
  scenarios: string[];
  checks: Record<string, { passes: number; fails: number }>;
  requests: Record<string, { requests: number; failed: number }>;
}

async function runScenario(script: string, env: Record<string, string>): Promise<ShimReport> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-config",
      "--no-lock",
      `--import-map=${ROOT}tests/fixtures/k6/import_map.json`,
      "--allow-all",
      `${ROOT}tests/fixtures/k6/run_scenario.ts`,
      `${ROOT}loadtest/k6/${script}`,
    ],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => l.startsWith("K6_SHIM_JSON "));
  if (!out.success || line === undefined) {
    throw new Error(`${script} failed: ${text}${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(line.slice("K6_SHIM_JSON ".length));
}

const SCRIPTS: [string, Record<string, string>, string[]][] = [
  ["navigation.js", {}, ["status is 200", "names a provider"]],
  ["authorizations.js", {}, []],
  ["evidence.js", { BYTES: String(1024 * 1024) }, [
    "status is 200",
    "whole payload",
    "has a transfer id",
  ]],
  ["soak.js", {}, ["navigation 200", "authorization 201"]],
];

Deno.test("every k6 scenario's requests are answered as the scenario expects by a running Lotse", async () => {
  const lotse = await spawnLotse({ databaseUrl: await freshDatabaseUrl() });
  try {
    const token = await lotse.token("stuttgart-bewohnerparken");
    for (const [script, extra, mustPass] of SCRIPTS) {
      const report = await runScenario(script, {
        LOTSE_URL: lotse.url,
        LOTSE_TOKEN: token,
        // Eight iterations cover the eight demo navigation queries (run_scenario.ts).
        ITERATIONS: "8",
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        ...extra,
      });
      const checks = Object.entries(report.checks);
      assert.ok(checks.length > 0, `${script}: no check ran`);
      for (const [name, result] of checks) {
        assert.equal(result.fails, 0, `${script}: check "${name}" failed ${result.fails} times`);
      }
      for (const name of mustPass) {
        assert.ok((report.checks[name]?.passes ?? 0) > 0, `${script}: check "${name}" never ran`);
      }
      const requests = Object.entries(report.requests);
      assert.ok(requests.length > 0, `${script}: no request made`);
      for (const [name, result] of requests) {
        assert.equal(result.failed, 0, `${script}: ${result.failed} of "${name}" failed`);
      }
    }
  } finally {
    await lotse.close();
  }
});
