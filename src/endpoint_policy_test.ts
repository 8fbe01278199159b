import assert from "node:assert/strict";
import { EndpointPolicy, LOOPBACK_NETWORKS, parseNetwork } from "./endpoint_policy.ts";
import { parseConfig } from "./config.ts";

Deno.test("EndpointPolicy refuses userinfo, queries, fragments and non-HTTP schemes", () => {
  const policy = EndpointPolicy.STRICT;
  assert.equal(policy.check("https://register.example/api"), null);
  for (
    const bad of [
      "https://user:pw@register.example/",
      "https://register.example/?token=abc",
      "https://register.example/?",
      "https://register.example/#frag",
      "ftp://register.example/",
      "not a url",
      "http://127.999.0.1/",
    ]
  ) {
    assert.equal(typeof policy.check(bad), "string", bad);
  }
});

Deno.test("EndpointPolicy refuses loopback, private and link-local addresses unless allowed", () => {
  const strict = EndpointPolicy.STRICT;
  for (
    const bad of [
      "https://169.254.169.254/latest/meta-data/",
      "https://10.0.0.1/",
      "https://192.168.1.1/",
      "https://172.16.0.1/",
      "https://100.64.0.1/",
      "https://localhost:22/",
      "https://api.localhost/",
      "https://127.0.0.1/",
      "https://[::1]/",
      "https://[fe80::1]/",
      "https://[fd00::1]/",
      "https://[::ffff:127.0.0.1]/",
      "https://[::ffff:10.0.0.1]/",
      "https://0.0.0.0/",
      "https://0x7f.1/",
    ]
  ) {
    assert.match(strict.check(bad) ?? "", /LOTSE_PROVIDER_ALLOWED_NETWORKS/, bad);
  }
  const allowed = new EndpointPolicy(["10.20.0.0/16", ...LOOPBACK_NETWORKS]);
  assert.equal(allowed.check("https://10.20.3.4/"), null);
  assert.match(allowed.check("https://10.21.0.1/") ?? "", /private/);
  assert.equal(allowed.check("https://127.0.0.1/"), null);
  assert.equal(allowed.check("https://[::1]/"), null);
  assert.match(allowed.check("https://169.254.169.254/") ?? "", /link-local/);
});

Deno.test("EndpointPolicy allows plain HTTP on allowed loopback only", () => {
  const policy = EndpointPolicy.LOOPBACK;
  for (
    const ok of [
      "http://127.0.0.1:8080/",
      "http://127.9.0.1/",
      "http://localhost/",
      "http://[::1]/",
    ]
  ) {
    assert.equal(policy.check(ok), null, ok);
  }
  for (
    const bad of [
      "http://register.example/",
      "http://128.0.0.1/",
      "http://127.0.0.1.evil.example/",
      "http://127.0.0.256/",
    ]
  ) {
    assert.equal(typeof policy.check(bad), "string", bad);
  }
  assert.equal(typeof EndpointPolicy.STRICT.check("http://127.0.0.1/"), "string");
});

Deno.test("parseNetwork() reads CIDRs and single addresses and names a bad one", () => {
  assert.equal(parseNetwork("10.0.0.0/8")[1], 8);
  assert.equal(parseNetwork("::1")[1], 128);
  assert.throws(() => parseNetwork("10.0.0.0/33"), /Cannot parse network "10.0.0.0\/33"/);
});

Deno.test("LOTSE_PROVIDER_ALLOWED_NETWORKS is parsed at start; demo allows loopback by default", () => {
  assert.deepEqual(parseConfig({}).providerAllowedNetworks, []);
  assert.deepEqual(parseConfig({ LOTSE_DEMO: "1" }).providerAllowedNetworks, LOOPBACK_NETWORKS);
  assert.deepEqual(
    parseConfig({ LOTSE_PROVIDER_ALLOWED_NETWORKS: "10.20.0.0/16, 127.0.0.0/8" })
      .providerAllowedNetworks,
    ["10.20.0.0/16", "127.0.0.0/8"],
  );
  assert.throws(
    () => parseConfig({ LOTSE_PROVIDER_ALLOWED_NETWORKS: "10.20.0.0/16,banana" }),
    /LOTSE_PROVIDER_ALLOWED_NETWORKS.*Cannot parse network "banana"/,
  );
});
