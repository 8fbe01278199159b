import assert from "node:assert/strict";
import { decodeFrames, encodeFrames, FRAME_HEADER } from "./_frame.ts";
import { outcomeEntry, type ProtocolEntry } from "./_entry.ts";

function entries(n: number): ProtocolEntry[] {
  return Array.from({ length: n }, (_, i) =>
    outcomeEntry(crypto.randomUUID(), {
      outcome: i % 2 ? "failed" : "delivered",
      status: 200 + i,
      bytes: i * 1000,
      reason: i % 2 ? "provider timed out" : null,
    }, { now: new Date(Date.UTC(2026, 0, 1, 0, 0, i)), hmacKey: "frame-test-key" }));
}

Deno.test("decodeFrames() returns the entries encodeFrames() wrote, in order", () => {
  const written = entries(5);
  const bytes = encodeFrames(written);
  const decoded = decodeFrames(bytes);
  assert.deepEqual(decoded.entries, written);
  assert.equal(decoded.end, bytes.length);
  assert.equal(decoded.stop, null);
});

Deno.test("decodeFrames() stops after max entries and says where", () => {
  const written = entries(4);
  const bytes = encodeFrames(written);
  const decoded = decodeFrames(bytes, 2);
  assert.deepEqual(decoded.entries, written.slice(0, 2));
  assert.equal(decoded.end, encodeFrames(written.slice(0, 2)).length);
  assert.deepEqual(decodeFrames(bytes.subarray(decoded.end)).entries, written.slice(2));
});

Deno.test("decodeFrames() ignores a torn last frame, wherever it was cut", () => {
  const written = entries(3);
  const whole = encodeFrames(written);
  const firstTwo = encodeFrames(written.slice(0, 2)).length;
  for (const cut of [firstTwo + 1, firstTwo + FRAME_HEADER, whole.length - 1]) {
    const decoded = decodeFrames(whole.subarray(0, cut));
    assert.deepEqual(decoded.entries, written.slice(0, 2), `cut at ${cut}`);
    assert.equal(decoded.end, firstTwo);
    assert.equal(decoded.stop, "incomplete");
  }
});

Deno.test("decodeFrames() detects a payload whose CRC does not match", () => {
  const written = entries(3);
  const bytes = encodeFrames(written);
  const second = encodeFrames(written.slice(0, 1)).length;
  bytes[second + FRAME_HEADER + 5]! ^= 0x01;
  const decoded = decodeFrames(bytes);
  assert.deepEqual(decoded.entries, written.slice(0, 1));
  assert.equal(decoded.end, second);
  assert.equal(decoded.stop, "checksum");
});

Deno.test("decodeFrames() treats an impossible length as corruption", () => {
  const bytes = encodeFrames(entries(1));
  new DataView(bytes.buffer).setUint32(0, 0xffffffff, true);
  const decoded = decodeFrames(bytes);
  assert.deepEqual(decoded.entries, []);
  assert.equal(decoded.stop, "corrupt");
});
