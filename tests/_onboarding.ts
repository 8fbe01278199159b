/**
 * Helpers of the onboarding tests: a fresh key pair per registrant (the private key stays in
 * the test, as it stays in the browser), registration bodies, and what is stored.
 *
 * @module
 */
import { importJWK, SignJWT } from "jose";
import { bearer, startTestLotse, type TestLotse, tokenForm } from "./_app.ts";
import { type BrokenRegister, startBrokenRegister } from "../demo/broken_register.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";

/** The operator's bootstrap secret of tests/_app.ts. */
export const ADMIN_TOKEN = "test-admin-token-of-at-least-32-characters";

/** An ES256 key pair as JWKs. */
export interface KeyPair {
  readonly publicJwk: JsonWebKey & { kid: string };
  readonly privateJwk: JsonWebKey & { kid: string };
}

/** A new ES256 key pair with a random `kid`. */
export async function newKeyPair(): Promise<KeyPair> {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const kid = crypto.randomUUID();
  const privateJwk = { ...await crypto.subtle.exportKey("jwk", pair.privateKey), kid };
  const { kty, crv, x, y } = privateJwk;
  return { publicJwk: { kty, crv, x, y, kid, alg: "ES256", use: "sig" }, privateJwk };
}

/** An access token for a registered client, asserted with its own private key. */
export async function tokenWithKey(
  lotse: TestLotse,
  clientId: string,
  key: KeyPair,
): Promise<{ status: number; token?: string; body: Record<string, unknown> }> {
  const now = Math.floor(Date.now() / 1000);
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: key.privateJwk.kid })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(`${lotse.publicUrl}/v1/token`)
    .setJti(crypto.randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + 60)
    .sign(await importJWK({ ...key.privateJwk }, "ES256"));
  const res = await lotse.fetch("/v1/token", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: tokenForm(clientId, assertion),
  });
  const body = await res.json();
  return { status: res.status, token: body.access_token, body };
}

/** A consumer's registration asking for vehicle data for resident parking. */
export function consumerRegistration(
  clientId: string,
  key: KeyPair,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    kind: "consumer",
    organisation: "Stadt Musterstadt – Bewohnerparken",
    contact: { name: "Erika Mustermann", email: "erika.mustermann@musterstadt.example" },
    clientId,
    jwks: { keys: [key.publicJwk] },
    evidenceTypes: ["fahrzeugzulassung"],
    purposes: [DEMO_PURPOSES.bewohnerparken.purpose],
    legalBases: [DEMO_PURPOSES.bewohnerparken.legalBasis],
    ...overrides,
  };
}

/** A provider's registration: the Gewerberegister of Freiburg (the demo has none there). */
export function providerRegistration(
  clientId: string,
  key: KeyPair,
  endpoint: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    kind: "provider",
    organisation: "Stadt Freiburg im Breisgau – Gewerberegister",
    contact: { name: "Max Mustermann", email: "gewerberegister@freiburg.example" },
    clientId,
    jwks: { keys: [key.publicJwk] },
    evidenceTypes: ["gewerberegisterauszug"],
    endpoint,
    jurisdictions: ["08311000"],
    ...overrides,
  };
}

/** Posts a registration as JSON. */
export function register(lotse: TestLotse, body: unknown, init: RequestInit = {}) {
  return lotse.fetch("/onboarding/v1/registrations", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
}

/** Everything onboarding may have written: rows of each table and audit entries. */
export async function storedCounts(lotse: TestLotse): Promise<Record<string, number>> {
  const db = lotse.lotse.db;
  const count = async (table: string) => {
    const rows = await db.sql<{ n: number }>`
      select (case ${table}
        when 'registrations' then (select count(*) from registrations)
        when 'clients' then (select count(*) from clients)
        when 'providers' then (select count(*) from providers)
        when 'routes' then (select count(*) from routes)
        when 'permissions' then (select count(*) from permissions)
        when 'audit' then (select count(*) from audit_entries)
      end)::int as n`;
    return Number(rows[0]!.n);
  };
  const out: Record<string, number> = {};
  for (const t of ["registrations", "clients", "providers", "routes", "permissions", "audit"]) {
    out[t] = await count(t);
  }
  return out;
}

/** The Bewohnerparkausweis pilot's evidence request for `S-LO 1234`, with `token`. */
export function fetchParkingEvidence(lotse: TestLotse, token: string): Promise<Response> {
  return lotse.fetch("/v1/evidence/fahrzeugzulassung?ags=08111000", {
    method: "POST",
    headers: bearer(token, {
      "lotse-purpose": DEMO_PURPOSES.bewohnerparken.purpose,
      "lotse-legal-basis": DEMO_PURPOSES.bewohnerparken.legalBasis,
      "content-type": "application/json",
    }),
    body: '{"kennzeichen":"S-LO 1234"}',
  });
}

/** Every check of a provider with an XNachweis endpoint, in report order. */
export const ALL_CHECKS: readonly string[] = [
  "tls",
  "valid-token",
  "repr-digest",
  "timeout",
  "expired-token",
  "wrong-audience",
  "unknown-kid",
  "alg-none",
  "problem-json",
  "xnachweis-response",
  "xnachweis-error",
];

/** The checks demo/broken_register.ts fails: all but TLS (loopback) and the valid token. */
export const BROKEN_REGISTER_FAILS: readonly string[] = ALL_CHECKS.slice(2);

/** The provider timeout of the readiness tests; the broken register answers 1 s later. */
export const READINESS_TIMEOUT_MS = 2000;

/**
 * A Lotse (production environment, no registration limit, provider timeout
 * {@linkcode READINESS_TIMEOUT_MS}) beside a broken register slower than that timeout.
 */
export async function startWithBrokenRegister(): Promise<
  { lotse: TestLotse; broken: BrokenRegister; close(): Promise<void> }
> {
  const lotse = await startTestLotse({
    env: {
      LOTSE_PROVIDER_TIMEOUT_MS: String(READINESS_TIMEOUT_MS),
      LOTSE_RATE_LIMIT_REGISTRATION: "0",
    },
  });
  const broken = startBrokenRegister({ delayMs: READINESS_TIMEOUT_MS + 1000 });
  return {
    lotse,
    broken,
    async close() {
      await broken.shutdown();
      await lotse.close();
    },
  };
}

/** The demo register's endpoint for a provider id (it serves any id). */
export function demoEndpoint(lotse: TestLotse, providerId: string): string {
  return `http://127.0.0.1:${lotse.lotse.demoProvider!.port}/providers/${providerId}`;
}
