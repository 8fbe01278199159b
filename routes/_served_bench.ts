/**
 * The served handler the in-process route benchmarks share: the full-scale generated tables
 * with the demo clients, a key ring in memory, every rate-limit quota on (never reached) and
 * request lines formatted at level info but not written, as the load benchmarks start Lotse.
 * Nothing here touches a socket or a database: the protocol is whatever the caller passes.
 * It holds no benchmarks of its own (named `_bench` so it may use the generator and demo data).
 *
 * @module
 */
import { type AppDeps, createApp, createHandler } from "../src/app.ts";
import { createLogger } from "../src/log.ts";
import { RateLimits } from "../src/rate_limit.ts";
import { parseConfig } from "../src/config.ts";
import { createIam } from "../src/iam.ts";
import { Metrics } from "../src/metrics.ts";
import { buildSnapshot, type TableStore } from "../src/store.ts";
import { type Permission, TABLE_NAMES } from "../src/model.ts";
import type { ProtocolPort } from "../src/protocol/port.ts";
import { generateTables } from "../tools/generate.ts";
import { DEMO_CLIENTS } from "../demo/clients.ts";
import { issueAccessToken, KeyRing, memoryKeyStore } from "../crypto/mod.ts";
import type { TableVersions } from "../db/tables.ts";

/** Options for {@linkcode benchApp}. */
export interface BenchAppOptions {
  /** The permissions table; default empty. */
  readonly permissions?: (tables: ReturnType<typeof generateTables>) => Permission[];
  /** The protocol log; default none (routes that record must not be asked). */
  readonly protocol?: ProtocolPort;
}

/** Builds the app and the served handler once, with an access token of the Stuttgart client. */
export async function benchApp(options: BenchAppOptions = {}) {
  const generated = generateTables();
  const tables = {
    ...generated,
    clients: DEMO_CLIENTS,
    permissions: options.permissions?.(generated) ?? [],
  };
  const versions = Object.fromEntries(TABLE_NAMES.map((n) => [n, 1])) as TableVersions;
  const store = { snapshot: buildSnapshot(tables, versions) } as unknown as TableStore;
  const keys = await KeyRing.open(memoryKeyStore("bench-secret-of-at-least-32-characters!"));
  const config = parseConfig({ LOTSE_PUBLIC_URL: "http://lotse.test" });
  const iam = createIam(keys, store, { publicUrl: config.publicUrl });
  const deps = {
    config,
    db: null as never,
    store,
    metrics: new Metrics(),
    iam,
    protocol: options.protocol ?? null as never,
    providerClients: null as never,
    idnrHash: () => "",
  } satisfies AppDeps;
  const logged = { lines: 0 };
  const logger = createLogger({ level: "info", write: () => logged.lines++ });
  const rateLimits = new RateLimits({ windowMs: 60_000, token: 1e9, address: 1e9, client: 1e9 });
  const { token } = await issueAccessToken(
    { id: "stuttgart-bewohnerparken", roles: ["consumer"] },
    { keys, issuer: config.publicUrl, audience: config.publicUrl },
  );
  const info = {
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 },
    completed: Promise.resolve(),
  } as Deno.ServeHandlerInfo<Deno.NetAddr>;
  return {
    generated,
    deps,
    keys,
    iam,
    store,
    logger,
    logged,
    rateLimits,
    token,
    info,
    app: createApp(deps),
    handler: createHandler({ ...deps, logger, rateLimits }),
    /** What the served handler tells the request log of a navigation answered on its fast path. */
    requestFacts: {
      route: "GET /v1/navigation",
      clientId: "stuttgart-bewohnerparken",
      requestId: null,
      traceparent: null,
      transferId: null,
    },
  };
}

/**
 * `count` authenticated navigation URLs over `generated`'s AGS and its first three evidence
 * types, spread by a prime stride so consecutive requests look up different regions.
 */
export function navigationUrls(
  generated: { regions: readonly { ags: string }[]; evidenceTypes: readonly { id: string }[] },
  count: number,
): string[] {
  const agsList = generated.regions.map((r) => r.ags);
  return Array.from(
    { length: count },
    (_, i) =>
      `http://lotse.test/v1/navigation?evidenceType=${generated.evidenceTypes[i % 3]!.id}&ags=${
        agsList[(i * 7919) % agsList.length]
      }`,
  );
}
