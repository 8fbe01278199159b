/**
 * src/_stdout_pipe.ts: standard output's pipe enlarged, so a slow reader does not block Lotse.
 *
 * @module
 */
import assert from "node:assert/strict";
import { waitFor } from "./_wait.ts";

const MODULE = new URL("../src/_stdout_pipe.ts", import.meta.url).href;

/**
 * A child enlarges its standard output's pipe, then writes 512 KiB to it synchronously while
 * nobody reads it, and says so on standard error. With the pipe's default 64 KiB the write
 * blocks until the reader drains it, and the line never comes.
 */
Deno.test("a synchronous write of 512 KiB goes through while nobody reads the pipe", async () => {
  const script = `
    import { enlargeStdoutPipe } from "${MODULE}";
    const result = enlargeStdoutPipe();
    console.error(JSON.stringify(result));
    Deno.stdout.writeSync(new Uint8Array(512 * 1024).fill(46));
    console.error("written");
    setInterval(() => {}, 1000); // stays until killed
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const reading = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) text += chunk;
  })();
  try {
    await waitFor(() => text.includes("written"), "the unread 512 KiB write to go through", {
      timeoutMs: 20_000,
    });
    const result = JSON.parse(text.split("\n")[0]!);
    assert.equal(result.enlarged, true);
    assert.ok(result.bytes >= 512 * 1024, text);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* it ended on its own: the assertions above say why */ }
    await child.status;
    await child.stdout.cancel();
    await reading;
  }
});

Deno.test("standard output that is no pipe is left as it is", async () => {
  const script = `
    import { enlargeStdoutPipe } from "${MODULE}";
    console.error(JSON.stringify(enlargeStdoutPipe()));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    stdout: "null",
    stderr: "piped",
  }).output();
  const result = JSON.parse(new TextDecoder().decode(out.stderr).trim());
  assert.equal(result.enlarged, false);
});
