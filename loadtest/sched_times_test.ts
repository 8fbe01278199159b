/**
 * schedTimes()/schedDelta() (loadtest/_harness.ts), which P6's held run uses to tell what each
 * process used of its core and how long it waited for one.
 *
 * @module
 */
import assert from "node:assert/strict";
import process from "node:process";
import { schedDelta, schedTimes } from "./_harness.ts";

Deno.test("schedTimes() counts the CPU a process has run, as its own CPU clock does", () => {
  const before = schedTimes([Deno.pid]);
  const cpu = process.cpuUsage();
  // 50 ms of this process's CPU time, however long that takes on a loaded machine.
  while (process.cpuUsage(cpu).user + process.cpuUsage(cpu).system < 50_000) { /* spin */ }
  const { runS, waitS } = schedDelta(before, schedTimes([Deno.pid]));
  assert(runS >= 0.045, `ran ${runS} s`);
  assert(waitS >= 0, `waited ${waitS} s`);
});

Deno.test("schedTimes() leaves out a process that has ended", async () => {
  const child = new Deno.Command("true").spawn();
  await child.status;
  const snapshot = schedTimes([child.pid, Deno.pid]);
  assert.deepEqual([...snapshot.keys()], [Deno.pid]);
});
