/**
 * A normal keep-alive HTTP client in a process of its own (a client in the server's process
 * sees every close before its next request, so it cannot race one): `concurrency` loops share
 * `fetch`'s connection pool, each sending a request, reading the answer and pausing 5 ms, every
 * tenth a POST (which `fetch` never retries), until `requests` were sent in all. Prints
 * `{"ok": n, "errors": [...]}` as its last line.
 *
 * ```sh
 * deno run --allow-net tests/_keep_alive_client.ts http://127.0.0.1:8080/ 2000 4
 * ```
 *
 * @module
 */
const [url, requests, concurrency] = Deno.args;
let sent = 0;
let ok = 0;
const errors: string[] = [];

async function loop(): Promise<void> {
  while (sent < Number(requests)) {
    const post = ++sent % 10 === 0;
    try {
      const res = await fetch(url!, post ? { method: "POST", body: "x" } : {});
      await res.arrayBuffer();
      if (res.status === 200) ok++;
      else errors.push(`${post ? "POST" : "GET"}: status ${res.status}`);
    } catch (error) {
      const cause = (error as Error).cause;
      errors.push(`${post ? "POST" : "GET"}: ${error}${cause ? `: ${cause}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

await Promise.all(Array.from({ length: Number(concurrency) }, loop));
console.log(JSON.stringify({ ok, errors }));
