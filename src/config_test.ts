import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "./config.ts";

Deno.test("parseConfig() gives the documented defaults for an empty environment", () => {
  const config = parseConfig({});
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.port, 8080);
  assert.equal(config.tls, null);
  assert.equal(config.databaseUrl, null);
  assert.equal(config.dataDir, "./data");
  assert.equal(config.demo, false);
  assert.equal(config.providerTimeoutMs, 30000);
  assert.equal(config.providerIdleTimeoutMs, 30000);
  assert.equal(config.maxRequestBytes, 1024 * 1024);
  assert.equal(config.publicUrl, "http://127.0.0.1:8080");
  assert.ok(Object.isFrozen(config));
});

Deno.test("parseConfig() reads every variable it is given", () => {
  const config = parseConfig({
    LOTSE_HOST: "0.0.0.0",
    LOTSE_PORT: "9443",
    LOTSE_TLS_CERT_FILE: "/c.pem",
    LOTSE_TLS_KEY_FILE: "/k.pem",
    LOTSE_PUBLIC_URL: "https://lotse.example.de/",
    DATABASE_URL: "postgres://u@db/lotse",
    LOTSE_ADMIN_TOKEN: "x".repeat(32),
    LOTSE_DEMO: "1",
    LOTSE_PROVIDER_TIMEOUT_MS: "500",
    LOTSE_MAX_REQUEST_BYTES: "2048",
  });
  assert.equal(config.port, 9443);
  assert.deepEqual(config.tls, { certFile: "/c.pem", keyFile: "/k.pem" });
  assert.equal(config.publicUrl, "https://lotse.example.de");
  assert.equal(config.databaseUrl, "postgres://u@db/lotse");
  assert.equal(config.demo, true);
  assert.equal(config.providerTimeoutMs, 500);
  assert.equal(config.maxRequestBytes, 2048);
});

for (
  const [name, value] of [
    ["LOTSE_PORT", "http"],
    ["LOTSE_PORT", "70000"],
    ["LOTSE_ADMIN_TOKEN", "short"],
    ["LOTSE_DEMO", "yes"],
    ["DATABASE_URL", "mysql://x"],
    ["LOTSE_PUBLIC_URL", "ftp://x"],
    ["LOTSE_PROVIDER_TIMEOUT_MS", "-1"],
    ["LOTSE_TLS_CERT_FILE", "/only-cert.pem"],
  ] as const
) {
  Deno.test(`parseConfig() refuses ${name}="${value}" and names the variable`, () => {
    assert.throws(
      () => parseConfig({ [name]: value }),
      (error) => error instanceof ConfigError && error.message.includes(name.slice(0, 14)),
    );
  });
}

Deno.test("parseConfig() never echoes a secret in its message", () => {
  assert.throws(
    () => parseConfig({ LOTSE_ADMIN_TOKEN: "topsecret" }),
    (error) => error instanceof Error && !error.message.includes("topsecret"),
  );
});

Deno.test("parseConfig() reads the cockpit's OpenID Connect settings", () => {
  assert.equal(parseConfig({}).cockpitOidc, null);
  assert.equal(parseConfig({}).cockpitIdnrClaim, "idnr");
  const config = parseConfig({
    LOTSE_DSC_OIDC_ISSUER: "https://id.example.de/realms/buerger",
    LOTSE_DSC_OIDC_CLIENT_ID: "lotse-cockpit",
    LOTSE_DSC_OIDC_CLIENT_SECRET: "s3cret",
    LOTSE_DSC_IDNR_CLAIM: "urn:example:idnr",
  });
  assert.deepEqual(config.cockpitOidc, {
    issuer: "https://id.example.de/realms/buerger",
    clientId: "lotse-cockpit",
    clientSecret: "s3cret",
  });
  assert.equal(config.cockpitIdnrClaim, "urn:example:idnr");
  const local = parseConfig({
    LOTSE_DSC_OIDC_ISSUER: "http://127.0.0.1:9000/idp",
    LOTSE_DSC_OIDC_CLIENT_ID: "c",
  });
  assert.equal(local.cockpitOidc?.clientSecret, null);
});

for (
  const [env, name] of [
    [{ LOTSE_DSC_OIDC_ISSUER: "https://id.example.de" }, "LOTSE_DSC_OIDC_CLIENT_ID"],
    [{ LOTSE_DSC_OIDC_CLIENT_ID: "c" }, "LOTSE_DSC_OIDC_ISSUER"],
    [{ LOTSE_DSC_OIDC_ISSUER: "http://id.example.de", LOTSE_DSC_OIDC_CLIENT_ID: "c" }, "ISSUER"],
    [{ LOTSE_DSC_IDNR_CLAIM: "has space" }, "LOTSE_DSC_IDNR_CLAIM"],
  ] as const
) {
  Deno.test(`parseConfig() refuses the cockpit setting ${JSON.stringify(env)}`, () => {
    assert.throws(
      () => parseConfig(env),
      (error) => error instanceof ConfigError && error.message.includes(name),
    );
  });
}

Deno.test("parseConfig() reads LOTSE_ENVIRONMENT, production by default, and refuses others", () => {
  assert.equal(parseConfig({}).environment, "production");
  assert.equal(parseConfig({ LOTSE_ENVIRONMENT: "test" }).environment, "test");
  assert.equal(parseConfig({}).rateLimitRegistration, 10);
  assert.throws(
    () => parseConfig({ LOTSE_ENVIRONMENT: "staging" }),
    (error: Error) =>
      error instanceof ConfigError && /LOTSE_ENVIRONMENT \(got "staging"\)/.test(error.message),
  );
});
