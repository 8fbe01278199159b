import assert from "node:assert/strict";
import { machine, resultText } from "./raw_results.ts";

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

Deno.test("machine() names the CPU and the flags that set hashing and signing speed", () => {
  // "model name" before "model", an empty field, and three processors.
  const cpuinfo = [
    "processor\t: 0",
    "vendor_id\t: AuthenticAMD",
    "cpu family\t: 26",
    "model name\t: AMD EPYC",
    "model\t\t: 2",
    "microcode\t:",
    "flags\t\t: fpu vme avx2 bmi2 sha_ni avx512f aes adx",
    "",
    "processor\t: 1",
    "model name\t: AMD EPYC",
    "",
    "processor\t: 2",
    "model name\t: AMD EPYC",
  ].join("\n");
  const found = machine(cpuinfo);
  assert.equal(found.cpu, "AMD EPYC (family 26, model 2)");
  assert.deepEqual(found.flags, ["sha_ni", "aes", "avx2", "avx512f", "bmi2", "adx"]);
  assert.equal(found.cores, 3, "the machine's processors, not the process's allowed cores");
  assert.equal(found.kernel, Deno.osRelease());
  // An empty field is empty, not the next line.
  assert.equal(machine("microcode\t:\nflags\t: sha_ni\nmodel name\t: X").flags[0], "sha_ni");
  const empty = machine("model name\t:\nflags\t: sha_ni");
  assert.equal(empty.cpu, null);
  assert.deepEqual(empty.flags, ["sha_ni"]);
  assert.deepEqual(machine(null).cpu, null);
  assert.deepEqual(machine(null).flags, []);
});
