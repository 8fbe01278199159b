/**
 * Runs a provider's readiness check (docs/api.md §3.3) from the command line and prints the
 * report: `deno task readiness <providerId> [lotse-url]`. It asks the running Lotse
 * (`POST /v1/readiness-checks`), which calls the provider's registered endpoints; the
 * operator's secret comes from `LOTSE_ADMIN_TOKEN`, or `--demo` uses the demo operator's key.
 * Exit status 0 when every check passed, 1 when one failed, 2 on a usage or request error.
 *
 * @module
 */
import { fetchDemoToken } from "./demo_client.ts";

const args = Deno.args.filter((a) => a !== "--demo");
const [providerId, base = "http://127.0.0.1:8080"] = args;
if (!providerId) {
  console.error("Usage: deno task readiness <providerId> [lotse-url] [--demo]");
  Deno.exit(2);
}
const url = base.replace(/\/+$/, "");
try {
  const token = Deno.args.includes("--demo")
    ? await fetchDemoToken(url, "lotse-operator")
    : Deno.env.get("LOTSE_ADMIN_TOKEN");
  if (!token) throw new Error("Set LOTSE_ADMIN_TOKEN or pass --demo");
  const res = await fetch(`${url}/v1/readiness-checks`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ providerId }),
  });
  const body = await res.json();
  if (res.status !== 201) throw new Error(`${res.status}: ${body.detail ?? JSON.stringify(body)}`);
  console.log(`Readiness-Check ${body.id} für "${body.providerId}" (${body.at})`);
  for (const check of body.checks as { title: string; passed: boolean; detail: string }[]) {
    console.log(`${check.passed ? "✓" : "✗"} ${check.title}\n    ${check.detail}`);
  }
  console.log(body.passed ? "Bestanden." : "Nicht bestanden.");
  console.log(`Bericht: ${url}/onboarding/readiness/${body.id}`);
  Deno.exit(body.passed ? 0 : 1);
} catch (error) {
  console.error((error as Error).message);
  Deno.exit(2);
}
