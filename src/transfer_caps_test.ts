import assert from "node:assert/strict";
import { TransferCaps } from "./transfer_caps.ts";

Deno.test("TransferCaps bounds running transfers per consumer and in total", () => {
  const caps = new TransferCaps({ total: 3, perConsumer: 2 });
  const a1 = caps.acquire("a")!;
  const a2 = caps.acquire("a")!;
  assert.equal(caps.acquire("a"), null);
  const b1 = caps.acquire("b")!;
  assert.equal(caps.acquire("c"), null);
  a1();
  a1();
  assert.equal(caps.running, 2);
  assert.ok(caps.acquire("c"));
  b1();
  a2();
  assert.equal(caps.running, 1);
});
