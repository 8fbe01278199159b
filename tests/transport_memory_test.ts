// docs/targets.md P5: forwarding memory stays flat. The forwarding side runs in a child process
// (tests/fixtures/forward_server.ts) so its RSS is its own; provider and consumer run here.
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair } from "jose";
import { sealEvidenceToken } from "../crypto/mod.ts";
import { createSha256, sha256FromDigest } from "../crypto/digest.ts";
import { startDemoProvider } from "../demo/registers.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

async function setup() {
  const keys = await generateKeyPair("ES256");
  const jwk = { ...await exportJWK(keys.publicKey), kid: "mem", alg: "ES256" };
  const demo = startDemoProvider({ jwks: { keys: [jwk] } });
  // An evidence token as Lotse seals it (the demo register verifies it with crypto/).
  const { token } = await sealEvidenceToken({
    consumerId: "mem-consumer",
    providerId: "demo",
    evidenceType: "fahrzeugzulassung",
    purpose: "mem",
    legalBasis: "mem",
    idnrUsed: false,
  }, { keys: { signingKey: () => ({ kid: "mem", key: keys.privateKey }) }, issuer: "lotse-mem" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "tests/fixtures/forward_server.ts"],
    cwd: new URL("..", import.meta.url).pathname,
    env: { PROVIDER_ENDPOINT: demo.endpoint("demo"), TOKEN: token },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let first = "";
  while (!first.includes("\n")) {
    const { done, value } = await lines.read();
    if (done) throw new Error("Forward server exited before listening");
    first += value;
  }
  lines.releaseLock();
  const { port } = JSON.parse(first.split("\n")[0]!);
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    async rss(): Promise<number> {
      return (await (await fetch(`${base}/rss`)).json()).rss;
    },
    async close() {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await demo.shutdown();
    },
  };
}

// MEM_MODE=noverify|direct runs the same checks through the other forwarding paths.
async function transfer(base: string, bytes: number): Promise<{ bytes: number; ok: boolean }> {
  const res = await fetch(
    `${base}/evidence${Deno.env.get("MEM_MODE") ? `?mode=${Deno.env.get("MEM_MODE")}` : ""}`,
    {
      method: "POST",
      headers: { "content-type": "application/json", "lotse-evidence-type": "fahrzeugzulassung" },
      body: JSON.stringify({ demo: { bytes } }),
    },
  );
  assert.equal(res.status, 200);
  const expected = sha256FromDigest(res.headers.get("repr-digest"));
  const hash = createSha256();
  let n = 0;
  for await (const chunk of res.body!) {
    n += chunk.length;
    hash.update(chunk);
  }
  return { bytes: n, ok: hash.digest("base64") === expected };
}

// Samples the child's RSS while `work` runs and returns the highest value seen.
async function peakRss(rss: () => Promise<number>, work: Promise<unknown>): Promise<number> {
  let peak = 0;
  let running = true;
  work.finally(() => running = false).catch(() => {});
  while (running) {
    peak = Math.max(peak, await rss());
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await work;
  return Math.max(peak, await rss());
}

Deno.test("forwarding 1 GiB with digest check keeps it intact and RSS growth under 64 MiB", async () => {
  const env = await setup();
  try {
    await transfer(env.base, 4 * MiB); // warm up code paths and the connection pool
    const before = await env.rss();
    const work = transfer(env.base, GiB);
    const peak = await peakRss(env.rss, work);
    const result = await work;
    assert.equal(result.bytes, GiB);
    assert.ok(result.ok, "digest of the received GiB must match");
    const growth = (peak - before) / MiB;
    console.log(`RSS before ${(before / MiB).toFixed(1)} MiB, peak ${(peak / MiB).toFixed(1)} MiB`);
    assert.ok(growth < 64, `RSS grew by ${growth.toFixed(1)} MiB`);
  } finally {
    await env.close();
  }
});

// Run on its own (deno task test runs this file after the others, not beside them): memory
// under a loaded CPU measures the load, not Lotse. The peak of 100 parallel transfers swings by ±10 MiB from run to run (most of it is the
// HTTP stack's per-connection memory, outside Lotse's code), so the figure is the median of
// five independent runs, each in a fresh process.
Deno.test("100 concurrent 10 MiB transfers stay under 256 MiB RSS (median of 5 runs)", async () => {
  const peaks: number[] = [];
  for (let run = 0; run < 5; run++) {
    const env = await setup();
    try {
      const work = Promise.all(Array.from({ length: 100 }, () => transfer(env.base, 10 * MiB)));
      const peak = await peakRss(env.rss, work);
      const results = await work;
      assert.ok(results.every((r) => r.ok && r.bytes === 10 * MiB));
      peaks.push(peak);
    } finally {
      await env.close();
    }
  }
  peaks.sort((a, b) => a - b);
  const median = peaks[2]!;
  console.log(`RSS peaks ${peaks.map((p) => (p / MiB).toFixed(1)).join(", ")} MiB`);
  assert.ok(median < 256 * MiB, `RSS peaked at ${(median / MiB).toFixed(1)} MiB (median)`);
});
