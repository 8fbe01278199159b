/**
 * Lotse's cryptography: IDNr validation, signing keys with rotation, access tokens,
 * `private_key_jwt` client assertions, evidence access tokens and their caches.
 *
 * @example
 * ```ts
 * import {
 *   AccessTokenVerifier, issueAccessToken, KeyRing, ReplayCache,
 *   sealEvidenceToken, verifyClientAssertion,
 * } from "../crypto/mod.ts";
 * const keys = await KeyRing.open(dbKeyStore(db, config.keySecret)); // dbKeyStore: db/key_store.ts
 * const replay = new ReplayCache();
 * const verifier = new AccessTokenVerifier(keys, { issuer, audience: issuer, clients });
 * ```
 *
 * @module
 */

export { checkIdnr, idnrCheckDigit, isValidIdnr } from "./idnr.ts";
export { LIBCRYPTO_PATHS } from "./_openssl_p256.ts";
export {
  ReplayCache,
  type ReplayCacheOptions,
  type ReplayClaim,
  type ReplayGuard,
  TtlMap,
  type TtlMapOptions,
} from "./caches.ts";
export {
  algorithmOfJwk,
  CLOCK_SKEW_SECONDS,
  DEFAULT_RETENTION_MS,
  generateStoredKey,
  type Jwks,
  KeyRing,
  type KeyRingOptions,
  type KeyStore,
  MAX_TOKEN_LIFETIME_SECONDS,
  type PublicJwk,
  type SigningKey,
  type StoredKey,
  TOKEN_ALGORITHMS,
  type TokenAlgorithm,
  type VerificationKeys,
} from "./keys.ts";
export {
  checkKeySecret,
  type MemoryKeyStore,
  memoryKeyStore,
  MIN_SECRET_LENGTH,
  openKey,
  type SealedKey,
  sealKey,
} from "./key_store.ts";
export { MAX_TOKEN_BYTES, type TokenFault, type TokenRefusal } from "./_jws.ts";
export {
  CLIENT_ASSERTION_ALGORITHMS,
  type ClientAssertionError,
  type ClientAssertionErrorCode,
  type ClientAssertionOptions,
  type ClientAssertionResult,
  type ClientAssertionSuccess,
  verifyClientAssertion,
} from "./client_assertion.ts";
export {
  ACCESS_TOKEN_TYPE,
  type AccessTokenClaims,
  type AccessTokenError,
  type AccessTokenResult,
  AccessTokenVerifier,
  type AccessTokenVerifierOptions,
  issueAccessToken,
  type IssueAccessTokenOptions,
  type IssuedAccessToken,
} from "./access_token.ts";
export {
  EVIDENCE_TOKEN_TYPE,
  type EvidenceGrant,
  type EvidenceTokenClaims,
  type EvidenceTokenResult,
  type EvidenceTokenSuccess,
  type SealedEvidenceToken,
  type SealEvidenceOptions,
  sealEvidenceToken,
  type VerifyEvidenceOptions,
  verifyEvidenceToken,
} from "./evidence_token.ts";
export { type ConformanceTokens, conformanceTokens, WRONG_AUDIENCE } from "./conformance_tokens.ts";
