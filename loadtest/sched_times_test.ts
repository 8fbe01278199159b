/**
 * schedTimes()/schedDelta() (loadtest/_harness.ts), which P6's held run uses to tell what each
 * process used of its core and how long it waited for one.
 *
 * @module
 */
import assert from "node:assert/strict";
import { schedDelta, schedTimes } from "./_harness.ts";

Deno.test("schedTimes() counts the CPU a process has run, as its own CPU clock does", async () => {
  // A process of its own (tests share this one): it spins for 100 ms of its CPU time between
  // the two snapshots, however long that takes on a loaded machine.
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `      const line = async () => { for await (const _ of Deno.stdin.readable) return; };
      console.log("ready");
      await line();
      const cpu = process.cpuUsage();
      while (process.cpuUsage(cpu).user + process.cpuUsage(cpu).system < 100_000) {}
      console.log("spun");
      await line();`,
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stdin = child.stdin.getWriter();
  try {
    assert.match((await lines.read()).value ?? "", /ready/);
    const before = schedTimes([child.pid]);
    await stdin.write(new TextEncoder().encode("go\n"));
    assert.match((await lines.read()).value ?? "", /spun/);
    const { runS, waitS } = schedDelta(before, schedTimes([child.pid]));
    assert(runS >= 0.09, `ran ${runS} s`);
    assert(waitS >= 0, `waited ${waitS} s`);
  } finally {
    await stdin.close();
    await lines.cancel();
    await child.status;
  }
});

Deno.test("schedTimes() leaves out a process that has ended", async () => {
  const child = new Deno.Command("true").spawn();
  await child.status;
  const snapshot = schedTimes([child.pid, Deno.pid]);
  assert.deepEqual([...snapshot.keys()], [Deno.pid]);
});
