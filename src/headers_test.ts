import assert from "node:assert/strict";
import { headerText } from "./headers.ts";

Deno.test("headerText() keeps plain ASCII", () => {
  assert.equal(headerText("bewohnerparkausweis"), "bewohnerparkausweis");
});

Deno.test("headerText() re-reads UTF-8 bytes that arrived as Latin-1", () => {
  const latin1 = String.fromCharCode(...new TextEncoder().encode("§ 45 StVO"));
  assert.equal(headerText(latin1), "§ 45 StVO");
});

Deno.test("headerText() keeps a Latin-1 value that is not UTF-8", () => {
  assert.equal(headerText("\xa7 45 StVO"), "§ 45 StVO");
});

Deno.test("headerText() decodes RFC 8187 extended values", () => {
  assert.equal(headerText("UTF-8''%C2%A7%2045%20StVO"), "§ 45 StVO");
  assert.equal(headerText("UTF-8''%E0%A4%A"), null);
});

Deno.test("headerText() refuses control characters, however they are encoded", () => {
  assert.equal(headerText("UTF-8''x%00"), null);
  assert.equal(headerText("a\x01b"), null);
  assert.equal(headerText("UTF-8''%C2%85"), null);
});
