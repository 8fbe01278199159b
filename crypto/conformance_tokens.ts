/**
 * The evidence tokens of a provider's readiness check (docs/api.md §3.3): one valid token and
 * the four a provider must refuse (expired, another `aud`, a `kid` Lotse never published,
 * `alg: none`). Each is exactly what a careless or hostile sender could present, so a register
 * that accepts any of them has a hole a developer can name.
 *
 * @example
 * ```ts
 * const tokens = await conformanceTokens(grant, { keys: ring, issuer: "https://lotse.example" });
 * await fetch(endpoint, { headers: { authorization: `Bearer ${tokens.algNone}` } }); // must be 401
 * ```
 *
 * @module
 */
import { base64url } from "jose";
import {
  EVIDENCE_TOKEN_TYPE,
  type EvidenceGrant,
  type SealEvidenceOptions,
  sealEvidenceToken,
} from "./evidence_token.ts";
import { CLOCK_SKEW_SECONDS, MAX_TOKEN_LIFETIME_SECONDS } from "./keys.ts";

/** The tokens a readiness check sends, as compact JWS strings. */
export interface ConformanceTokens {
  /** Sealed by Lotse's active key, for this provider: must be accepted. */
  readonly valid: string;
  /** Sealed by Lotse, expired well beyond the clock skew allowed. */
  readonly expired: string;
  /** Sealed by Lotse for another audience. */
  readonly wrongAudience: string;
  /** Signed with a fresh key under a `kid` Lotse never published. */
  readonly unknownKid: string;
  /** The valid token's claims with `alg: none` and no signature. */
  readonly algNone: string;
}

/** The `aud` of the wrong-audience token: no provider id can be it (ids have no dots). */
export const WRONG_AUDIENCE = "lotse.readiness-check.not-you";

/** Builds the readiness check's tokens for `grant` (its `providerId` is the audience). */
export async function conformanceTokens(
  grant: EvidenceGrant,
  options: SealEvidenceOptions,
): Promise<ConformanceTokens> {
  const now = options.now ?? Date.now();
  const valid = await sealEvidenceToken(grant, { ...options, now });
  const expiredAt = now - (MAX_TOKEN_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS + 600) * 1000;
  const expired = await sealEvidenceToken(grant, { ...options, now: expiredAt });
  const wrongAudience = await sealEvidenceToken({ ...grant, providerId: WRONG_AUDIENCE }, {
    ...options,
    now,
  });
  // A key of the ring's own algorithm: the provider must refuse it for its kid alone.
  const { alg } = options.keys.signingKey();
  const stranger = alg === "EdDSA"
    ? await crypto.subtle.generateKey({ name: "Ed25519" }, false, [
      "sign",
      "verify",
    ]) as CryptoKeyPair
    : await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
      "sign",
      "verify",
    ]);
  const unknownKid = await sealEvidenceToken(grant, {
    ...options,
    now,
    keys: {
      signingKey: () => ({ kid: `unknown-${crypto.randomUUID()}`, alg, key: stranger.privateKey }),
    },
  });
  const [, payload] = valid.token.split(".");
  const header = base64url.encode(
    JSON.stringify({ alg: "none", typ: EVIDENCE_TOKEN_TYPE, kid: options.keys.signingKey().kid }),
  );
  return {
    valid: valid.token,
    expired: expired.token,
    wrongAudience: wrongAudience.token,
    unknownKid: unknownKid.token,
    algNone: `${header}.${payload}.`,
  };
}
