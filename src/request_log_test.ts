import assert from "node:assert/strict";
import { createLogger } from "./log.ts";
import { RequestLog } from "./request_log.ts";

function requestLog() {
  const lines: string[] = [];
  const log = new RequestLog(createLogger({ write: (line) => lines.push(line), now: () => 0 }));
  return { log, lines };
}

const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

Deno.test("RequestLog writes one JSON line per request with the fields an operator reads", () => {
  const { log, lines } = requestLog();
  const request = new Request("http://lotse.test/v1/transfers/x?secret=1", {
    headers: { "x-request-id": "req-1", traceparent: TRACEPARENT },
  });
  const response = new Response(null, { status: 404, headers: { "lotse-transfer-id": "t-1" } });
  log.note(request, { route: "GET /v1/transfers/:id", clientId: "kommune-a" });
  log.write(request, response, 1.23456);
  assert.deepEqual(JSON.parse(lines[0]!), {
    time: "1970-01-01T00:00:00.000Z",
    level: "info",
    msg: "request",
    method: "GET",
    route: "GET /v1/transfers/:id",
    status: 404,
    durationMs: 1.235,
    clientId: "kommune-a",
    transferId: "t-1",
    requestId: "req-1",
    traceparent: TRACEPARENT,
  });
});

Deno.test("RequestLog escapes what it writes and drops a request id or traceparent it cannot check", () => {
  const { log, lines } = requestLog();
  const request = new Request("http://lotse.test/", { method: "POST" });
  log.write(request, new Response("x"), 0.5, {
    route: 'POST /v1/"odd"\\route',
    clientId: 'client "quoted" \\ \n',
    requestId: 'id"},"level":"error',
    traceparent: "00-not-a-trace",
    transferId: 'transfer"\n',
  });
  log.write(request, new Response("x"), 0, { requestId: null, traceparent: null });
  assert.equal(lines.length, 2);
  assert.ok(lines.every((line) => !line.includes("\n")));
  const [first, second] = lines.map((line) => JSON.parse(line));
  assert.equal(first.level, "info");
  assert.equal(first.route, 'POST /v1/"odd"\\route');
  assert.equal(first.clientId, 'client "quoted" \\ \n');
  assert.equal(first.transferId, 'transfer"\n');
  assert.equal(first.requestId, null);
  assert.equal(first.traceparent, null);
  assert.deepEqual(
    [second.route, second.clientId, second.transferId, second.durationMs],
    ["unmatched", null, null, 0],
  );
});
