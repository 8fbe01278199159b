/**
 * Why Lotse rotates its server only under descriptor pressure (ARCHITECTURE.md, "Hostile and
 * careless clients"): a `SO_REUSEPORT` `Deno.serve` replaced every 20 ms while 16 clients open
 * fresh connections for 8 s; prints how many requests failed. Run with
 * `deno run -A --unstable-net loadtest/rotation_probe.ts` (and compare
 * `sysctl net.ipv4.tcp_migrate_req=0` with `=1`).
 *
 * @module
 */
// Rotations of a SO_REUSEPORT Deno.serve under a stream of fresh connections: how many fail.
const hostname = "127.0.0.1";
const probe = Deno.listen({ hostname, port: 0 });
const port = (probe.addr as Deno.NetAddr).port;
probe.close();
const start = () =>
  Deno.serve({ hostname, port, reusePort: true, onListen() {} }, () => new Response("ok"));
let current = start();
let rotations = 0;
const until = performance.now() + 8000;
const rotator = (async () => {
  while (performance.now() < until) {
    await new Promise((r) => setTimeout(r, 20));
    const old = current;
    current = start();
    await old.shutdown();
    rotations++;
  }
})();
let ok = 0, failed = 0;
const req = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
async function client() {
  const buf = new Uint8Array(512);
  while (performance.now() < until) {
    try {
      const conn = await Deno.connect({ hostname, port });
      await conn.write(req);
      let got = "";
      let n;
      while ((n = await conn.read(buf)) !== null) {
        got += new TextDecoder().decode(buf.subarray(0, n));
      }
      conn.close();
      if (got.startsWith("HTTP/1.1 200")) ok++;
      else failed++;
    } catch {
      failed++;
    }
  }
}
await Promise.all([rotator, ...Array.from({ length: 16 }, client)]);
console.log(
  JSON.stringify({
    migrate: Deno.readTextFileSync("/proc/sys/net/ipv4/tcp_migrate_req").trim(),
    rotations,
    ok,
    failed,
  }),
);
await current.shutdown();
