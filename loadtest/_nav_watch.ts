/**
 * A navigation client in a process of its own, for loadtest/full_scale.ts: asks one URL with a
 * bearer token, one request after the other, until SIGTERM. It prints `ready` after its first
 * answer; at the end it writes every answer as `[asked, ms, status]` to `<file>` as one JSON
 * array (asked in epoch milliseconds, so the runner can place it on its own clock; status 0 when
 * no answer came: refused, reset, or none within 20 s). The runner that measures an import also
 * sends its body and holds a million routes: measured from there, its own collections and the
 * body's encoding counted as B's stalls.
 *
 * `deno run --allow-net --allow-write=<file> loadtest/_nav_watch.ts <url> <token> <file>`
 *
 * @module
 */
const [url, token, file] = Deno.args;
if (url === undefined || token === undefined || file === undefined) {
  console.error("usage: _nav_watch.ts <url> <token> <file>");
  Deno.exit(2);
}
// SIGTERM ends the loop after the request under way (loadtest/_harness.ts' Child.stop()).
let running = true;
Deno.addSignalListener("SIGTERM", () => running = false);
const answers: [number, number, number][] = [];
const clock = () => performance.timeOrigin + performance.now();
// A request unanswered this long counts as no answer (status 0), so that a wedged server cannot
// keep the watcher from ending.
const ANSWER_TIMEOUT_MS = 20_000;
while (running) {
  const asked = clock();
  let status = 0;
  try {
    const res = await fetch(url, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
    });
    await res.arrayBuffer();
    status = res.status;
  } catch {
    // Refused, reset or timed out: recorded as status 0, not a crash that loses every answer.
  }
  answers.push([asked, clock() - asked, status]);
  if (answers.length === 1) console.log("ready");
  // A server that refuses at once is not asked in a loop that takes the load core.
  if (status === 0) await new Promise((r) => setTimeout(r, 10));
}
await Deno.writeTextFile(file, JSON.stringify(answers));
Deno.exit(0);
