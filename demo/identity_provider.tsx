/**
 * A demo OpenID Connect provider for the citizens' cockpit, so the walk-through shows a login
 * without an external service. Served by the demo registers' server under `/idp` and only
 * there: the demo starts only with `LOTSE_DEMO=1`, and Lotse uses it only when no
 * `LOTSE_DSC_OIDC_ISSUER` is configured. A real deployment points the cockpit at a real
 * identity provider (BundID, a Land's Servicekonto).
 *
 * Endpoints (authorization code flow with PKCE `S256`, RFC 7636; OpenID Connect Core 1.0):
 * - `GET /idp/.well-known/openid-configuration` (OpenID Connect Discovery 1.0);
 * - `GET /idp/jwks`: the key that signs ID tokens (ES256, made at start with jose);
 * - `GET /idp/authorize`: the "pick a demo person" page; `POST /idp/authorize` the choice,
 *   answered with a redirect to the client's `redirect_uri` with `code`, `state` and `iss`;
 * - `POST /idp/token`: the code, the PKCE verifier and the client's secret (HTTP Basic) for an
 *   ID token with the person's IDNr in claim `idnr`.
 *
 * @example
 * ```ts
 * const idp = await demoIdentityProvider({ issuer: "http://127.0.0.1:8081/idp",
 *   redirectUri: "http://127.0.0.1:8080/cockpit/callback" });
 * const response = await idp.handle(request); // null: not an /idp path
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { DEMO_PEOPLE, type DemoPerson } from "./population.ts";

/** The demo cockpit client (published on purpose: demo only). */
export const DEMO_COCKPIT_CLIENT = {
  clientId: "lotse-cockpit",
  clientSecret: "demo-cockpit-secret-published-on-purpose",
} as const;

/** The people offered on the login page; Max Prüfziffer's IDNr is wrong on purpose, left out. */
export const DEMO_LOGIN_PEOPLE: readonly DemoPerson[] = [
  DEMO_PEOPLE.juergen,
  DEMO_PEOPLE.annaKoeln,
  DEMO_PEOPLE.annaBerlin,
  DEMO_PEOPLE.zoe,
  DEMO_PEOPLE.oemer,
];

/** Options for {@linkcode demoIdentityProvider}. */
export interface DemoIdentityProviderOptions {
  /** Its own issuer URL, e.g. `http://127.0.0.1:8081/idp`. */
  readonly issuer: string;
  /** The one redirect URI its one client may use. */
  readonly redirectUri: string;
}

/** A running demo identity provider. */
export interface DemoIdentityProvider {
  readonly issuer: string;
  /** Answers a request under `/idp`, or null for any other path. */
  handle(request: Request): Promise<Response | null>;
}

interface PendingCode {
  readonly person: DemoPerson;
  readonly challenge: string;
  readonly nonce: string | null;
  readonly expiresAt: number;
}

const CODE_TTL_MS = 60_000;

function randomToken(): string {
  return crypto.getRandomValues(new Uint8Array(32)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

function s256(verifier: string): string {
  return createHash("sha256").update(verifier, "ascii").digest("base64url");
}

function oauthError(error: string, description: string, status = 400): Response {
  return Response.json({ error, error_description: description }, {
    status,
    headers: { "cache-control": "no-store" },
  });
}

/**
 * Whether HTTP Basic credentials are the demo client's: both parts form-urlencoded
 * (RFC 6749 § 2.3.1), then base64.
 */
function basicClient(header: string | null): boolean {
  const encoded = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header ?? "")?.[1];
  if (encoded === undefined) return false;
  try {
    const [id, secret] = atob(encoded).split(":").map((part) =>
      decodeURIComponent(part.replaceAll("+", " "))
    );
    return id === DEMO_COCKPIT_CLIENT.clientId && secret === DEMO_COCKPIT_CLIENT.clientSecret;
  } catch {
    return false;
  }
}

/** Creates the demo identity provider with a fresh signing key. */
export async function demoIdentityProvider(
  options: DemoIdentityProviderOptions,
): Promise<DemoIdentityProvider> {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const kid = `demo-idp-${randomToken().slice(0, 8)}`;
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" }] };
  const issuer = options.issuer.replace(/\/+$/, "");
  const path = new URL(issuer).pathname;
  const codes = new Map<string, PendingCode>();
  const redirectOrigin = new URL(options.redirectUri).origin;

  const metadata = {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ["code"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["ES256"],
    code_challenge_methods_supported: ["S256"],
    token_endpoint_auth_methods_supported: ["client_secret_basic"],
    scopes_supported: ["openid"],
    claims_supported: ["sub", "idnr", "name", "given_name", "family_name"],
  };

  /** The authorization request's parameters, or why they are refused. */
  function authorizationRequest(params: URLSearchParams) {
    const get = (name: string) => params.get(name) ?? "";
    if (get("client_id") !== DEMO_COCKPIT_CLIENT.clientId) return "Unknown client_id";
    if (get("redirect_uri") !== options.redirectUri) return "redirect_uri is not registered";
    if (get("response_type") !== "code") return "Only response_type=code is supported";
    if (!get("scope").split(" ").includes("openid")) return "scope must include openid";
    if (get("code_challenge_method") !== "S256" || !/^[\w-]{43}$/.test(get("code_challenge"))) {
      return "PKCE with code_challenge_method=S256 is required";
    }
    if (!get("state") || get("state").length > 200 || get("nonce").length > 200) {
      return "state is required (at most 200 characters), nonce at most 200";
    }
    return {
      state: get("state"),
      nonce: get("nonce") || null,
      challenge: get("code_challenge"),
    };
  }

  async function idToken(person: DemoPerson, nonce: string | null): Promise<string> {
    const b = person.basisdaten;
    return await new SignJWT({
      idnr: person.idnr,
      name: `${b.givenNames} ${b.familyName}`,
      given_name: b.givenNames,
      family_name: b.familyName,
      ...(nonce === null ? {} : { nonce }),
    })
      .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
      .setIssuer(issuer)
      // Pairwise and pseudonymous, as a real provider's subject for this client would be.
      .setSubject(createHash("sha256").update(`${issuer}|${person.idnr}`).digest("base64url"))
      .setAudience(DEMO_COCKPIT_CLIENT.clientId)
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(privateKey);
  }

  async function token(request: Request): Promise<Response> {
    const type = request.headers.get("content-type") ?? "";
    if (!type.startsWith("application/x-www-form-urlencoded")) {
      return oauthError("invalid_request", "Expected a form");
    }
    if (!basicClient(request.headers.get("authorization"))) {
      return oauthError("invalid_client", "Client authentication failed", 401);
    }
    const form = new URLSearchParams(await request.text());
    if (form.get("grant_type") !== "authorization_code") {
      return oauthError("unsupported_grant_type", "Only authorization_code");
    }
    const code = form.get("code") ?? "";
    const pending = codes.get(code);
    codes.delete(code);
    if (!pending || pending.expiresAt < Date.now()) {
      return oauthError("invalid_grant", "Unknown, used or expired code");
    }
    if (form.get("redirect_uri") !== options.redirectUri) {
      return oauthError("invalid_grant", "redirect_uri does not match");
    }
    if (s256(form.get("code_verifier") ?? "") !== pending.challenge) {
      return oauthError("invalid_grant", "PKCE verification failed");
    }
    return Response.json({
      access_token: randomToken(),
      token_type: "Bearer",
      expires_in: 300,
      scope: "openid",
      id_token: await idToken(pending.person, pending.nonce),
    }, { headers: { "cache-control": "no-store", "pragma": "no-cache" } });
  }

  function page(params: URLSearchParams): Response {
    const hidden = [...params].filter(([k]) => k !== "person" && k !== "cancel");
    const body = (
      <html lang="de">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>Demo-Anmeldung – Person wählen</title>
          <style>
            {`body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fff}
header,main{max-width:40rem;margin:0 auto;padding:1rem 1.5rem}header{border-bottom:4px solid #004b87}
ul{list-style:none;padding:0}li{margin:.5rem 0}
button{font:inherit;padding:.6rem 1rem;width:100%;text-align:left;background:#f3f6f9;color:#1b1b1b;border:2px solid #004b87;border-radius:4px;cursor:pointer}
button:hover{background:#dde8f3}button:focus-visible{outline:3px solid #b35c00;outline-offset:2px}
.cancel{border-color:#555;background:#fff}.muted{color:#4a4a4a}`}
          </style>
        </head>
        <body>
          <header>
            <p class="muted">Demo-Identitätsanbieter (nur im Demo-Betrieb)</p>
            <h1>Als welche Person möchten Sie sich anmelden?</h1>
          </header>
          <main>
            <p>
              Dies ist keine echte Anmeldung. Wählen Sie eine Person aus der Demo-Bevölkerung; das
              Datenschutzcockpit zeigt danach, wer Daten über diese Person abgerufen hat.
            </p>
            <form method="post" action={`${path}/authorize`}>
              {hidden.map(([name, value]) => (
                <input key={name} type="hidden" name={name} value={value} />
              ))}
              <ul>
                {DEMO_LOGIN_PEOPLE.map((p) => (
                  <li>
                    <button type="submit" name="person" value={p.idnr}>
                      {p.basisdaten.givenNames} {p.basisdaten.familyName}, geboren am{" "}
                      {p.basisdaten.dateOfBirth.split("-").reverse().join(".")} in{" "}
                      {p.basisdaten.placeOfBirth}
                    </button>
                  </li>
                ))}
                <li>
                  <button type="submit" name="cancel" value="1" class="cancel">
                    Abbrechen
                  </button>
                </li>
              </ul>
            </form>
          </main>
        </body>
      </html>
    );
    return new Response("<!DOCTYPE html>" + body.toString(), {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "content-security-policy":
          `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${redirectOrigin}; frame-ancestors 'none'; base-uri 'none'`,
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
      },
    });
  }

  async function authorize(request: Request): Promise<Response> {
    const params = request.method === "POST"
      ? new URLSearchParams(await request.text())
      : new URL(request.url).searchParams;
    const checked = authorizationRequest(params);
    // An unverified redirect_uri never receives anything (RFC 6749 § 4.1.2.1).
    if (typeof checked === "string") {
      return new Response(`Demo-Identitätsanbieter: ${checked}`, {
        status: 400,
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    if (request.method === "GET") return page(params);
    const back = new URL(options.redirectUri);
    back.searchParams.set("state", checked.state);
    back.searchParams.set("iss", issuer);
    const person = DEMO_LOGIN_PEOPLE.find((p) => p.idnr === params.get("person"));
    if (params.get("cancel") || person === undefined) {
      back.searchParams.set("error", "access_denied");
    } else {
      const code = randomToken();
      codes.set(code, {
        person,
        challenge: checked.challenge,
        nonce: checked.nonce,
        expiresAt: Date.now() + CODE_TTL_MS,
      });
      back.searchParams.set("code", code);
    }
    return new Response(null, { status: 303, headers: { location: back.toString() } });
  }

  return {
    issuer,
    async handle(request) {
      const url = new URL(request.url);
      if (url.pathname !== path && !url.pathname.startsWith(`${path}/`)) return null;
      const rest = url.pathname.slice(path.length);
      if (rest === "/.well-known/openid-configuration" && request.method === "GET") {
        return Response.json(metadata);
      }
      if (rest === "/jwks" && request.method === "GET") return Response.json(jwks);
      if (rest === "/authorize" && (request.method === "GET" || request.method === "POST")) {
        return await authorize(request);
      }
      if (rest === "/token" && request.method === "POST") return await token(request);
      return new Response("Not found", { status: 404 });
    },
  };
}
