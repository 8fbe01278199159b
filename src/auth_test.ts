import assert from "node:assert/strict";
import { timingSafeEqual } from "node:crypto";
import { CONSTANT_TIME_EQUAL, secretEquals } from "./auth.ts";

Deno.test("secretEquals() compares in constant time: Node's timingSafeEqual", () => {
  assert.equal(CONSTANT_TIME_EQUAL, timingSafeEqual);
});

Deno.test("secretEquals() hands the constant-time primitive two 32-byte digests, whatever the inputs", () => {
  const calls: [Uint8Array, Uint8Array][] = [];
  const spy = (a: Uint8Array, b: Uint8Array) => {
    calls.push([a, b]);
    return CONSTANT_TIME_EQUAL(a, b);
  };
  const secret = "test-admin-token-of-at-least-32-characters";
  const cases: [string, boolean][] = [
    [secret, true],
    ["", false],
    ["t", false],
    [secret.slice(0, -1), false],
    [secret + "x", false],
    [secret.slice(0, -1) + "X", false],
    ["x".repeat(10_000), false],
    ["ä".repeat(20), false],
  ];
  for (const [guess, expected] of cases) {
    assert.equal(secretEquals(guess, secret, spy), expected, JSON.stringify(guess.slice(0, 20)));
  }
  // One comparison per call, never a shortcut before it (no length check, no early return).
  assert.equal(calls.length, cases.length);
  for (const [a, b] of calls) {
    assert.equal(a.byteLength, 32);
    assert.equal(b.byteLength, 32);
  }
});

Deno.test("secretEquals() answers by the primitive's verdict", () => {
  assert.equal(secretEquals("a", "a", () => false), false);
  assert.equal(secretEquals("a", "b", () => true), true);
});
