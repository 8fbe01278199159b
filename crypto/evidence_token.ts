/**
 * The evidence access token (NOOTS "IssuedToken"): the Vermittlungsstelle's sealed
 * statement that a consumer may fetch one kind of evidence from one provider, for one
 * purpose and legal basis. A compact JWS (`kid` in the header; ES256 by default, EdDSA when
 * the operator sets `LOTSE_TOKEN_ALG=EdDSA`) that the provider checks offline against
 * `/.well-known/jwks.json`: a verifier accepts the algorithm the JWKS announces for the key.
 *
 * @example
 * ```ts
 * import { sealEvidenceToken, verifyEvidenceToken } from "./evidence_token.ts";
 * const sealed = await sealEvidenceToken({
 *   consumerId: "stadt-musterstadt-parken", providerId: "kba-zfzr",
 *   evidenceType: "fahrzeugzulassung", purpose: "bewohnerparkausweis",
 *   legalBasis: "StVO § 45 Abs. 1b", idnrUsed: true,
 * }, { keys: ring, issuer: "https://lotse.example" });
 * // At the provider:
 * const checked = await verifyEvidenceToken(sealed.token, jwks, { audience: "kba-zfzr" });
 * ```
 *
 * @module
 */

import { createLocalJWKSet, jwtVerify } from "jose";
import {
  checkWindow,
  inspectCompact,
  refusal,
  refusalFromJose,
  signJws,
  type TokenRefusal,
  tokenTimes,
} from "./_jws.ts";
import {
  CLOCK_SKEW_SECONDS,
  type Jwks,
  type KeyRing,
  MAX_TOKEN_LIFETIME_SECONDS,
  TOKEN_ALGORITHMS,
  type TokenAlgorithm,
} from "./keys.ts";

/** The `typ` header of evidence tokens. */
export const EVIDENCE_TOKEN_TYPE = "lotse-evidence+jwt";

/** What the Vermittlungsstelle decided, in the words of the API. */
export interface EvidenceGrant {
  readonly consumerId: string;
  readonly providerId: string;
  readonly evidenceType: string;
  readonly purpose: string;
  readonly legalBasis: string;
  readonly idnrUsed: boolean;
  /** `sha-256=:<base64>:` of the request body, when the consumer sent one. */
  readonly requestDigest?: string;
  /**
   * Further claims a face adds (e.g. the authority a gateway acts for). They never replace
   * one of the claims above: those are written after them.
   */
  readonly extraClaims?: Readonly<Record<string, string | number | boolean>>;
}

/** The claims of an evidence token: these, plus a grant's `extraClaims`. Times are epoch seconds. */
export interface EvidenceTokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string;
  readonly evidence_type: string;
  readonly purpose: string;
  readonly legal_basis: string;
  readonly idnr_used: boolean;
  readonly req_digest?: string;
  /** The authority an EfA service acts for (docs/api.md §3.1), when it acts for one. */
  readonly on_behalf_of?: string;
  readonly iat: number;
  readonly exp: number;
  readonly jti: string;
}

/** Options for {@linkcode sealEvidenceToken}. */
export interface SealEvidenceOptions {
  keys: Pick<KeyRing, "signingKey">;
  /** `iss`: Lotse's public URL. */
  issuer: string;
  /** Epoch ms; default `Date.now()`. */
  now?: number;
  /** Default and maximum {@linkcode MAX_TOKEN_LIFETIME_SECONDS}. */
  lifetimeSeconds?: number;
}

/** The body of `201` from `POST /v1/authorizations`; `expiresAt` is ISO 8601. */
export interface SealedEvidenceToken {
  readonly token: string;
  readonly expiresAt: string;
  readonly jti: string;
}

/** Seals a grant into an evidence token signed with the ring's active key. */
export async function sealEvidenceToken(
  grant: EvidenceGrant,
  options: SealEvidenceOptions,
): Promise<SealedEvidenceToken> {
  const { iat, exp, jti } = tokenTimes(
    options.lifetimeSeconds,
    options.now,
    "seal evidence token",
  );
  const claims: EvidenceTokenClaims = {
    ...grant.extraClaims,
    iss: options.issuer,
    sub: grant.consumerId,
    aud: grant.providerId,
    evidence_type: grant.evidenceType,
    purpose: grant.purpose,
    legal_basis: grant.legalBasis,
    idnr_used: grant.idnrUsed,
    ...(grant.requestDigest === undefined ? {} : { req_digest: grant.requestDigest }),
    iat,
    exp,
    jti,
  };
  const token = await signJws(claims, options.keys.signingKey(), EVIDENCE_TOKEN_TYPE);
  return { token, expiresAt: isoSeconds(exp), jti };
}

// Tokens sealed in the same second expire in the same second: one ISO string serves them all.
let lastExp = NaN;
let lastIso = "";

function isoSeconds(epochSeconds: number): string {
  if (epochSeconds !== lastExp) lastIso = new Date((lastExp = epochSeconds) * 1000).toISOString();
  return lastIso;
}

/** Options for {@linkcode verifyEvidenceToken}. */
export interface VerifyEvidenceOptions {
  /** The provider's own id: `aud` must be it. */
  audience: string;
  /** Lotse's `iss`, when the provider knows it. */
  issuer?: string;
  /** Epoch ms; default `Date.now()`. */
  now?: number;
}

/** A verified evidence token. */
export interface EvidenceTokenSuccess {
  readonly ok: true;
  readonly claims: EvidenceTokenClaims;
}

export type EvidenceTokenResult = EvidenceTokenSuccess | TokenRefusal;

interface KeySet {
  readonly keys: ReturnType<typeof createLocalJWKSet>;
  /** The algorithms the set announces, of those Lotse signs with. */
  readonly algorithms: TokenAlgorithm[];
}

// A provider passes the same JWKS object until it refetches; import its keys once.
const keySets = new WeakMap<Jwks, KeySet>();

function keySetOf(jwks: Jwks): KeySet {
  let keySet = keySets.get(jwks);
  if (keySet === undefined) {
    const announced = new Set(jwks.keys.map((k) => k.alg));
    keySet = {
      keys: createLocalJWKSet({ keys: jwks.keys.map((k) => ({ ...k })) }),
      algorithms: TOKEN_ALGORITHMS.filter((alg) => announced.has(alg)),
    };
    keySets.set(jwks, keySet);
  }
  return keySet;
}

/**
 * Verifies an evidence token against Lotse's JWKS, as a provider does. Never throws.
 * Comparing `req_digest` with the received body is left to the provider.
 */
export async function verifyEvidenceToken(
  token: unknown,
  jwks: Jwks,
  options: VerifyEvidenceOptions,
): Promise<EvidenceTokenResult> {
  try {
    const keySet = keySetOf(jwks);
    const inspected = inspectCompact(token, { algorithms: keySet.algorithms });
    if (!inspected.ok) return inspected;
    if (inspected.header.kid === undefined) {
      return refusal("unknown_key", "no kid in the header");
    }
    const now = options.now ?? Date.now();
    let payload: Record<string, unknown>;
    try {
      // jose picks the key by kid and refuses one whose announced alg differs.
      ({ payload } = await jwtVerify(token as string, keySet.keys, {
        algorithms: keySet.algorithms,
        audience: options.audience,
        issuer: options.issuer,
        typ: EVIDENCE_TOKEN_TYPE,
        currentDate: new Date(now),
        clockTolerance: CLOCK_SKEW_SECONDS,
        requiredClaims: ["iss", "sub", "aud", "iat", "exp", "jti"],
      }));
    } catch (error) {
      return refusalFromJose(error);
    }
    const window = checkWindow(payload, {
      nowSeconds: Math.floor(now / 1000),
      maxLifetimeSeconds: MAX_TOKEN_LIFETIME_SECONDS,
      skewSeconds: CLOCK_SKEW_SECONDS,
    });
    if (window !== null) return window;
    if (!isEvidenceClaims(payload)) {
      return refusal("claims", "evidence claims are missing or have the wrong type");
    }
    return { ok: true, claims: payload };
  } catch {
    return refusal("malformed", "it cannot be verified");
  }
}

function isEvidenceClaims(
  p: Record<string, unknown>,
): p is Record<string, unknown> & EvidenceTokenClaims {
  return typeof p.iss === "string" && typeof p.sub === "string" && typeof p.aud === "string" &&
    typeof p.evidence_type === "string" && typeof p.purpose === "string" &&
    typeof p.legal_basis === "string" && typeof p.idnr_used === "boolean" &&
    (p.req_digest === undefined || typeof p.req_digest === "string") &&
    (p.on_behalf_of === undefined || typeof p.on_behalf_of === "string") &&
    typeof p.iat === "number" && typeof p.exp === "number" && typeof p.jti === "string";
}
