import assert from "node:assert/strict";
import { checkCaCert, checkPublicJwk } from "./registration.ts";

Deno.test("checkPublicJwk() takes public P-256 and Ed25519 keys only", async () => {
  const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const ecPublic = await crypto.subtle.exportKey("jwk", ec.publicKey);
  assert.equal(checkPublicJwk(ecPublic as Record<string, unknown>), null);
  const ed = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  assert.equal(
    checkPublicJwk(await crypto.subtle.exportKey("jwk", ed.publicKey) as Record<string, unknown>),
    null,
  );
  const ecPrivate = await crypto.subtle.exportKey("jwk", ec.privateKey);
  assert.match(checkPublicJwk(ecPrivate as Record<string, unknown>)!, /private member/);
  assert.match(checkPublicJwk({ kty: "oct", k: "c2VjcmV0" })!, /private member/);
  assert.match(checkPublicJwk({ kty: "EC", crv: "P-384", x: "a", y: "b" })!, /not allowed/);
  assert.match(
    checkPublicJwk({ ...ecPublic, y: ecPublic.x } as Record<string, unknown>)!,
    /not on the curve/,
  );
  assert.match(checkPublicJwk({ kty: "EC", crv: "P-256" })!, /missing/);
});

Deno.test("checkCaCert() takes PEM CA certificates only", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const openssl = async (...args: string[]) => {
      const out = await new Deno.Command("openssl", { args, cwd: dir, stdin: "null" }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
    };
    const subj = [
      "-subj",
      "/CN=t",
      "-nodes",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
    ];
    await openssl(
      "req",
      "-x509",
      ...subj,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
    );
    await openssl(
      "req",
      "-x509",
      ...subj,
      "-keyout",
      "leaf.key",
      "-out",
      "leaf.pem",
      "-days",
      "2",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
    );
    const ca = await Deno.readTextFile(`${dir}/ca.pem`);
    const leaf = await Deno.readTextFile(`${dir}/leaf.pem`);
    assert.equal(checkCaCert(ca), null);
    assert.equal(checkCaCert(ca + ca), null);
    assert.match(checkCaCert(leaf)!, /not a CA/);
    assert.match(checkCaCert("garbage")!, /expected PEM/);
    assert.match(
      checkCaCert("-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----")!,
      /not an X.509/,
    );
    assert.match(checkCaCert(ca, new Date(Date.now() + 10 * 86_400_000))!, /expired/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
