/**
 * `POST /v1/token`: OAuth 2.0 client credentials with `private_key_jwt` (RFC 6749 § 4.4,
 * RFC 7521, RFC 7523). Errors in the form of RFC 6749 § 5.2, not problem+json: OAuth
 * clients expect them so.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Iam } from "../src/iam.ts";
import type { TableStore } from "../src/store.ts";
import { issueAccessToken, verifyClientAssertion } from "../crypto/mod.ts";
import { Problem } from "../src/problem.ts";
import { readBytes } from "../src/validate.ts";
import { describe, type RouteDoc } from "../src/openapi.ts";
import { slugSchema } from "../src/schemas.ts";
import { type RateLimits, tooManyRequests } from "../src/rate_limit.ts";
import type { Config } from "../src/config.ts";

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const MAX_FORM_BYTES = 16 * 1024;

const tokenRequest = z.object({
  grant_type: z.literal("client_credentials"),
  client_id: slugSchema.optional(),
  client_assertion_type: z.literal("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
  client_assertion: z.string(),
}).meta({ id: "TokenRequest" });

const tokenResponse = z.object({
  access_token: z.string(),
  token_type: z.literal("Bearer"),
  expires_in: z.int(),
}).meta({ id: "TokenResponse" });

const oauthErrorBody = z.object({
  error: z.enum([
    "invalid_request",
    "invalid_client",
    "unauthorized_client",
    "unsupported_grant_type",
    "temporarily_unavailable",
  ]),
  error_description: z.string(),
}).meta({ id: "OAuthError" });

const TOKEN_DOC: RouteDoc = {
  summary: "OAuth 2.0 client credentials with private_key_jwt (RFC 6749 § 4.4, RFC 7523)",
  description:
    "The client assertion's aud is Lotse's issuer identifier (draft-ietf-oauth-rfc7523bis) or " +
    "this token endpoint's URL, as its sole value.",
  tags: ["IAM"],
  body: { type: "application/x-www-form-urlencoded", schema: tokenRequest },
  responses: {
    200: { description: "Access token", schema: tokenResponse },
    400: { description: "RFC 6749 § 5.2 error", schema: oauthErrorBody },
    401: { description: "invalid_client (RFC 6749 § 5.2)", schema: oauthErrorBody },
    503: { description: "temporarily_unavailable", schema: oauthErrorBody },
  },
};

function oauthError(error: string, description: string, status: 400 | 401 | 503): Response {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "cache-control": "no-store",
  };
  if (status === 401) headers["www-authenticate"] = 'Bearer realm="lotse", error="invalid_client"';
  return new Response(JSON.stringify({ error, error_description: description }), {
    status,
    headers,
  });
}

async function readForm(
  request: Request,
  deadlineMs: number,
): Promise<URLSearchParams | string> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
    return "Content-Type must be application/x-www-form-urlencoded";
  }
  if (!request.body) return "Missing request body";
  const bytes = await readBytes(request.body, MAX_FORM_BYTES, deadlineMs);
  try {
    return new URLSearchParams(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return "Request body is not valid UTF-8";
  }
}

/** What the token route needs. */
export interface TokenRoutesOptions {
  readonly iam: Pick<Iam, "tokenUrl" | "replay" | "keys" | "issuer">;
  readonly config: Pick<Config, "bodyTimeoutMs">;
  /** Rate limits; `POST /v1/token` counts per `client_id` here (per address at the edge). */
  readonly rateLimits?: RateLimits;
  readonly store: Pick<TableStore, "snapshot">;
  readonly now?: () => number;
}

export function tokenRoutes(deps: TokenRoutesOptions): Hono {
  const app = new Hono();
  const { iam, store } = deps;
  const now = deps.now ?? Date.now;
  app.post("/token", describe(TOKEN_DOC), async (c) => {
    let form;
    try {
      form = await readForm(c.req.raw, deps.config.bodyTimeoutMs);
    } catch (error) {
      if (error instanceof Problem) return oauthError("invalid_request", error.message, 400);
      throw error;
    }
    if (typeof form === "string") return oauthError("invalid_request", form, 400);
    for (const name of ["grant_type", "client_assertion_type", "client_assertion", "client_id"]) {
      if (form.getAll(name).length > 1) {
        return oauthError("invalid_request", `Parameter ${name} is repeated`, 400);
      }
    }
    // Per client_id named in the form (per address is counted at the edge): bad assertions
    // for one client cannot be thrown at Lotse without bound.
    const clientId = form.get("client_id");
    const limits = deps.rateLimits;
    if (limits && clientId !== null) {
      const verdict = limits.take("token", `client:${clientId.slice(0, 100)}`);
      if (verdict !== null && !verdict.allowed) return tooManyRequests(limits, verdict);
    }
    const grantType = form.get("grant_type");
    if (grantType !== "client_credentials") {
      return grantType === null
        ? oauthError("invalid_request", "Missing grant_type", 400)
        : oauthError("unsupported_grant_type", "Only client_credentials is supported", 400);
    }
    if (form.get("client_assertion_type") !== ASSERTION_TYPE) {
      return oauthError("invalid_client", `client_assertion_type must be ${ASSERTION_TYPE}`, 401);
    }
    const snapshot = store.snapshot;
    if (!snapshot) return oauthError("temporarily_unavailable", "Tables are still loading", 503);
    const result = await verifyClientAssertion(form.get("client_assertion") ?? undefined, {
      clients: (id) => snapshot.clients.get(id),
      audience: [iam.issuer, iam.tokenUrl],
      replay: iam.replay,
      clientId: form.get("client_id") ?? undefined,
      now: now(),
    });
    if (!result.ok) return oauthError(result.error, result.description, result.status);
    const issued = await issueAccessToken(result.client, {
      keys: iam.keys,
      issuer: iam.issuer,
      audience: iam.issuer,
      now: now(),
    });
    return c.json(
      {
        access_token: issued.token,
        token_type: "Bearer",
        expires_in: issued.expiresIn,
      },
      200,
      { "cache-control": "no-store", "pragma": "no-cache" },
    );
  });
  return app;
}
