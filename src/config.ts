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
  LOTSE_ADMIN_TOKEN: secret(32),
  LOTSE_DEMO: flag(),
  LOTSE_DEMO_PROVIDER_PORT: intVar(0, 65535, 8081),
  LOTSE_PROVIDER_TIMEOUT_MS: intVar(1, 3_600_000, 30_000),
  LOTSE_PROVIDER_IDLE_TIMEOUT_MS: intVar(1, 3_600_000, 30_000),
  LOTSE_MAX_REQUEST_BYTES: intVar(0, 1024 * MiB, MiB),
  LOTSE_KEY_SECRET: secret(32),
  LOTSE_PROTOCOL_KEY: secret(32),
  LOTSE_SPOOL_DIR: z.string().min(1).optional(),
  LOTSE_PROTOCOL_RETENTION_DAYS: intVar(1, 36500, 730),
  LOTSE_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
}).superRefine((env, ctx) => {
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
  readonly databaseUrl: string | null;
  readonly dataDir: string;
  readonly adminToken: string | null;
  readonly demo: boolean;
  /** Port of the demo providers' server (loopback), with `demo`. */
  readonly demoProviderPort: number;
  readonly providerTimeoutMs: number;
  readonly providerIdleTimeoutMs: number;
  readonly maxRequestBytes: number;
  readonly keySecret: string | null;
  readonly protocolKey: string | null;
  readonly spoolDir: string;
  readonly protocolRetentionDays: number;
  readonly logLevel: "debug" | "info" | "warn" | "error";
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
    databaseUrl: e.DATABASE_URL ?? null,
    dataDir: e.LOTSE_DATA_DIR,
    adminToken: e.LOTSE_ADMIN_TOKEN ?? null,
    demo: e.LOTSE_DEMO,
    demoProviderPort: e.LOTSE_DEMO_PROVIDER_PORT,
    providerTimeoutMs: e.LOTSE_PROVIDER_TIMEOUT_MS,
    providerIdleTimeoutMs: e.LOTSE_PROVIDER_IDLE_TIMEOUT_MS,
    maxRequestBytes: e.LOTSE_MAX_REQUEST_BYTES,
    keySecret: e.LOTSE_KEY_SECRET ?? null,
    protocolKey: e.LOTSE_PROTOCOL_KEY ?? null,
    spoolDir: e.LOTSE_SPOOL_DIR ?? `${e.LOTSE_DATA_DIR}/spool`,
    protocolRetentionDays: e.LOTSE_PROTOCOL_RETENTION_DAYS,
    logLevel: e.LOTSE_LOG_LEVEL,
  });
}
