/**
 * The held-arrival-rate generator (loadtest/_arrival.ts): its answer parser, and that it is an
 * open model (requests go out at their due time whether or not earlier ones were answered).
 *
 * @module
 */
import assert from "node:assert/strict";
import { answerEnd, type ArrivalResult, runArrival } from "./_arrival.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/** Runs `test` against a `Deno.serve` on a free loopback port answering with `handler`. */
async function withServer(
  handler: (request: Request) => Response | Promise<Response>,
  test: (url: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler);
  try {
    await test(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("answerEnd finds the end of a Content-Length answer only once it is whole", () => {
  const status = new Int32Array(1);
  const whole = bytes("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
  assert.equal(answerEnd(whole, whole.length, status), whole.length);
  assert.equal(status[0], 200);
  assert.equal(answerEnd(whole, whole.length - 1, status), -1);
  assert.equal(answerEnd(whole, 20, status), -1);
});

Deno.test("answerEnd follows chunked answers across reads", () => {
  const status = new Int32Array(1);
  const text = "HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n" +
    "3\r\nabc\r\na\r\n0123456789\r\n0\r\n\r\nHTTP/1.1 200";
  const buf = bytes(text);
  const end = text.indexOf("HTTP/1.1 200");
  for (let len = 0; len < end; len++) assert.equal(answerEnd(buf, len, status), -1, `at ${len}`);
  assert.equal(answerEnd(buf, buf.length, status), end);
  assert.equal(status[0], 404);
});

Deno.test("answerEnd reads field names in any case and chunk sizes in upper case", () => {
  const status = new Int32Array(1);
  const sized = bytes("HTTP/1.1 503 Service Unavailable\r\nContent-Length:  2\r\n\r\nok");
  assert.equal(answerEnd(sized, sized.length, status), sized.length);
  assert.equal(status[0], 503);
  const text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n";
  const chunked = bytes(text);
  assert.equal(answerEnd(chunked, chunked.length, status), chunked.length);
  assert.equal(answerEnd(chunked, chunked.length - 1, status), -1);
});

Deno.test("answerEnd ends an answer without a body at its head", () => {
  const status = new Int32Array(1);
  const buf = bytes("HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n");
  assert.equal(answerEnd(buf, buf.length, status), buf.length);
  assert.equal(status[0], 204);
});

Deno.test("requests go out while earlier ones wait: an open model, not one per connection", async () => {
  // The server answers nothing until 12 requests are in: with 2 connections opened beforehand
  // a closed model (autocannon) would never get there.
  const held: (() => void)[] = [];
  await withServer(async () => {
    const { promise, resolve } = Promise.withResolvers<void>();
    held.push(resolve);
    if (held.length === 12) { for (const r of held) r(); }
    await promise;
    return new Response("{}", { headers: { "content-type": "application/json" } });
  }, async (url) => {
    const result = await runArrival({
      url,
      paths: ["/a", "/b"],
      rate: 400,
      durationS: 0.03,
      connections: 2,
      maxConnections: 50,
    });
    assert.equal(result.scheduled, 12);
    assert.equal(result.requests, 12);
    assert.equal(result.errors, 0);
    assert.equal(result.dropped, 0);
    assert(result.connectionsUsed >= 12, `only ${result.connectionsUsed} connections`);
    assert(result.latencyMs.max >= result.serviceMs.max - 1e-9);
  });
});

Deno.test("a request with no free connection left is dropped and counted, as k6 counts it", async () => {
  // Every request is held until the generator has dropped one: with at most 3 connections the
  // fourth due request finds none free.
  const held: (() => void)[] = [];
  let dropped = false;
  const release = () => {
    dropped = true;
    for (const r of held.splice(0)) r();
  };
  await withServer(async () => {
    if (!dropped) {
      const { promise, resolve } = Promise.withResolvers<void>();
      held.push(resolve);
      await promise;
    }
    return new Response("streamed", { status: 201 });
  }, async (url) => {
    const result = await runArrival({
      url,
      paths: ["/"],
      rate: 500,
      durationS: 0.02,
      connections: 1,
      maxConnections: 3,
    }, release);
    assert.equal(result.scheduled, 10);
    assert(result.dropped >= 1, "nothing dropped");
    assert.equal(result.requests + result.dropped, 10);
    assert.equal(result.errors, 0);
    assert.equal(result.connectionsUsed, 3);
  });
});

Deno.test("requests of the warm-up are sent at the rate but not counted", async () => {
  let received = 0;
  await withServer(() => {
    received++;
    return new Response("ok");
  }, async (url) => {
    const result = await runArrival({
      url,
      paths: ["/"],
      rate: 400,
      durationS: 0.02,
      warmupS: 0.03,
      connections: 2,
    });
    assert.equal(received, 20);
    assert.equal(result.scheduled, 8);
    assert.equal(result.requests, 8);
    assert.equal(result.errors, 0);
  });
});

Deno.test("at a low rate the generator sleeps between due times instead of holding its core", async () => {
  // 500/s: requests 2 ms apart, which the generator spun through until session 9 (its CPU time
  // was its wall time). Now a waker wakes it 0.3 ms before each due time. The generator runs as
  // its own process, as the benchmarks run it, so its CPU time is its own and not the server's
  // or other tests'. A resource check, not a timing one: on a loaded machine the share only falls.
  let received = 0;
  await withServer(() => {
    received++;
    return new Response("ok");
  }, async (url) => {
    const job = await Deno.makeTempFile({ suffix: ".json" });
    try {
      await Deno.writeTextFile(
        job,
        JSON.stringify({
          url,
          paths: ["/"],
          rate: 500,
          durationS: 1.5,
          connections: 4,
          maxConnections: 750, // never short of one: nothing dropped however slow the machine
        }),
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("./_arrival.ts", import.meta.url).pathname, job],
        stdout: "piped",
      }).output();
      assert(out.success, "the generator failed");
      const line = new TextDecoder().decode(out.stdout).split("\n")
        .find((l) => l.startsWith("ARRIVAL_JSON "));
      const result = JSON.parse(line!.slice("ARRIVAL_JSON ".length)) as ArrivalResult;
      assert.equal(result.requests, 750);
      assert.equal(received, 750);
      assert.equal(result.slept, true);
      assert(result.cpuShare < 0.5, `the generator took ${result.cpuShare} of a core`);
    } finally {
      await Deno.remove(job);
    }
  });
});

Deno.test("requests due closer together than twice the spin are sent by spinning throughout", async () => {
  await withServer(() => new Response("ok"), async (url) => {
    const result = await runArrival({
      url,
      paths: ["/"],
      rate: 2000,
      durationS: 0.05,
      connections: 4,
      maxConnections: 100,
      spinMs: 0.3,
    });
    assert.equal(result.slept, false);
    assert.equal(result.requests, 100);
  });
});
