import assert from "node:assert/strict";
import { isTokenPath } from "./edge.ts";

Deno.test("isTokenPath() says what new URL(url).pathname says of /v1/token", () => {
  const urls = [
    "http://lotse.test/v1/token",
    "http://lotse.test/v1/token?grant_type=client_credentials",
    "http://lotse.test:8080/v1/token",
    "http://lotse.test/v1/./token",
    "http://lotse.test/x/../v1/token",
    "http://lotse.test/v1/token#part",
    "http://lotse.test/v1/tokens",
    "http://lotse.test/v1/token/",
    "http://lotse.test/v1/%74oken",
    "http://lotse.test/v1/authorizations",
    "http://lotse.test/",
    "http://lotse.test",
  ];
  const said = urls.map(isTokenPath);
  assert.deepEqual(said, urls.map((url) => new URL(url).pathname === "/v1/token"));
  assert.deepEqual(said.filter(Boolean).length, 6);
});
