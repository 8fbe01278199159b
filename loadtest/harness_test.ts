/**
 * The benchmark harness' child processes (loadtest/_harness.ts): output read through a pipe, and
 * output the process writes to a file itself (`direct`), with its pid still the command's.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  CAN_PIN,
  Child,
  Cleanups,
  failedAnswer,
  installed,
  pinned,
  watchNavigation,
} from "./_harness.ts";

const script = (lines: number) =>
  `for (let i = 0; i < ${lines}; i++) console.log("line " + i); ` +
  `console.error("pid " + Deno.pid); await new Promise((r) => setTimeout(r, 60_000));`;

Deno.test("a direct child writes to its file itself; output reads the file's end", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lotse-harness-" });
  const file = `${dir}/out.log`;
  const child = new Child("direct", Deno.execPath(), ["eval", script(20_000)], {
    outFile: file,
    direct: true,
  });
  try {
    // The process is the command itself (the shell execs it), not a shell reading for it.
    const deadline = Date.now() + 60_000;
    while (!child.output.includes(`pid ${child.pid}`)) {
      assert.ok(Date.now() < deadline, `no pid line in ${child.output.slice(-200)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const cmdline = await Deno.readTextFile(`/proc/${child.pid}/cmdline`);
    assert.ok(cmdline.startsWith(Deno.execPath()), cmdline);
    // Its standard output is the file, not a pipe.
    assert.equal(await Deno.readLink(`/proc/${child.pid}/fd/1`), file);
    const text = await Deno.readTextFile(file);
    assert.ok(text.startsWith("line 0\n"));
    assert.ok(text.includes("line 19999\n"));
    // `output` is the last 64 KiB only.
    assert.equal(child.output.length, 65536);
    assert.ok(text.endsWith(child.output));
  } finally {
    await child.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a piped child's output is drained by the harness and copied to its file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "lotse-harness-" });
  const file = `${dir}/out.log`;
  const child = new Child("piped", Deno.execPath(), ["eval", script(10)], { outFile: file });
  try {
    const deadline = Date.now() + 60_000;
    while (!child.output.includes(`pid ${child.pid}`)) {
      assert.ok(Date.now() < deadline, `no pid line in ${child.output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.match(await Deno.readLink(`/proc/${child.pid}/fd/1`), /^pipe:/);
  } finally {
    await child.stop();
  }
  assert.ok((await Deno.readTextFile(file)).includes("line 9\n"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("pinned() runs a command under taskset where it is installed, else as it is", () => {
  const [cmd, args] = pinned("1", "curl", ["-s", "x"]);
  if (installed("taskset")) {
    assert.deepEqual([cmd, args], ["taskset", ["-c", "1", "curl", "-s", "x"]]);
  } else {
    assert.deepEqual([cmd, args], ["curl", ["-s", "x"]]);
  }
  assert.equal(CAN_PIN, installed("taskset"));
  assert.equal(installed("no-such-command-for-lotse"), false);
  assert.equal(installed("sh"), true);
});

/** A provider stand-in answering every POST with `bytes` bytes; its URL and what it saw. */
function provider(bytes: number) {
  const seen: { path: string; auth: string | null; body: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    seen.push({
      path: new URL(req.url).pathname,
      auth: req.headers.get("authorization"),
      body: await req.text(),
    });
    return new Response(new Uint8Array(bytes).fill(97));
  });
  return { server, seen, url: `http://127.0.0.1:${server.addr.port}` };
}

Deno.test("_consume.ts prints status, size and speed as curl's -w line does", async () => {
  const p = provider(300_000);
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        new URL("./_consume.ts", import.meta.url).pathname,
        `${p.url}/providers/x`,
        JSON.stringify({ authorization: "Bearer t" }),
        '{"demo":1}',
      ],
      stdout: "piped",
    }).output();
    const [status, size, speed] = new TextDecoder().decode(out.stdout).trim().split(" ");
    assert.equal(status, "200");
    assert.equal(size, "300000");
    assert.ok(Number(speed) > 0, `speed ${speed}`);
    assert.deepEqual(p.seen, [{ path: "/providers/x", auth: "Bearer t", body: '{"demo":1}' }]);
  } finally {
    await p.server.shutdown();
  }
});

Deno.test("watchNavigation() asks from its own process until stopped and gives every answer", async () => {
  const seen: string[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (request) => {
    seen.push(request.headers.get("authorization") ?? "");
    return new Response("{}", { status: seen.length % 2 === 0 ? 404 : 200 });
  });
  const cleanups = new Cleanups();
  try {
    const before = performance.now();
    const watch = await watchNavigation(
      cleanups,
      `http://127.0.0.1:${server.addr.port}/v1/navigation`,
      "the-token",
    );
    // Until the server has seen a few more requests than the first, answered before `ready`.
    for (const end = performance.now() + 30_000; seen.length < 5;) {
      if (performance.now() > end) throw new Error(`only ${seen.length} requests in 30 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const answers = await watch.stop();
    const after = performance.now();
    assert.ok(answers.length >= 5, `${answers.length} answers`);
    assert.equal(answers.length, seen.length);
    assert.ok(seen.every((h) => h === "Bearer the-token"));
    // Each answer's status as the server gave it, in order; times on this process's clock.
    assert.deepEqual(
      answers.map((a) => a.status),
      seen.map((_, i) => (i + 1) % 2 === 0 ? 404 : 200),
    );
    for (const a of answers) {
      // Placed on this process's clock (epoch time in the watcher): within the watch, give or take
      // the two processes' time origins.
      assert.ok(a.asked >= before - 50 && a.asked <= after + 50, `asked ${a.asked}`);
      assert.ok(a.ms >= 0 && a.asked + a.ms <= after + 50, `took ${a.ms}`);
    }
  } finally {
    await cleanups.run();
    await server.shutdown();
  }
});

Deno.test("watchNavigation() records a server that is gone as failed answers, not a lost run", async () => {
  // A port nothing listens on: every request is refused.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const cleanups = new Cleanups();
  try {
    const watch = await watchNavigation(cleanups, `http://127.0.0.1:${port}/`, "t");
    const answers = await watch.stop();
    assert.ok(answers.length >= 1);
    assert.ok(answers.every((a) => a.status === 0 && failedAnswer(a)));
    assert.equal(failedAnswer({ asked: 0, ms: 1, status: 404 }), false, "a 404 is an answer");
    assert.equal(failedAnswer({ asked: 0, ms: 1, status: 503 }), true);
  } finally {
    await cleanups.run();
  }
});
