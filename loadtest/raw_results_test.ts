import assert from "node:assert/strict";
import { resultText } from "./raw_results.ts";

const CONFIG = new URL("../deno.json", import.meta.url).pathname;

Deno.test("resultText() writes JSON that `deno fmt --check` accepts as it is", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lotse-results-" });
  try {
    const file = `${dir}/sample.json`;
    await Deno.writeTextFile(
      file,
      resultText({
        name: "navigation",
        at: "2026-11-29T01:04:00.000Z",
        loadAverage: [1.8, 2.1, 2.4],
        empty: [],
        none: {},
        nothing: null,
        command: `deno task bench:load navigation --duration 10 --runs 3 ${"x".repeat(120)}`,
        results: [{ bare: { rps: 170000.5, latencyMs: { p99: 0.41 } }, lotse: { rps: 23000 } }],
      }),
    );
    const check = await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--check", "--config", CONFIG, file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(check.success, new TextDecoder().decode(check.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
