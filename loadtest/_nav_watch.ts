/**
 * A navigation client in a process of its own, for loadtest/full_scale.ts: asks one URL with a
 * bearer token, one request after the other, until its standard input closes. It prints `ready`
 * after its first answer, and at the end every answer as `[asked, ms, status]` (asked in epoch
 * milliseconds, so the runner can place it on its own clock) as one JSON array on one line. The runner that measures an import also sends its body
 * and holds a million routes: measured from there, its own collections and the body's encoding
 * counted as B's stalls.
 *
 * `deno run --allow-net loadtest/_nav_watch.ts <url> <token>`
 *
 * @module
 */
const [url, token] = Deno.args;
if (url === undefined || token === undefined) {
  console.error("usage: _nav_watch.ts <url> <token>");
  Deno.exit(2);
}
let running = true;
const stdinClosed = (async () => {
  for await (const _ of Deno.stdin.readable) { /* nothing is sent; the end is the signal */ }
  running = false;
})();
const answers: [number, number, number][] = [];
const clock = () => performance.timeOrigin + performance.now();
while (running) {
  const asked = clock();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  answers.push([asked, clock() - asked, res.status]);
  if (answers.length === 1) console.log("ready");
}
await stdinClosed;
console.log(JSON.stringify(answers));
