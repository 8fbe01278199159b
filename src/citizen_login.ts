/**
 * The citizens' login to the Datenschutzcockpit (docs/api.md §3.5): OpenID Connect,
 * authorization code with PKCE (RFC 7636), through the maintained client library
 * `oauth4webapi`, and the sessions that follow it. A person is known to the cockpit only as
 * the HMAC of their IDNr (the protocol's own key), taken from a configured ID token claim and
 * checked (§ 5 Abs. 3 IDNrG) before a session exists.
 *
 * Login transactions (state, nonce, PKCE verifier) and sessions live in PostgreSQL
 * (db/cockpit_sessions.ts), so every instance knows them and a logout ends a session
 * everywhere; the browser holds only random ids, the database only their SHA-256. Every login
 * makes a new session id (no fixation) and ends the session the browser had before.
 *
 * @example
 * ```ts
 * const login = new CitizenLogin({ oidc, idnrClaim: "idnr", redirectUri, db, idnrHash });
 * const { loginId, authorizationUrl } = await login.start(); // cookie loginId, redirect
 * const done = await login.finish(loginId, new URL(callbackUrl)); // on the way back
 * if (done.ok) setCookie(done.session.id);
 * ```
 *
 * @module
 */
import * as oauth from "oauth4webapi";
import { createHash, timingSafeEqual } from "node:crypto";
import { checkIdnr } from "../crypto/mod.ts";
import {
  deleteSession,
  findSession,
  insertLogin,
  insertSession,
  purgeCockpitSessions,
  takeLogin,
} from "../db/cockpit_sessions.ts";
import type { Queryable } from "../db/types.ts";
import type { CockpitOidcConfig } from "./config.ts";

/** How long a session lasts from login (absolute; then the person logs in again). */
export const SESSION_TTL_MS = 30 * 60 * 1000;
/** How long a started login may take at the identity provider. */
export const LOGIN_TTL_MS = 10 * 60 * 1000;

/** Options for {@linkcode CitizenLogin}. */
export interface CitizenLoginOptions {
  readonly oidc: CockpitOidcConfig;
  /** The ID token claim holding the IDNr. */
  readonly idnrClaim: string;
  /** Where the identity provider sends the person back: `${publicUrl}/cockpit/callback`. */
  readonly redirectUri: string;
  readonly db: Queryable;
  /** The protocol's keyed hash of an IDNr. */
  readonly idnrHash: (idnr: string) => string;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
}

/** A logged-in person's session. */
export interface CitizenSession {
  /** The random id in the cookie (only its hash is stored). */
  readonly id: string;
  readonly idnrHmac: string;
  /** The token every form of the session carries. */
  readonly csrf: string;
  readonly expiresAt: Date;
}

/** How a login ended. */
export type LoginResult =
  | { readonly ok: true; readonly session: CitizenSession }
  | { readonly ok: false; readonly reason: string };

function randomId(): string {
  return crypto.getRandomValues(new Uint8Array(32)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

function hashId(id: string): string {
  return createHash("sha256").update(id, "utf8").digest("hex");
}

function isLoopback(url: URL): boolean {
  return ["127.0.0.1", "[::1]", "localhost"].includes(url.hostname);
}

/** Whether two tokens are equal, in constant time. */
export function sameToken(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The cockpit's OpenID Connect client and session store. */
export class CitizenLogin {
  readonly #options: CitizenLoginOptions;
  readonly #client: oauth.Client;
  readonly #auth: oauth.ClientAuth;
  readonly #http: { [oauth.allowInsecureRequests]: boolean };
  #server: Promise<oauth.AuthorizationServer> | null = null;

  constructor(options: CitizenLoginOptions) {
    this.#options = options;
    this.#client = { client_id: options.oidc.clientId };
    this.#auth = options.oidc.clientSecret === null
      ? oauth.None()
      : oauth.ClientSecretBasic(options.oidc.clientSecret);
    // Plain HTTP only for an identity provider on loopback (the demo's).
    this.#http = { [oauth.allowInsecureRequests]: isLoopback(new URL(options.oidc.issuer)) };
  }

  #now(): Date {
    return new Date((this.#options.now ?? Date.now)());
  }

  /** The identity provider's metadata (OpenID Connect Discovery), fetched once. */
  #discover(): Promise<oauth.AuthorizationServer> {
    this.#server ??= (async () => {
      const issuer = new URL(this.#options.oidc.issuer);
      const response = await oauth.discoveryRequest(issuer, { algorithm: "oidc", ...this.#http });
      return await oauth.processDiscoveryResponse(issuer, response);
    })();
    this.#server.catch(() => this.#server = null);
    return this.#server;
  }

  /** Starts a login: the id for the login cookie and where to send the browser. */
  async start(): Promise<{ loginId: string; authorizationUrl: URL }> {
    await this.purge();
    const as = await this.#discover();
    if (!as.authorization_endpoint) {
      throw new Error("The identity provider names no authorization endpoint");
    }
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const loginId = randomId();
    await insertLogin(this.#options.db, {
      idHash: hashId(loginId),
      state,
      nonce,
      verifier,
      expiresAt: new Date(this.#now().getTime() + LOGIN_TTL_MS),
    });
    const url = new URL(as.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: this.#options.oidc.clientId,
      redirect_uri: this.#options.redirectUri,
      scope: "openid",
      state,
      nonce,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
    }).toString();
    return { loginId, authorizationUrl: url };
  }

  /**
   * Finishes a login on the way back from the identity provider: the login must be this
   * browser's (its cookie), unused and unexpired, the state must match, the code is exchanged
   * with the PKCE verifier, the ID token's nonce checked and its IDNr claim verified. Ends the
   * browser's previous session, if any, and opens a new one.
   */
  async finish(
    loginId: string | undefined,
    callback: URL,
    previousSessionId?: string,
  ): Promise<LoginResult> {
    const fail = (reason: string): LoginResult => ({ ok: false, reason });
    if (!loginId) return fail("No login was started in this browser (or it took too long)");
    const login = await takeLogin(this.#options.db, hashId(loginId), this.#now());
    if (login === null) return fail("No login was started in this browser (or it took too long)");
    const as = await this.#discover();
    let claims: oauth.IDToken | undefined;
    try {
      const params = oauth.validateAuthResponse(as, this.#client, callback, login.state);
      const response = await oauth.authorizationCodeGrantRequest(
        as,
        this.#client,
        this.#auth,
        params,
        this.#options.redirectUri,
        login.verifier,
        this.#http,
      );
      const result = await oauth.processAuthorizationCodeResponse(as, this.#client, response, {
        expectedNonce: login.nonce,
        requireIdToken: true,
      });
      claims = oauth.getValidatedIdTokenClaims(result);
    } catch (error) {
      const described = (error as { error_description?: unknown }).error_description;
      return fail(
        `The identity provider's answer was refused: ${(error as Error).message}${
          typeof described === "string" ? ` (${described.slice(0, 200)})` : ""
        }`,
      );
    }
    const idnr = claims?.[this.#options.idnrClaim];
    if (typeof idnr !== "string" || checkIdnr(idnr) !== null) {
      return fail(`The ID token carries no valid IDNr in claim "${this.#options.idnrClaim}"`);
    }
    if (previousSessionId) await deleteSession(this.#options.db, hashId(previousSessionId));
    const now = this.#now();
    const session: CitizenSession = {
      id: randomId(),
      idnrHmac: this.#options.idnrHash(idnr),
      csrf: randomId(),
      expiresAt: new Date(now.getTime() + SESSION_TTL_MS),
    };
    await insertSession(this.#options.db, {
      idHash: hashId(session.id),
      idnrHmac: session.idnrHmac,
      csrf: session.csrf,
      createdAt: now,
      expiresAt: session.expiresAt,
    });
    return { ok: true, session };
  }

  /** The session behind a cookie, or null (none, unknown, tampered with or expired). */
  async session(id: string | undefined): Promise<CitizenSession | null> {
    if (!id || id.length > 100) return null;
    const row = await findSession(this.#options.db, hashId(id), this.#now());
    return row === null
      ? null
      : { id, idnrHmac: row.idnrHmac, csrf: row.csrf, expiresAt: row.expiresAt };
  }

  /** Ends a session (logout). */
  async end(id: string): Promise<void> {
    await deleteSession(this.#options.db, hashId(id));
  }

  /** Deletes expired logins and sessions. */
  purge(): Promise<number> {
    return purgeCockpitSessions(this.#options.db, this.#now());
  }
}
