import assert from "node:assert/strict";
import { conformanceTokens } from "./conformance_tokens.ts";
import { verifyEvidenceToken } from "./evidence_token.ts";
import { FakeClock, testRing } from "./_testing.ts";

Deno.test("conformanceTokens(): one token a provider accepts, four it refuses for their fault", async () => {
  const clock = new FakeClock();
  const ring = await testRing(clock);
  const grant = {
    consumerId: "lotse-readiness",
    providerId: "kba-zfzr",
    evidenceType: "fahrzeugzulassung",
    purpose: "readiness-check",
    legalBasis: "readiness-check",
    idnrUsed: false,
  };
  const tokens = await conformanceTokens(grant, {
    keys: ring,
    issuer: "https://lotse.example",
    now: clock.now(),
  });
  const verify = (token: string) =>
    verifyEvidenceToken(token, ring.jwks(), { audience: "kba-zfzr", now: clock.now() });
  const valid = await verify(tokens.valid);
  assert.ok(valid.ok);
  const fault = async (token: string) => {
    const result = await verify(token);
    return result.ok ? "accepted" : result.fault;
  };
  assert.equal(await fault(tokens.expired), "expired");
  assert.equal(await fault(tokens.wrongAudience), "audience");
  assert.equal(await fault(tokens.unknownKid), "unknown_key");
  assert.equal(await fault(tokens.algNone), "malformed");
  // alg none is named in its header and carries the valid token's claims, unsigned.
  const [header, payload, signature] = tokens.algNone.split(".");
  assert.equal(JSON.parse(atob(header!)).alg, "none");
  assert.equal(payload, tokens.valid.split(".")[1]);
  assert.equal(signature, "");
});
