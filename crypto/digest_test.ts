import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  createSha256,
  formatDigest,
  parseDigest,
  sha256Base64,
  sha256FromDigest,
} from "./digest.ts";

const HELLO_256 = createHash("sha256").update("hello").digest("base64");
const HELLO_512 = createHash("sha512").update("hello").digest("base64");

Deno.test("parseDigest() reads a single sha-256 byte sequence", () => {
  assert.deepEqual(parseDigest(`sha-256=:${HELLO_256}:`), { "sha-256": HELLO_256 });
});

Deno.test("parseDigest() reads several algorithms and tolerates whitespace", () => {
  assert.deepEqual(parseDigest(`  sha-512=:${HELLO_512}: ,sha-256=:${HELLO_256}:  `), {
    "sha-256": HELLO_256,
    "sha-512": HELLO_512,
  });
});

Deno.test("parseDigest() ignores unknown algorithms and parameters", () => {
  assert.deepEqual(parseDigest(`md5=:AAAA:, unixsum=42, sha-256=:${HELLO_256}:;x=1`), {
    "sha-256": HELLO_256,
  });
  assert.deepEqual(parseDigest("id-sha-256=:AAAA:"), {});
});

Deno.test("parseDigest() returns null for malformed values", () => {
  for (
    const bad of [
      "",
      "sha-256",
      `sha-256=${HELLO_256}`,
      `sha-256=:${HELLO_256}`,
      "sha-256=:AAAA:", // wrong length
      `sha-256=:${HELLO_256}:,`,
      `SHA-256=:${HELLO_256}:`,
      `sha-256=:${HELLO_256.slice(1)}=:`,
      "sha-256=:!!!!:",
    ]
  ) {
    assert.equal(parseDigest(bad), null, bad);
  }
});

Deno.test("sha256FromDigest() picks the sha-256 value or null", () => {
  assert.equal(sha256FromDigest(`sha-512=:${HELLO_512}:, sha-256=:${HELLO_256}:`), HELLO_256);
  assert.equal(sha256FromDigest(`sha-512=:${HELLO_512}:`), null);
  assert.equal(sha256FromDigest(null), null);
  assert.equal(sha256FromDigest("garbage"), null);
});

Deno.test("formatDigest() writes a value parseDigest() reads back", () => {
  const header = formatDigest("sha-256", HELLO_256);
  assert.equal(header, `sha-256=:${HELLO_256}:`);
  assert.equal(sha256FromDigest(header), HELLO_256);
});

Deno.test("createSha256() over chunks equals the one-shot hash", () => {
  const data = crypto.getRandomValues(new Uint8Array(65_536));
  const hash = createSha256();
  for (let i = 0; i < data.length; i += 4099) hash.update(data.subarray(i, i + 4099));
  assert.equal(hash.digest("base64"), sha256Base64(data));
  assert.equal(sha256Base64("hello"), HELLO_256);
});
