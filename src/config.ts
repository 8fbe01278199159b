/**
 * Configuration from the environment (docs/api.md §5), parsed once with zod into a frozen object.
 * Nothing else in Lotse reads `Deno.env`.
 *
 * @example
 * ```ts
 * const config = parseConfig(Deno.env.toObject());
 * ```
 *
 * @module
 */
import { z } from "zod";
import { TOKEN_ALGORITHMS, type TokenAlgorithm } from "../crypto/mod.ts";
import { LOOPBACK_NETWORKS, parseNetwork } from "./endpoint_policy.ts";

const MiB = 1024 * 1024;

function intVar(min: number, max: number, fallback: number) {
  return z.string().trim().regex(/^\d+$/, "expected a whole number").transform(Number)
    .pipe(z.number().int().min(min).max(max)).default(fallback);
}

function flag() {
  return z.enum(["0", "1", "true", "false", ""]).default("0").transform((v) =>
    v === "1" || v === "true"
  );
}

function secret(min: number) {
  return z.string().min(min, `expected at least ${min} characters`).optional();
}

const schema = z.object({
  LOTSE_HOST: z.string().trim().min(1).default("127.0.0.1"),
  LOTSE_PORT: intVar(0, 65535, 8080),
  LOTSE_TLS_CERT_FILE: z.string().min(1).optional(),
  LOTSE_TLS_KEY_FILE: z.string().min(1).optional(),
  LOTSE_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "expected a postgres:// URL").optional(),
  LOTSE_DATA_DIR: z.string().min(1).default("./data"),
  LOTSE_POSTGRES_BIN: z.string().min(1).optional(),
  LOTSE_ADMIN_TOKEN: secret(32),
  LOTSE_DEMO: flag(),
  LOTSE_DEMO_PROVIDER_PORT: intVar(0, 65535, 8081),
  LOTSE_PROVIDER_TIMEOUT_MS: intVar(1, 3_600_000, 30_000),
  LOTSE_PROVIDER_IDLE_TIMEOUT_MS: intVar(1, 3_600_000, 30_000),
  LOTSE_MAX_REQUEST_BYTES: intVar(0, 1024 * MiB, MiB),
  LOTSE_CONNECTION_CHECK_MS: intVar(100, 3_600_000, 2_000),
  LOTSE_HEADER_TIMEOUT_MS: intVar(0, 3_600_000, 10_000),
  LOTSE_IDLE_TIMEOUT_MS: intVar(0, 3_600_000, 30_000),
  LOTSE_DRAIN_MS: intVar(0, 600_000, 0),
  LOTSE_CONNECTION_SOFT_LIMIT: intVar(0, 10_000_000, 4096),
  LOTSE_BODY_TIMEOUT_MS: intVar(100, 3_600_000, 10_000),
  LOTSE_CONSUMER_IDLE_TIMEOUT_MS: intVar(100, 3_600_000, 30_000),
  LOTSE_MAX_TRANSFERS: intVar(0, 10_000_000, 4_000),
  LOTSE_MAX_TRANSFERS_PER_CONSUMER: intVar(0, 10_000_000, 1_000),
  LOTSE_RATE_LIMIT_WINDOW_MS: intVar(1000, 86_400_000, 60_000),
  LOTSE_RATE_LIMIT_TOKEN: intVar(0, 1_000_000_000, 60).optional(),
  LOTSE_RATE_LIMIT_ADDRESS: intVar(0, 1_000_000_000, 12_000).optional(),
  LOTSE_RATE_LIMIT_CLIENT: intVar(0, 1_000_000_000, 60_000).optional(),
  LOTSE_PROVIDER_ALLOWED_NETWORKS: z.string().transform((list, ctx) => {
    const networks = list.split(",").map((s) => s.trim()).filter(Boolean);
    for (const network of networks) {
      try {
        parseNetwork(network);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
        return z.NEVER;
      }
    }
    return networks;
  }).optional(),
  LOTSE_KEY_SECRET: secret(32),
  LOTSE_TOKEN_ALG: z.enum(TOKEN_ALGORITHMS).default("ES256"),
  LOTSE_PROTOCOL_KEY: secret(32),
  LOTSE_SPOOL_DIR: z.string().min(1).optional(),
  LOTSE_PROTOCOL_RETENTION_DAYS: intVar(1, 36500, 730),
  LOTSE_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  LOTSE_DSC_OIDC_ISSUER: z.url({ protocol: /^https?$/ }).optional(),
  LOTSE_DSC_OIDC_CLIENT_ID: z.string().trim().min(1).max(200).optional(),
  LOTSE_DSC_OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  LOTSE_DSC_IDNR_CLAIM: z.string().trim().regex(/^[\w.:/-]{1,100}$/, "expected a claim name")
    .default("idnr"),
  LOTSE_ENVIRONMENT: z.enum(["production", "test"]).default("production"),
  LOTSE_RATE_LIMIT_REGISTRATION: intVar(0, 1_000_000_000, 10),
}).superRefine((env, ctx) => {
  const issuer = env.LOTSE_DSC_OIDC_ISSUER ? new URL(env.LOTSE_DSC_OIDC_ISSUER) : null;
  if (
    issuer?.protocol === "http:" && !["127.0.0.1", "[::1]", "localhost"].includes(issuer.hostname)
  ) {
    ctx.addIssue({
      code: "custom",
      path: ["LOTSE_DSC_OIDC_ISSUER"],
      message: "expected an https:// issuer (http:// only on loopback)",
    });
  }
  if (Boolean(env.LOTSE_DSC_OIDC_ISSUER) !== Boolean(env.LOTSE_DSC_OIDC_CLIENT_ID)) {
    ctx.addIssue({
      code: "custom",
      path: [env.LOTSE_DSC_OIDC_ISSUER ? "LOTSE_DSC_OIDC_CLIENT_ID" : "LOTSE_DSC_OIDC_ISSUER"],
      message: "LOTSE_DSC_OIDC_ISSUER and LOTSE_DSC_OIDC_CLIENT_ID must be set together",
    });
  }
  if (Boolean(env.LOTSE_TLS_CERT_FILE) !== Boolean(env.LOTSE_TLS_KEY_FILE)) {
    ctx.addIssue({
      code: "custom",
      path: [env.LOTSE_TLS_CERT_FILE ? "LOTSE_TLS_KEY_FILE" : "LOTSE_TLS_CERT_FILE"],
      message: "LOTSE_TLS_CERT_FILE and LOTSE_TLS_KEY_FILE must be set together",
    });
  }
});

/** The variables Lotse reads; nothing else of the environment. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape ?? {});

/** Lotse's configuration, frozen. */
export interface Config {
  readonly host: string;
  readonly port: number;
  readonly tls: { readonly certFile: string; readonly keyFile: string } | null;
  /** Where consumers reach Lotse; the token URL is `${publicUrl}/v1/token`. */
  readonly publicUrl: string;
  /** Whether `LOTSE_PUBLIC_URL` was set (required with `DATABASE_URL`). */
  readonly publicUrlGiven: boolean;
  readonly databaseUrl: string | null;
  readonly dataDir: string;
  /**
   * Where `initdb` and `postgres` of the embedded database are (without `DATABASE_URL`);
   * null: the npm package's (Linux x64), else PGlite.
   */
  readonly postgresBin: string | null;
  readonly adminToken: string | null;
  readonly demo: boolean;
  /** Port of the demo providers' server (loopback), with `demo`. */
  readonly demoProviderPort: number;
  readonly providerTimeoutMs: number;
  readonly providerIdleTimeoutMs: number;
  /**
   * CIDRs where provider endpoints may have loopback, private or link-local addresses;
   * default loopback with `demo`, else none.
   */
  readonly providerAllowedNetworks: readonly string[];
  readonly maxRequestBytes: number;
  /** How often open connections are counted and checked for their timeouts (src/serve.ts). */
  readonly connectionCheckMs: number;
  /** A connection without one complete request this long after accept is closed; 0: off. */
  readonly headerTimeoutMs: number;
  /** An answered connection with nothing sent this long is closed; 0: off. */
  readonly idleTimeoutMs: number;
  /**
   * On SIGTERM, how long `/readyz` answers 503 `draining` while requests are still served,
   * so a load balancer stops sending new ones before the listener closes; default 0.
   */
  readonly drainMs: number;
  /** Open sockets beyond this shed the idle and half-open connections (src/serve.ts). */
  readonly connectionSoftLimit: number;
  /** A JSON or form body must have arrived within this; an import may pause this long. */
  readonly bodyTimeoutMs: number;
  /** Rate-limit window and quotas per window (0: off; all off by default with `demo`). */
  /** Longest wait for a consumer to take the next chunk of evidence before it is cut. */
  readonly consumerIdleTimeoutMs: number;
  /** Concurrent evidence transfers in total and per consumer (0: no cap). */
  readonly maxTransfers: number;
  readonly maxTransfersPerConsumer: number;
  readonly rateLimitWindowMs: number;
  readonly rateLimitToken: number;
  readonly rateLimitAddress: number;
  readonly rateLimitClient: number;
  readonly keySecret: string | null;
  /**
   * The JWS algorithm of the keys that sign access and evidence tokens: ES256 (the contract's
   * default) or EdDSA (Ed25519, ~20× cheaper to sign; providers must accept it).
   */
  readonly tokenAlgorithm: TokenAlgorithm;
  readonly protocolKey: string | null;
  readonly spoolDir: string;
  readonly protocolRetentionDays: number;
  readonly logLevel: "debug" | "info" | "warn" | "error";
  /** `test`: registrations are approved at once (docs/api.md §3.3). */
  readonly environment: "production" | "test";
  /** Registrations per source address and rate-limit window (0: no limit). */
  readonly rateLimitRegistration: number;
  /**
   * The citizens' cockpit login (OpenID Connect at the person's identity provider); null when
   * not configured (with `demo`, the demo identity provider stands in).
   */
  readonly cockpitOidc: CockpitOidcConfig | null;
  /** The ID token claim that holds the person's IDNr (`LOTSE_DSC_IDNR_CLAIM`, default `idnr`). */
  readonly cockpitIdnrClaim: string;
}

/** Where citizens log in to the cockpit. */
export interface CockpitOidcConfig {
  readonly issuer: string;
  readonly clientId: string;
  /** Absent: a public client (PKCE only). */
  readonly clientSecret: string | null;
}

/** Thrown when the environment holds a bad value; the message names the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Parses the environment into a frozen {@linkcode Config}.
 *
 * @throws {ConfigError} naming every variable with a bad value
 */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? "environment");
      const shown = name in env && !/TOKEN|SECRET|KEY$|DATABASE_URL/.test(name)
        ? ` (got "${env[name]}")`
        : "";
      return `${name}${shown}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n  ${lines.join("\n  ")}`);
  }
  const e = result.data;
  // Rate limits are on in production by default and off in demo mode unless set.
  const rate = (raw: string | undefined, parsed: number | undefined, fallback: number) =>
    raw === undefined ? (e.LOTSE_DEMO ? 0 : fallback) : parsed ?? fallback;
  const scheme = e.LOTSE_TLS_CERT_FILE ? "https" : "http";
  const hostForUrl = e.LOTSE_HOST.includes(":") ? `[${e.LOTSE_HOST}]` : e.LOTSE_HOST;
  const publicUrl = (e.LOTSE_PUBLIC_URL ?? `${scheme}://${hostForUrl}:${e.LOTSE_PORT}`)
    .replace(/\/+$/, "");
  return Object.freeze({
    host: e.LOTSE_HOST,
    port: e.LOTSE_PORT,
    tls: e.LOTSE_TLS_CERT_FILE && e.LOTSE_TLS_KEY_FILE
      ? Object.freeze({ certFile: e.LOTSE_TLS_CERT_FILE, keyFile: e.LOTSE_TLS_KEY_FILE })
      : null,
    publicUrl,
    publicUrlGiven: e.LOTSE_PUBLIC_URL !== undefined,
    databaseUrl: e.DATABASE_URL ?? null,
    dataDir: e.LOTSE_DATA_DIR,
    postgresBin: e.LOTSE_POSTGRES_BIN ?? null,
    adminToken: e.LOTSE_ADMIN_TOKEN ?? null,
    demo: e.LOTSE_DEMO,
    demoProviderPort: e.LOTSE_DEMO_PROVIDER_PORT,
    providerTimeoutMs: e.LOTSE_PROVIDER_TIMEOUT_MS,
    providerIdleTimeoutMs: e.LOTSE_PROVIDER_IDLE_TIMEOUT_MS,
    providerAllowedNetworks: Object.freeze(
      e.LOTSE_PROVIDER_ALLOWED_NETWORKS ?? (e.LOTSE_DEMO ? [...LOOPBACK_NETWORKS] : []),
    ),
    maxRequestBytes: e.LOTSE_MAX_REQUEST_BYTES,
    connectionCheckMs: e.LOTSE_CONNECTION_CHECK_MS,
    headerTimeoutMs: e.LOTSE_HEADER_TIMEOUT_MS,
    idleTimeoutMs: e.LOTSE_IDLE_TIMEOUT_MS,
    drainMs: e.LOTSE_DRAIN_MS,
    connectionSoftLimit: e.LOTSE_CONNECTION_SOFT_LIMIT,
    bodyTimeoutMs: e.LOTSE_BODY_TIMEOUT_MS,
    consumerIdleTimeoutMs: e.LOTSE_CONSUMER_IDLE_TIMEOUT_MS,
    maxTransfers: e.LOTSE_MAX_TRANSFERS,
    maxTransfersPerConsumer: e.LOTSE_MAX_TRANSFERS_PER_CONSUMER,
    rateLimitWindowMs: e.LOTSE_RATE_LIMIT_WINDOW_MS,
    rateLimitToken: rate(env.LOTSE_RATE_LIMIT_TOKEN, e.LOTSE_RATE_LIMIT_TOKEN, 60),
    rateLimitAddress: rate(env.LOTSE_RATE_LIMIT_ADDRESS, e.LOTSE_RATE_LIMIT_ADDRESS, 12_000),
    rateLimitClient: rate(env.LOTSE_RATE_LIMIT_CLIENT, e.LOTSE_RATE_LIMIT_CLIENT, 60_000),
    keySecret: e.LOTSE_KEY_SECRET ?? null,
    tokenAlgorithm: e.LOTSE_TOKEN_ALG,
    protocolKey: e.LOTSE_PROTOCOL_KEY ?? null,
    spoolDir: e.LOTSE_SPOOL_DIR ?? `${e.LOTSE_DATA_DIR}/spool`,
    protocolRetentionDays: e.LOTSE_PROTOCOL_RETENTION_DAYS,
    logLevel: e.LOTSE_LOG_LEVEL,
    cockpitOidc: e.LOTSE_DSC_OIDC_ISSUER && e.LOTSE_DSC_OIDC_CLIENT_ID
      ? Object.freeze({
        issuer: e.LOTSE_DSC_OIDC_ISSUER,
        clientId: e.LOTSE_DSC_OIDC_CLIENT_ID,
        clientSecret: e.LOTSE_DSC_OIDC_CLIENT_SECRET ?? null,
      })
      : null,
    cockpitIdnrClaim: e.LOTSE_DSC_IDNR_CLAIM,
    environment: e.LOTSE_ENVIRONMENT,
    rateLimitRegistration: e.LOTSE_RATE_LIMIT_REGISTRATION,
  });
}
