/**
 * The readiness check's "TLS as registered": an HTTPS register with its own CA passes when the
 * CA is registered with it, and fails with the reason when it is not (the system roots do not
 * know that CA). Real sockets, a real TLS handshake.
 */
import assert from "node:assert/strict";
import { bearer } from "./_app.ts";
import {
  ADMIN_TOKEN,
  newKeyPair,
  providerRegistration,
  register,
  startWithBrokenRegister,
} from "./_onboarding.ts";
import { createTestPki } from "./tls.ts";
import { startDemoProvider } from "../demo/registers.ts";

Deno.test({
  name: "the readiness check reaches an HTTPS register through its registered CA only",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { lotse, close } = await startWithBrokenRegister();
    const pki = await createTestPki("Readiness Test CA");
    const https = startDemoProvider({
      cert: pki.cert,
      key: pki.key,
      jwks: new URL(`${lotse.base}/.well-known/jwks.json`),
    });
    try {
      const check = async (clientId: string, caCert: string | undefined) => {
        const created = await register(
          lotse,
          providerRegistration(clientId, await newKeyPair(), https.endpoint(clientId), {
            jurisdictions: ["06434001"],
            ...(caCert === undefined ? {} : { caCert }),
          }),
        );
        assert.equal(created.status, 201, await created.clone().text());
        await created.body?.cancel();
        const res = await lotse.fetch("/v1/readiness-checks", {
          method: "POST",
          headers: bearer(ADMIN_TOKEN, { "content-type": "application/json" }),
          body: JSON.stringify({ providerId: clientId }),
        });
        assert.equal(res.status, 201);
        const report = await res.json();
        return Object.fromEntries(
          report.checks.map((c: { id: string }) => [c.id, c]),
        ) as Record<string, { passed: boolean; detail: string }>;
      };
      const trusted = await check("tls-mit-ca", pki.caCert);
      assert.equal(trusted.tls!.passed, true);
      assert.match(trusted.tls!.detail, /mit der registrierten CA/);
      assert.equal(trusted["valid-token"]!.passed, true, trusted["valid-token"]!.detail);
      assert.equal(trusted["repr-digest"]!.passed, true);
      const untrusted = await check("tls-ohne-ca", undefined);
      assert.equal(untrusted.tls!.passed, false);
      assert.match(untrusted.tls!.detail, /Keine HTTPS-Verbindung .* System-Stammzertifikaten/);
      assert.match(untrusted.tls!.detail, /invalid peer certificate/, "the handshake's reason");
      assert.equal(untrusted["valid-token"]!.passed, false);
    } finally {
      await https.shutdown();
      await close();
    }
  },
});
