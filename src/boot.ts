/**
 * Starting and stopping a whole Lotse instance: database, migrations, demo data, keys,
 * tables, protocol log, the app and its server. `src/main.ts` calls it with the parsed
 * config; integration tests call it too, so they run the same start as production.
 *
 * @module
 */
import { connectPostgres } from "../db/postgres.ts";
import { migrate } from "../db/migrate.ts";
import type { Db } from "../db/types.ts";
import { putRows } from "../db/tables.ts";
import { type Jwks, KeyRing, ReplayCache } from "../crypto/mod.ts";
import { dbKeyStore } from "../db/key_store.ts";
import { sharedReplayGuard } from "../db/replay_guard.ts";
import { createHandler, type Handler } from "./app.ts";
import type { Config } from "./config.ts";
import { createIam, type Iam } from "./iam.ts";
import { Metrics } from "./metrics.ts";
import {
  idnrHmac,
  openProtocolLog,
  type ProtocolLog,
  startRetention,
  transferById,
} from "./protocol/mod.ts";
import { closeInterrupted, InflightJournal } from "./inflight.ts";
import { TableStore } from "./store.ts";
import type { Tables } from "./model.ts";
import { ProviderClients } from "./transport.ts";
import { type GuardedServer, serveGuarded } from "./serve.ts";
import { RateLimits } from "./rate_limit.ts";
import { TransferCaps } from "./transfer_caps.ts";
import type { Hono } from "hono";
import { createLogger, type Logger } from "./log.ts";

/** A running instance. */
export interface Lotse {
  readonly app: Hono;
  /** What the server runs: the navigation fast path, then the app. */
  readonly fetch: Handler;
  readonly db: Db;
  readonly store: TableStore;
  readonly iam: Iam;
  readonly protocol: ProtocolLog;
  readonly metrics: Metrics;
  readonly server: GuardedServer | null;
  /** Where it listens, e.g. `http://127.0.0.1:8080`. */
  readonly url: string | null;
  readonly demoProvider: DemoRegisters | null;
  /**
   * The key maintenance a timer runs every minute: reloads, prunes, rotates when due (as of
   * `at`, default now) and tells the other instances of a rotation by NOTIFY.
   */
  maintainKeys(at?: number): Promise<void>;
  /** Stops taking requests, lets running ones finish, flushes the protocol, closes all. */
  shutdown(): Promise<void>;
}

/** Options for {@linkcode startLotse}. */
export interface StartOptions {
  /** Use this database instead of opening one from the config. */
  db?: Db;
  /** Do not listen (tests that only call `app.request()`). */
  serve?: boolean;
  now?: () => number;
  /** Where Lotse's events go; default: JSON lines on standard output at `config.logLevel`. */
  logger?: Logger;
  /** The demo (demo/mod.ts), required with `config.demo`; src/main.ts passes it. */
  demo?: DemoSetup;
}

/** Running demo registers. */
export interface DemoRegisters {
  readonly port: number;
  shutdown(): Promise<void>;
}

/**
 * What the core needs of the demo, injected: the core never imports demo/, src/main.ts hands
 * demo/mod.ts over when Lotse starts with `--demo` (tests/layering_test.ts holds it to that).
 */
export interface DemoSetup {
  /** Starts the demo registers on loopback; they check tokens against `jwks`. */
  startRegisters(options: {
    hostname: string;
    port: number;
    jwks: () => Promise<Jwks>;
    issuer: string;
  }): DemoRegisters;
  /** The demo tables, the registers' endpoints under `providerBaseUrl`. */
  tables(providerBaseUrl: string): Tables;
}

/** Announces a rotated signing key; the payload is the new active kid. */
export const KEYS_CHANNEL = "lotse_keys";

async function secretFile(dir: string, name: string): Promise<string> {
  const path = `${dir}/${name}`;
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.mkdir(dir, { recursive: true });
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const secret = btoa(String.fromCharCode(...bytes));
  await Deno.writeTextFile(path, secret + "\n", { mode: 0o600, createNew: true });
  return secret;
}

/**
 * The secrets Lotse needs. Against a PostgreSQL server they must come from the environment;
 * with the embedded database they are made once and kept in the data directory, so a
 * newcomer needs no setup.
 */
async function secrets(config: Config): Promise<{ keySecret: string; protocolKey: string }> {
  if (config.databaseUrl !== null) {
    const missing = [
      config.keySecret === null ? "LOTSE_KEY_SECRET" : null,
      config.protocolKey === null ? "LOTSE_PROTOCOL_KEY" : null,
    ].filter(Boolean);
    if (missing.length > 0) {
      throw new Error(
        `${missing.join(" and ")} must be set (at least 32 characters) when DATABASE_URL is set`,
      );
    }
  }
  return {
    keySecret: config.keySecret ?? await secretFile(config.dataDir, "key-secret"),
    protocolKey: config.protocolKey ?? await secretFile(config.dataDir, "protocol-key"),
  };
}

/** Starts an instance from `config`. */
export async function startLotse(config: Config, options: StartOptions = {}): Promise<Lotse> {
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  // How long each step of the start took, for the ready line (docs/targets.md P8).
  const phases: [string, number][] = [];
  let mark = performance.now();
  const phase = (name: string) => {
    const now = performance.now();
    phases.push([name, Math.round(now - mark)]);
    mark = now;
  };
  const { keySecret, protocolKey } = await secrets(config);
  const db = options.db ??
    (config.databaseUrl
      ? await connectPostgres(config.databaseUrl)
      // Loaded only when used: PGlite's WASM loader is heavy and servers do not need it.
      : await (await import("../db/pglite.ts")).openPglite(`${config.dataDir}/pglite`));
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    phase("database");
    const applied = await migrate(db);
    phase("migrations");
    if (applied.length) logger.info("Applied migrations", { migrations: applied });

    const keys = await KeyRing.open(dbKeyStore(db, keySecret));
    phase("keys");
    // Rotation: whichever instance rotates tells the others, so every instance publishes
    // the new key in its JWKS and accepts tokens signed with it at once.
    const maintainKeys = async (at?: number) => {
      const before = keys.activeKid;
      await keys.maintain(at);
      if (keys.activeKid !== before) await db.notify(KEYS_CHANNEL, keys.activeKid);
    };
    const keyTimer = setInterval(() => {
      maintainKeys().catch((error) => logger.error("Key maintenance failed", { error }));
    }, 60_000);
    cleanups.push(() => clearInterval(keyTimer));
    const unlistenKeys = await db.listen(KEYS_CHANNEL, (kid) => {
      if (kid !== keys.activeKid) {
        keys.refresh().catch((error) => logger.error("Key refresh failed", { error }));
      }
    });
    cleanups.push(() => unlistenKeys());

    let demoProvider: DemoRegisters | null = null;
    if (config.demo) {
      const demo = options.demo;
      if (demo === undefined) {
        throw new Error("Cannot start the demo: no demo module given (src/main.ts passes it)");
      }
      demoProvider = demo.startRegisters({
        hostname: "127.0.0.1",
        port: config.demoProviderPort,
        jwks: () => Promise.resolve(keys.jwks()),
        issuer: config.publicUrl,
      });
      cleanups.push(() => demoProvider!.shutdown());
      const base = `http://127.0.0.1:${demoProvider.port}`;
      await writeTables(db, demo.tables(base));
      logger.info("Demo providers started", { url: `${base}/providers/` });
    }

    const metrics = new Metrics();
    const providerClients = new ProviderClients();
    cleanups.push(() => providerClients.close());
    const store = new TableStore(db, {
      onSwap: (snapshot, changed) => {
        if (changed.has("providers")) {
          providerClients.retain((id) => snapshot.nav.provider(id) !== undefined);
        }
      },
      onError: (error) => logger.error("Table refresh failed; the old tables stay", { error }),
    });
    await store.load();
    phase("tables");
    await store.start();
    cleanups.push(() => store.stop());

    const protocol = await openProtocolLog(db, {
      spoolDir: config.spoolDir,
      hmacKey: protocolKey,
      onError: (error) => logger.error("Protocol log trouble", { error }),
    });
    cleanups.push(() => protocol.close());
    // This instance's transfers cut by a crash: recorded as failed (reason interrupted).
    const journal = await InflightJournal.open(`${config.spoolDir}/inflight.journal`);
    cleanups.push(() => journal.close());
    const tracked = journal.track(protocol);
    const interrupted = await closeInterrupted(
      journal,
      tracked,
      async (id) => (await transferById(db, id))?.outcome ?? null,
    );
    if (interrupted > 0) logger.warn("Closed interrupted transfers", { count: interrupted });
    phase("protocol");
    const stopRetention = startRetention(db, {
      retentionDays: config.protocolRetentionDays,
      onError: (error) => logger.error("Protocol purge failed; retrying later", { error }),
    });
    cleanups.push(() => stopRetention());

    // Client assertion jtis are claimed in PostgreSQL, so a replay is refused by every
    // instance, not only the one that saw the assertion first.
    const replay = sharedReplayGuard(db, new ReplayCache(), {
      onError: (error) =>
        logger.warn("Replay guard falls back to this instance's memory", { error }),
    });
    const replayTimer = setInterval(() => {
      replay.purge(Date.now()).catch(() => {});
    }, 60_000);
    cleanups.push(() => clearInterval(replayTimer));
    const iam = createIam(keys, store, { publicUrl: config.publicUrl, now: options.now, replay });
    metrics.gauge(
      "lotse_protocol_queue_depth",
      "Protocol entries not yet durable.",
      () => protocol.queueDepth,
    );
    metrics.gauge(
      "lotse_tables_version",
      "Version of the tables in memory.",
      () => store.snapshot?.version ?? 0,
    );
    metrics.gauge(
      "lotse_token_cache_size",
      "Verified access tokens cached.",
      () => iam.verifier.cacheSize,
    );

    const transferCaps = new TransferCaps({
      total: config.maxTransfers,
      perConsumer: config.maxTransfersPerConsumer,
    });
    const { app, fetch: handler } = createHandler({
      config,
      db,
      store,
      metrics,
      iam,
      protocol: tracked,
      providerClients,
      idnrHash: (idnr) => idnrHmac(protocolKey, idnr),
      now: options.now,
      logger,
      transferCaps,
      rateLimits: new RateLimits({
        windowMs: config.rateLimitWindowMs,
        token: config.rateLimitToken,
        address: config.rateLimitAddress,
        client: config.rateLimitClient,
      }),
    });

    let server: GuardedServer | null = null;
    let url: string | null = null;
    if (options.serve !== false) {
      const tls = config.tls
        ? {
          cert: await Deno.readTextFile(config.tls.certFile),
          key: await Deno.readTextFile(config.tls.keyFile),
        }
        : null;
      server = await serveGuarded(handler, {
        hostname: config.host,
        port: config.port,
        tls,
        checkMs: config.connectionCheckMs,
        softLimit: config.connectionSoftLimit,
        heldDescriptors: () => 3 * transferCaps.running,
        logger,
      });
      const guarded = server;
      metrics.gauge(
        "lotse_http_servers_started",
        "HTTP servers started (rotations for the idle timeout, replacements after errors).",
        () => guarded.generations,
      );
      metrics.gauge(
        "lotse_http_server_failures",
        "HTTP servers that ended with an error (e.g. out of file descriptors) and were replaced.",
        () => guarded.failures,
      );
      metrics.gauge(
        "lotse_open_descriptors",
        "Open file descriptors at the last connection check.",
        () => guarded.openDescriptors ?? 0,
      );
      const addr = server.addr;
      const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
      url = `${config.tls ? "https" : "http"}://${host}:${addr.port}`;
      phase("listen");
      logger.info("Lotse listening", {
        url,
        tablesVersion: store.snapshot!.version,
        startMs: Object.fromEntries(phases),
      });
    }

    let stopping: Promise<void> | null = null;
    return {
      app,
      fetch: handler,
      db,
      store,
      iam,
      protocol,
      metrics,
      server,
      url,
      demoProvider,
      maintainKeys,
      shutdown() {
        stopping ??= (async () => {
          await server?.shutdown();
          for (const cleanup of cleanups.reverse()) await cleanup();
          if (!options.db) await db.close();
        })();
        return stopping;
      },
    };
  } catch (error) {
    for (const cleanup of cleanups.reverse()) await cleanup();
    if (!options.db) await db.close();
    throw error;
  }
}

/** Writes the demo tables (idempotent: create or replace). */
async function writeTables(db: Db, tables: Tables): Promise<void> {
  await putRows(db, "regions", tables.regions);
  await putRows(db, "postcodes", tables.postcodes);
  await putRows(db, "evidence-types", tables.evidenceTypes);
  await putRows(db, "providers", tables.providers);
  await putRows(db, "routes", tables.routes);
  await putRows(db, "clients", tables.clients);
  await putRows(db, "permissions", tables.permissions);
}
