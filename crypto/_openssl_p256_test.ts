import assert from "node:assert/strict";
import { CompactSign, compactVerify, importJWK } from "jose";
import { nativeP256Key, rawSignature } from "./_openssl_p256.ts";

const EC_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;

async function newJwk(): Promise<JsonWebKey> {
  const pair = await crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  return await crypto.subtle.exportKey("jwk", pair.privateKey);
}

function der(r: number[], s: number[]): Uint8Array {
  const body = [0x02, r.length, ...r, 0x02, s.length, ...s];
  return new Uint8Array([0x30, body.length, ...body]);
}

Deno.test("rawSignature() pads short integers and drops the sign byte of long ones", () => {
  const high = [0x80, ...Array(31).fill(7)];
  const short = Array(30).fill(9);
  const raw = rawSignature(der([0, ...high], short));
  assert.deepEqual([...raw.subarray(0, 32)], high);
  assert.deepEqual([...raw.subarray(32)], [0, 0, ...short]);
});

Deno.test("rawSignature() refuses what is not one ECDSA-Sig-Value", () => {
  const good = der(Array(32).fill(1), Array(32).fill(2));
  for (
    const bad of [
      good.subarray(0, good.length - 1),
      new Uint8Array([0x31, ...good.subarray(1)]),
      der(Array(33).fill(1), Array(32).fill(2)),
      new Uint8Array([...good, 0]),
    ]
  ) {
    assert.throws(() => rawSignature(bad), /unexpected ECDSA signature encoding/);
  }
});

Deno.test("an OpenSSL ES256 signature verifies through Web Crypto and jose, and differs each time", async () => {
  const jwk = await newJwk();
  const native = await nativeP256Key(jwk);
  assert.ok(native, "OpenSSL signs here (Linux, libcrypto 3, FFI allowed)");
  const publicJwk = { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y };
  const verifyKey = await crypto.subtle.importKey("jwk", publicJwk, EC_P256, false, ["verify"]);
  const joseKey = await importJWK(publicJwk, "ES256");
  const header = btoa(JSON.stringify({ alg: "ES256" })).replace(/=+$/, "");
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const payload = btoa(JSON.stringify({ i })).replace(/=+$/, "");
    const input = new TextEncoder().encode(`${header}.${payload}`);
    const signature: Uint8Array<ArrayBuffer> = native.sign(input);
    assert.equal(signature.length, 64);
    const ok = await crypto.subtle.verify(
      { name: "ECDSA", hash: "SHA-256" },
      verifyKey,
      signature,
      input,
    );
    assert.ok(ok, `signature ${i} verifies`);
    const jws = `${header}.${payload}.${
      btoa(String.fromCharCode(...signature))
        .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "")
    }`;
    await compactVerify(jws, joseKey);
    seen.add(jws);
    // A changed byte does not verify.
    input[input.length - 1]! ^= 1;
    assert.equal(
      await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, verifyKey, signature, input),
      false,
    );
  }
  assert.equal(seen.size, 50);
  // And jose's own ES256 signature with the same key verifies the same way (same key format).
  const webKey = await crypto.subtle.importKey("jwk", jwk, EC_P256, false, ["sign"]);
  const reference = await new CompactSign(new TextEncoder().encode("x"))
    .setProtectedHeader({ alg: "ES256" }).sign(webKey);
  await compactVerify(reference, joseKey);
});

Deno.test("without FFI for libcrypto there is no native key, and nothing fails", async () => {
  const module = new URL("./_openssl_p256.ts", import.meta.url).href;
  const jwk = await newJwk();
  const script = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    script,
    `const { nativeP256Key } = await import(${JSON.stringify(module)});
console.log(String(await nativeP256Key(${JSON.stringify(jwk)})));`,
  );
  // Everything Lotse's start task allows, but FFI.
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-read", "--allow-env", "--allow-net", script],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  await Deno.remove(script);
  const out = new TextDecoder().decode(stdout).trim();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.equal(out, "null");
});
