import assert from "node:assert/strict";
import { MAX_ROUTE_SERIES, Metrics } from "./metrics.ts";

Deno.test("Metrics.render() counts requests per route and status", () => {
  const metrics = new Metrics();
  metrics.observe("GET /v1/navigation", 200, 0.3);
  metrics.observe("GET /v1/navigation", 200, 3);
  metrics.observe("GET /v1/navigation", 404, 0.2);
  const text = metrics.render();
  assert.match(text, /lotse_http_requests_total\{route="GET \/v1\/navigation",status="200"\} 2/);
  assert.match(text, /lotse_http_requests_total\{route="GET \/v1\/navigation",status="404"\} 1/);
});

Deno.test("Metrics.render() keeps histogram buckets cumulative", () => {
  const metrics = new Metrics();
  metrics.observe("GET /x", 200, 0.4); // 0.0004 s → first bucket
  metrics.observe("GET /x", 200, 1.5); // 0.0015 s → le 0.002
  metrics.observe("GET /x", 200, 20_000); // beyond the last bound
  const text = metrics.render();
  assert.match(text, /_bucket\{route="GET \/x",le="0.0005"\} 1\n/);
  assert.match(text, /_bucket\{route="GET \/x",le="0.001"\} 1\n/);
  assert.match(text, /_bucket\{route="GET \/x",le="0.002"\} 2\n/);
  assert.match(text, /_bucket\{route="GET \/x",le="10"\} 2\n/);
  assert.match(text, /_bucket\{route="GET \/x",le="\+Inf"\} 3\n/);
  assert.match(text, /_count\{route="GET \/x"\} 3\n/);
});

Deno.test("Metrics.render() reads gauges at scrape time and sums transfer bytes", () => {
  const metrics = new Metrics();
  let depth = 1;
  metrics.gauge("lotse_protocol_queue_depth", "Records not yet durable.", () => depth);
  metrics.addTransferBytes("response", 10);
  metrics.addTransferBytes("response", 5);
  depth = 7;
  const text = metrics.render();
  assert.match(text, /lotse_protocol_queue_depth 7\n/);
  assert.match(text, /lotse_transfer_bytes_total\{direction="response"\} 15\n/);
});

Deno.test("Metrics.observe() folds routes past the series cap into one overflow series", () => {
  const metrics = new Metrics();
  for (let i = 0; i < MAX_ROUTE_SERIES + 100; i++) metrics.observe(`GET /r${i}`, 200, 1);
  const text = metrics.render();
  const series = text.match(/^lotse_http_requests_total\{/gm)?.length;
  assert.equal(series, MAX_ROUTE_SERIES + 1);
  assert.match(text, /lotse_http_requests_total\{route="overflow",status="200"\} 100\n/);
});

Deno.test("Metrics.render() has the protocol wait as a histogram of its own", () => {
  const metrics = new Metrics();
  metrics.observeProtocolWait(0);
  metrics.observeProtocolWait(1.5);
  metrics.observeProtocolWait(30);
  const text = metrics.render();
  assert.match(text, /^# TYPE lotse_protocol_wait_seconds histogram$/m);
  assert.match(text, /^lotse_protocol_wait_seconds_bucket\{le="0.00025"\} 1$/m);
  assert.match(text, /^lotse_protocol_wait_seconds_bucket\{le="0.0005"\} 1$/m);
  assert.match(text, /^lotse_protocol_wait_seconds_bucket\{le="0.001"\} 1$/m);
  assert.match(text, /^lotse_protocol_wait_seconds_bucket\{le="0.0015"\} 2$/m);
  assert.match(text, /^lotse_protocol_wait_seconds_bucket\{le="0.002"\} 2$/m);
  assert.match(text, /^lotse_protocol_wait_seconds_bucket\{le="0.05"\} 3$/m);
  assert.match(text, /^lotse_protocol_wait_seconds_count 3$/m);
  assert.match(text, /^lotse_protocol_wait_seconds_sum 0.0315$/m);
});

Deno.test("Metrics.render() has the protocol's stages and the event loop's delay as histograms", () => {
  const metrics = new Metrics();
  metrics.observeProtocolStage("queued", 0.2);
  metrics.observeProtocolStage("queued", 2.2);
  metrics.observeProtocolStage("database", 0.7);
  metrics.observeLoopDelay(0.1);
  metrics.observeLoopDelay(12);
  const text = metrics.render();
  assert.match(text, /^# TYPE lotse_protocol_stage_seconds histogram$/m);
  assert.match(text, /^lotse_protocol_stage_seconds_bucket\{stage="queued",le="0.00025"\} 1$/m);
  assert.match(text, /^lotse_protocol_stage_seconds_bucket\{stage="queued",le="0.002"\} 1$/m);
  assert.match(text, /^lotse_protocol_stage_seconds_bucket\{stage="queued",le="0.0025"\} 2$/m);
  assert.match(text, /^lotse_protocol_stage_seconds_count\{stage="database"\} 1$/m);
  assert.doesNotMatch(text, /stage="resumed"/);
  assert.match(text, /^# TYPE lotse_event_loop_delay_seconds histogram$/m);
  assert.match(text, /^lotse_event_loop_delay_seconds_bucket\{le="0.01"\} 1$/m);
  assert.match(text, /^lotse_event_loop_delay_seconds_bucket\{le="0.025"\} 2$/m);
});
