/**
 * Who is calling: the bearer token turned into a principal with roles, and the middleware
 * that lets a route demand a role. The token check itself (signature, expiry, cache) lives
 * in crypto/; this module only asks it.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { createHash, timingSafeEqual } from "node:crypto";
import { Problem } from "./problem.ts";
import type { Role } from "./model.ts";

export interface Principal {
  readonly clientId: string;
  readonly roles: readonly Role[];
}

/** Checks bearer tokens; returns the principal or null for any token it does not accept. */
export interface TokenChecker {
  check(token: string): Principal | null | Promise<Principal | null>;
}

export type AuthVariables = { principal: Principal };

/** Who may navigate: the Hono route and the fast path both ask {@linkcode hasRole} with it. */
export const NAVIGATION_ROLES: readonly Role[] = ["consumer", "operator"];

/** Who may ask for an evidence access token: the Hono route and the fast path both ask with it. */
export const AUTHORIZATION_ROLES: readonly Role[] = ["consumer"];

/** Whether a client holding `held` may do what `allowed` admits. */
export function hasRole(held: readonly Role[], allowed: readonly Role[]): boolean {
  return held.some((role) => allowed.includes(role));
}

const MAX_TOKEN_CHARS = 8192;

/**
 * The token of an `Authorization: Bearer …` header (RFC 6750; the scheme is
 * case-insensitive), or null. Cheap on purpose: this runs on every request, and a token
 * seen before is found by its text alone; unknown ones are checked in full after.
 */
export function bearerToken(header: string): string | null {
  if (header.length > MAX_TOKEN_CHARS + 7 || header.length < 8) return null;
  if (!header.startsWith("Bearer ") && header.slice(0, 7).toLowerCase() !== "bearer ") {
    return null;
  }
  return header.slice(7);
}

const OPERATOR: Principal = Object.freeze({
  clientId: "bootstrap-operator",
  roles: ["operator"] as const,
});

/** The primitive {@linkcode secretEquals} compares with: Node's constant-time comparison. */
export const CONSTANT_TIME_EQUAL: (a: Uint8Array, b: Uint8Array) => boolean = timingSafeEqual;

function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * Compares two secrets in constant time. Both are hashed first, so the constant-time
 * comparison always sees two 32-byte digests: neither the secret's length nor how much of a
 * guess matches shows in the time taken. `equal` is for tests.
 */
export function secretEquals(a: string, b: string, equal = CONSTANT_TIME_EQUAL): boolean {
  return equal(sha256(a), sha256(b));
}

/** Options for {@linkcode requireRole}. */
export interface RequireRoleOptions {
  /** The bootstrap operator secret, accepted as a bearer token with role `operator`. */
  adminToken?: string | null;
}

/**
 * A middleware that admits a request only with a valid bearer token carrying one of
 * `roles`: 401 without a valid token, 403 with the wrong role.
 */
export function requireRole(
  checker: TokenChecker,
  roles: readonly Role[],
  options: RequireRoleOptions = {},
): MiddlewareHandler<{ Variables: AuthVariables }> {
  const admin = options.adminToken ?? null;
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (!header) throw unauthorized("Missing bearer token");
    const token = bearerToken(header);
    if (token === null) {
      throw unauthorized('Malformed Authorization header: expected "Bearer <token>"');
    }
    let principal: Principal | null = null;
    if (admin !== null && roles.includes("operator") && secretEquals(token, admin)) {
      principal = OPERATOR;
    } else {
      const checked = checker.check(token);
      principal = checked instanceof Promise ? await checked : checked;
    }
    if (!principal) throw unauthorized("Invalid or expired access token");
    if (!hasRole(principal.roles, roles)) {
      throw new Problem(
        "forbidden",
        `Client "${principal.clientId}" lacks role ${roles.map((r) => `"${r}"`).join(" or ")}`,
      );
    }
    c.set("principal", principal);
    await next();
  };
}

function unauthorized(detail: string): Problem {
  return new Problem("unauthorized", detail, {
    headers: { "www-authenticate": 'Bearer realm="lotse"' },
  });
}
