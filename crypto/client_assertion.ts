/**
 * `private_key_jwt` client authentication (RFC 7523 § 2.2, 3) for `POST /v1/token`: the
 * client signs a short JWT with its registered key; Lotse checks it and remembers its
 * `jti` so it cannot be used twice.
 *
 * Audience: `aud` must name this server and nothing else (draft-ietf-oauth-rfc7523bis § 4:
 * "its issuer identifier as its sole audience value"). Lotse accepts its issuer identifier
 * and, for clients written to RFC 7523 as first published, its token endpoint URL: a string,
 * or an array holding exactly one of them. An array that also names anyone else is refused,
 * since an assertion meant for several servers is what audience injection exploits.
 *
 * @example
 * ```ts
 * import { ReplayCache } from "./caches.ts";
 * import { verifyClientAssertion } from "./client_assertion.ts";
 * const replay = new ReplayCache();
 * const result = await verifyClientAssertion(form.get("client_assertion"), {
 *   clients: (id) => index.client(id),
 *   audience: [publicUrl, `${publicUrl}/v1/token`],
 *   replay,
 *   clientId: form.get("client_id") ?? undefined,
 * });
 * if (!result.ok) return c.json({ error: result.error, error_description: result.description }, result.status);
 * ```
 *
 * @module
 */

import { decodeJwt, importJWK, jwtVerify } from "jose";
import type { Client } from "../src/model.ts";
import type { ReplayGuard } from "./caches.ts";
import {
  checkWindow,
  inspectCompact,
  MAX_JTI_LENGTH,
  refusal,
  refusalFromJose,
  type TokenRefusal,
} from "./_jws.ts";
import { CLOCK_SKEW_SECONDS, MAX_TOKEN_LIFETIME_SECONDS } from "./keys.ts";

/** Algorithms a client may sign its assertion with. Never `none`, never HMAC. */
export const CLIENT_ASSERTION_ALGORITHMS = ["ES256", "EdDSA"] as const;

/** Options for {@linkcode verifyClientAssertion}. */
export interface ClientAssertionOptions {
  /** The current client table. */
  clients: (id: string) => Client | undefined;
  /**
   * The identifiers that name this server (its issuer, its token endpoint URL): `aud` must be
   * exactly one of them, alone.
   */
  audience: string | readonly string[];
  /** Remembers used `jti`s. */
  replay: ReplayGuard;
  /** The form's `client_id`, when sent: must equal `iss`. */
  clientId?: string;
  /** Epoch ms; default `Date.now()`. */
  now?: number;
  /** Default {@linkcode MAX_TOKEN_BYTES}. */
  maxBytes?: number;
}

/** RFC 6749 § 5.2 error codes this check answers with. */
export type ClientAssertionErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "unauthorized_client"
  | "temporarily_unavailable";

/** A refused assertion, with the OAuth error and the HTTP status to answer with. */
export interface ClientAssertionError extends TokenRefusal {
  readonly error: ClientAssertionErrorCode;
  readonly status: 400 | 401 | 503;
}

/** An accepted assertion. `expiresAt` is its `exp` in epoch seconds. */
export interface ClientAssertionSuccess {
  readonly ok: true;
  readonly client: Client;
  readonly jti: string;
  readonly expiresAt: number;
}

export type ClientAssertionResult = ClientAssertionSuccess | ClientAssertionError;

// A client may register several keys; without a kid each is tried, up to this many.
const MAX_KEYS_TRIED = 5;

/**
 * Verifies a client assertion. Never throws: every bad input becomes an error result.
 * The `jti` is recorded only after the signature verified, so strangers cannot fill the
 * replay cache.
 */
export async function verifyClientAssertion(
  assertion: unknown,
  options: ClientAssertionOptions,
): Promise<ClientAssertionResult> {
  try {
    return await verify(assertion, options);
  } catch {
    return fail(refusal("malformed", "it cannot be verified"));
  }
}

async function verify(
  assertion: unknown,
  options: ClientAssertionOptions,
): Promise<ClientAssertionResult> {
  const now = options.now ?? Date.now();
  const nowSeconds = Math.floor(now / 1000);
  const inspected = inspectCompact(assertion, {
    algorithms: CLIENT_ASSERTION_ALGORITHMS,
    maxBytes: options.maxBytes,
  });
  if (!inspected.ok) return fail(inspected);
  const token = assertion as string;
  const alg = inspected.header.alg as string;
  const kid = inspected.header.kid;

  const iss = unverifiedIssuer(token);
  if (iss === undefined) return fail(refusal("claims", `missing "iss" claim`));
  if (options.clientId !== undefined && options.clientId !== iss) {
    return fail(refusal("client_mismatch", "client_id does not match the assertion's iss"));
  }
  const client = options.clients(iss);
  if (client === undefined) return fail(refusal("unknown_client", "unknown client"));

  const candidates = client.jwks.keys.filter((jwk) =>
    fitsAlgorithm(jwk, alg) && (kid === undefined || kidOf(jwk) === kid)
  ).slice(0, MAX_KEYS_TRIED);
  if (candidates.length === 0) {
    return fail(refusal("unknown_key", "no registered key of the client matches"));
  }

  let payload: Record<string, unknown> | undefined;
  let last: TokenRefusal = refusal("signature", "signature does not verify");
  for (const jwk of candidates) {
    try {
      const verified = await jwtVerify(token, await publicKey(jwk, alg), {
        algorithms: [alg],
        issuer: client.id,
        subject: client.id,
        currentDate: new Date(now),
        clockTolerance: CLOCK_SKEW_SECONDS,
        requiredClaims: ["iss", "sub", "aud", "exp", "jti"],
      });
      payload = verified.payload;
      break;
    } catch (error) {
      last = refusalFromJose(error);
      if (last.fault !== "signature") return fail(last);
    }
  }
  if (payload === undefined) return fail(last);

  const audience = checkAudience(payload.aud, options.audience);
  if (audience !== null) return fail(audience);

  const window = checkWindow(payload, {
    nowSeconds,
    maxLifetimeSeconds: MAX_TOKEN_LIFETIME_SECONDS,
    skewSeconds: CLOCK_SKEW_SECONDS,
  });
  if (window !== null) return fail(window);
  const { jti, exp } = payload as { jti: unknown; exp: number };
  if (typeof jti !== "string" || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    return fail(refusal("claims", `"jti" must be a string of 1 to ${MAX_JTI_LENGTH} characters`));
  }

  // Held until the assertion could no longer pass the exp check above anyway.
  const claim = await options.replay.claim(
    `${client.id}\n${jti}`,
    (exp + CLOCK_SKEW_SECONDS) * 1000,
    now,
  );
  if (claim === "replayed") return fail(refusal("replayed", "its jti was already used"));
  if (claim === "full") {
    return fail(refusal("unavailable", "too many assertions in flight, try again later"));
  }
  if (client.roles.length === 0) {
    return {
      ok: false,
      error: "unauthorized_client",
      status: 400,
      fault: "claims",
      description: `Cannot issue a token: client "${client.id}" has no role`,
    };
  }
  return { ok: true, client, jti, expiresAt: exp };
}

function checkAudience(aud: unknown, accepted: string | readonly string[]): TokenRefusal | null {
  const values = Array.isArray(aud) ? aud : [aud];
  if (values.length !== 1) {
    return refusal("audience", `"aud" must name this server as its sole value`);
  }
  const value = values[0];
  const ok = typeof value === "string" &&
    (typeof accepted === "string" ? value === accepted : accepted.includes(value));
  return ok ? null : refusal("audience", `unexpected "aud" value`);
}

function fail(r: TokenRefusal): ClientAssertionError {
  if (r.fault === "missing") return { ...r, error: "invalid_request", status: 400 };
  if (r.fault === "unavailable") return { ...r, error: "temporarily_unavailable", status: 503 };
  return { ...r, error: "invalid_client", status: 401 };
}

// Which client's keys to use is only known from the (not yet verified) iss.
function unverifiedIssuer(token: string): string | undefined {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === "string" && iss !== "" ? iss : undefined;
  } catch {
    return undefined;
  }
}

// JsonWebKey (lib.dom) has no kid, though registered JWKs carry one.
function kidOf(jwk: JsonWebKey): unknown {
  return (jwk as { kid?: unknown }).kid;
}

function fitsAlgorithm(jwk: JsonWebKey, alg: string): boolean {
  if (jwk.use !== undefined && jwk.use !== "sig") return false;
  if (jwk.alg !== undefined && jwk.alg !== alg && !(alg === "EdDSA" && jwk.alg === "Ed25519")) {
    return false;
  }
  if (alg === "ES256") return jwk.kty === "EC" && jwk.crv === "P-256";
  return jwk.kty === "OKP" && jwk.crv === "Ed25519";
}

// Tables are immutable and swapped whole, so a JWK object identifies one key for its life.
const imported = new WeakMap<JsonWebKey, Promise<CryptoKey>>();

function publicKey(jwk: JsonWebKey, alg: string): Promise<CryptoKey> {
  let key = imported.get(jwk);
  if (key === undefined) {
    // Only the public members: a private `d` registered by mistake is never imported.
    const { kty, crv, x, y } = jwk;
    key = importJWK({ kty, crv, x, y }, alg) as Promise<CryptoKey>;
    imported.set(jwk, key);
    key.catch(() => imported.delete(jwk));
  }
  return key;
}
