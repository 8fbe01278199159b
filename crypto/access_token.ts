/**
 * Lotse's own access tokens: short-lived JWTs (`typ: at+jwt`, RFC 9068; ES256, or EdDSA with
 * `LOTSE_TOKEN_ALG=EdDSA`: the ring's active key decides) issued by
 * `POST /v1/token` and checked on every `/v1` and `/admin` request. The verifier keeps
 * verified tokens until they expire, so a repeated token costs a map lookup.
 *
 * @example
 * ```ts
 * import { AccessTokenVerifier, issueAccessToken } from "./access_token.ts";
 * const { token, expiresIn } = await issueAccessToken(client, { keys: ring, issuer, audience: issuer });
 * const verifier = new AccessTokenVerifier(ring, { issuer, audience: issuer, clients: (id) => index.client(id) });
 * const result = verifier.cached(token) ?? await verifier.verify(token);
 * if (!result.ok) return unauthorized(result.description);
 * ```
 *
 * @module
 */

import { jwtVerify } from "jose";
import type { Client, Role } from "../src/model.ts";
import { TtlMap } from "./caches.ts";
import {
  checkWindow,
  inspectCompact,
  refusal,
  refusalFromJose,
  signJws,
  type TokenRefusal,
  tokenTimes,
} from "./_jws.ts";
import { algorithmOfKey } from "./_key_material.ts";
import {
  CLOCK_SKEW_SECONDS,
  type KeyRing,
  MAX_TOKEN_LIFETIME_SECONDS,
  TOKEN_ALGORITHMS,
  type VerificationKeys,
} from "./keys.ts";

/** The `typ` header of access tokens; evidence tokens carry another, so neither passes as the other. */
export const ACCESS_TOKEN_TYPE = "at+jwt";
const ROLES: ReadonlySet<string> = new Set<Role>([
  "consumer",
  "provider",
  "dsc",
  "operator",
  "gateway",
]);

/** Options for {@linkcode issueAccessToken}. */
export interface IssueAccessTokenOptions {
  keys: Pick<KeyRing, "signingKey">;
  /** `iss`: Lotse's public URL. */
  issuer: string;
  /** `aud`: Lotse (the verifier expects the same value). */
  audience: string;
  /** Epoch ms; default `Date.now()`. */
  now?: number;
  /** Default and maximum {@linkcode MAX_TOKEN_LIFETIME_SECONDS}. */
  lifetimeSeconds?: number;
}

/** A freshly issued access token; `expiresAt` is epoch seconds. */
export interface IssuedAccessToken {
  readonly token: string;
  readonly tokenType: "Bearer";
  readonly expiresIn: number;
  readonly expiresAt: number;
  readonly jti: string;
}

/** Issues an access token for `client` with its roles. */
export async function issueAccessToken(
  client: Pick<Client, "id" | "roles">,
  options: IssueAccessTokenOptions,
): Promise<IssuedAccessToken> {
  const { iat, exp, lifetime, jti } = tokenTimes(
    options.lifetimeSeconds,
    options.now,
    "issue access token",
  );
  const token = await signJws(
    {
      iss: options.issuer,
      sub: client.id,
      aud: options.audience,
      iat,
      exp,
      jti,
      roles: [...client.roles],
    },
    options.keys.signingKey(),
    ACCESS_TOKEN_TYPE,
  );
  return { token, tokenType: "Bearer", expiresIn: lifetime, expiresAt: exp, jti };
}

/** Options for {@linkcode AccessTokenVerifier}. */
export interface AccessTokenVerifierOptions {
  issuer: string;
  audience: string;
  /**
   * The current client table. When given, a token works only while its client exists,
   * and carries only roles the client still has. Tables are swapped as a whole, so a
   * changed client is a new object and its cached tokens are verified afresh.
   */
  clients?: (id: string) => Client | undefined;
  /** Clock in epoch ms; default `Date.now`. */
  now?: () => number;
  /** Most tokens cached; default 10,000. */
  maxEntries?: number;
  /** Default {@linkcode MAX_TOKEN_BYTES}. */
  maxBytes?: number;
}

/** A valid access token. `exp` is epoch seconds. */
export interface AccessTokenClaims {
  readonly ok: true;
  readonly clientId: string;
  readonly roles: readonly Role[];
  readonly exp: number;
  readonly jti: string;
}

/** A refused access token; answer 401. */
export interface AccessTokenError extends TokenRefusal {
  readonly error: "invalid_token";
}

export type AccessTokenResult = AccessTokenClaims | AccessTokenError;

interface CachedToken {
  /** The whole token: the cache is keyed by its tail only, so a hit compares it in full. */
  readonly token: string;
  readonly claims: AccessTokenClaims;
  /** The client row the roles were checked against; `null` without a client table. */
  readonly client: Client | null;
}

/** Verifies access tokens and caches the verified ones until they expire. */
export class AccessTokenVerifier {
  #keys: VerificationKeys;
  #options: AccessTokenVerifierOptions;
  #now: () => number;
  #cache: TtlMap<string, CachedToken>;
  /** Client id → tokens issued at or before this second (epoch s) are refused. */
  #revoked = new Map<string, { iat: number; until: number }>();

  constructor(keys: VerificationKeys, options: AccessTokenVerifierOptions) {
    this.#keys = keys;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#cache = new TtlMap({ maxEntries: options.maxEntries ?? 10_000 });
  }

  /** Number of tokens cached. */
  get cacheSize(): number {
    return this.#cache.size;
  }

  /** The result for a token verified before and still valid, else `undefined`. */
  cached(token: string): AccessTokenClaims | undefined {
    const key = cacheKey(token);
    const hit = this.#cache.get(key, this.#now());
    if (hit === undefined || hit.token !== token) return undefined;
    if (
      this.#options.clients !== undefined &&
      this.#options.clients(hit.claims.clientId) !== hit.client
    ) {
      this.#cache.delete(key);
      return undefined;
    }
    return hit.claims;
  }

  /** Verifies `token` (from the cache when it can). Never throws. */
  async verify(token: unknown): Promise<AccessTokenResult> {
    if (typeof token === "string") {
      const hit = this.cached(token);
      if (hit !== undefined) return hit;
    }
    try {
      return await this.#verify(token);
    } catch {
      return fail(refusal("malformed", "it cannot be verified"));
    }
  }

  /**
   * Stops every token of `clientId` issued up to now, at once (key compromise, client
   * removed or changed); tokens it gets later work.
   */
  revokeClient(clientId: string): void {
    const now = this.#now();
    this.#revoked.set(clientId, {
      iat: Math.floor(now / 1000),
      until: now + (MAX_TOKEN_LIFETIME_SECONDS + 2 * CLOCK_SKEW_SECONDS) * 1000,
    });
    this.#cache.deleteWhere((entry) => entry.claims.clientId === clientId);
  }

  /** Forgets every cached token (they are verified again on next use). */
  clearCache(): void {
    this.#cache.clear();
  }

  async #verify(token: unknown): Promise<AccessTokenResult> {
    const now = this.#now();
    const nowSeconds = Math.floor(now / 1000);
    const inspected = inspectCompact(token, {
      algorithms: TOKEN_ALGORITHMS,
      maxBytes: this.#options.maxBytes,
    });
    if (!inspected.ok) return fail(inspected);
    const kid = inspected.header.kid;
    if (kid === undefined) return fail(refusal("unknown_key", "no kid in the header"));
    const key = this.#keys.verificationKey(kid);
    if (key === undefined) return fail(refusal("unknown_key", "its kid is not a Lotse key"));

    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token as string, key, {
        // Only the algorithm of the key the kid names: no confusion between key kinds.
        algorithms: [algorithmOfKey(key)],
        issuer: this.#options.issuer,
        audience: this.#options.audience,
        typ: ACCESS_TOKEN_TYPE,
        currentDate: new Date(now),
        clockTolerance: CLOCK_SKEW_SECONDS,
        requiredClaims: ["iss", "sub", "aud", "iat", "exp", "jti"],
      }));
    } catch (error) {
      return fail(refusalFromJose(error));
    }
    const window = checkWindow(payload, {
      nowSeconds,
      maxLifetimeSeconds: MAX_TOKEN_LIFETIME_SECONDS,
      skewSeconds: CLOCK_SKEW_SECONDS,
    });
    if (window !== null) return fail(window);

    const { sub, iat, exp, jti, roles } = payload as {
      sub: unknown;
      iat: number;
      exp: number;
      jti: unknown;
      roles: unknown;
    };
    if (typeof sub !== "string" || typeof jti !== "string" || !Array.isArray(roles)) {
      return fail(refusal("claims", "sub, jti or roles have the wrong type"));
    }
    const revoked = this.#revoked.get(sub);
    if (revoked !== undefined) {
      if (revoked.until <= now) this.#revoked.delete(sub);
      else if (iat <= revoked.iat) return fail(refusal("revoked", "its client was revoked"));
    }
    let granted = roles.filter((r): r is Role => typeof r === "string" && ROLES.has(r));
    let client: Client | null = null;
    if (this.#options.clients !== undefined) {
      client = this.#options.clients(sub) ?? null;
      if (client === null) return fail(refusal("unknown_client", "its client no longer exists"));
      const current = client.roles;
      granted = granted.filter((r) => current.includes(r));
    }

    // Frozen: the same object answers every cache hit, so no caller may change it.
    const claims: AccessTokenClaims = Object.freeze({
      ok: true,
      clientId: sub,
      roles: Object.freeze(granted),
      exp,
      jti,
    });
    this.#cache.set(
      cacheKey(token as string),
      { token: token as string, claims, client },
      (exp + CLOCK_SKEW_SECONDS) * 1000,
      now,
    );
    return claims;
  }
}

/**
 * The cache key of a token: the tail of its signature. Hashing a fresh 500-character token
 * string on every request costs more than the whole lookup; the tail of a signature
 * is random, and a hit still compares the whole token, so a collision is only a miss.
 */
function cacheKey(token: string): string {
  return token.length > 32 ? token.slice(-32) : token;
}

function fail(r: TokenRefusal): AccessTokenError {
  return { ...r, error: "invalid_token" };
}
