/**
 * Starting and stopping a whole Lotse instance: database, migrations, demo data, keys,
 * tables, protocol log, the app and its server. `src/main.ts` calls it with the parsed
 * config; integration tests call it too, so they run the same start as production.
 *
 * @module
 */
import { connectPostgres, surviveLostConnections } from "../db/postgres.ts";
import { openEmbedded } from "../db/embedded.ts";
import { migrate } from "../db/migrate.ts";
import type { Db } from "../db/types.ts";
import { syncRows } from "../db/tables.ts";
import { type Jwks, type KeyStore, openKey, type SigningKey } from "../crypto/mod.ts";
import { KeyRing, ReplayCache } from "../crypto/mod.ts";
import { dbKeyStore, readSealedKeys } from "../db/key_store.ts";
import { connectionReason, isConnectionError } from "../db/errors.ts";
import { purgeAudit } from "../db/audit.ts";
import { DbHealth } from "./db_health.ts";
import {
  readTableSnapshot,
  SNAPSHOT_FILE,
  SnapshotWriter,
  type TableCopy,
} from "./table_snapshot.ts";
import { sharedReplayGuard } from "../db/replay_guard.ts";
import { createHandler, type Handler } from "./app.ts";
import type { CockpitOidcConfig, Config } from "./config.ts";
import { createIam, type Iam } from "./iam.ts";
import { Metrics } from "./metrics.ts";
import { sampleLoopDelay } from "./loop_delay.ts";
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
import { type GuardedServer, type RequestActivity, serveGuarded } from "./serve.ts";
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
  /** Whether PostgreSQL can be reached, as this instance last saw it. */
  readonly health: DbHealth;
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
  /**
   * Where the ready line's phases start, in `performance.now()` time; default: when this is
   * called. src/main.ts passes 0, the process's start, so that the first phase, `modules`,
   * is Deno's own start, the module graph and the configuration.
   */
  since?: number;
}

/** Running demo registers. */
export interface DemoRegisters {
  readonly port: number;
  /** The demo identity provider for the cockpit's login, when the demo serves one. */
  readonly cockpitOidc?: CockpitOidcConfig | null;
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
    /** The cockpit's OpenID Connect callback, for a demo identity provider. */
    cockpitRedirectUri: string;
  }): DemoRegisters;
  /** The demo tables, the registers' endpoints under `providerBaseUrl`. */
  tables(providerBaseUrl: string): Tables;
}

/** How long a start waits for the spool's replay before closing interrupted transfers. */
const SPOOL_REPLAY_WAIT_MS = 15_000;

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
    if (!config.publicUrlGiven) {
      throw new Error(
        "LOTSE_PUBLIC_URL must be set when DATABASE_URL is set: tokens carry it as issuer and " +
          "audience, so every instance on one database must share it (the load balancer's URL)",
      );
    }
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
  let mark = options.since ?? performance.now();
  const phase = (name: string) => {
    const now = performance.now();
    phases.push([name, Math.round(now - mark)]);
    mark = now;
  };
  if (options.since !== undefined) phase("modules");
  const { keySecret, protocolKey } = await secrets(config);
  const health = new DbHealth({ logger });
  // A database failure that is an outage goes to `health` (one line per change of state);
  // anything else is logged with its stack.
  const report = (what: string) => (error: unknown) => {
    if (isConnectionError(error)) health.down(connectionReason(error));
    else logger.error(what, { error });
  };
  // postgres.js must never end the process when PostgreSQL goes away (db/postgres.ts).
  surviveLostConnections(logger);
  let db: Db;
  if (options.db) db = options.db;
  else if (config.databaseUrl) db = await connectPostgres(config.databaseUrl, { lazy: true });
  else {
    const embedded = await openEmbedded(config.dataDir, { bin: config.postgresBin });
    db = embedded.db;
    logger.info("Embedded database", { engine: embedded.engine, dir: embedded.dir });
  }
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    phase("database");
    // With PostgreSQL unreachable at start, serve from the last snapshot on disk and
    // connect in the background; without a snapshot there is nothing to serve.
    const snapshotPath = `${config.dataDir}/${SNAPSHOT_FILE}`;
    let copy: TableCopy | null = null;
    try {
      const applied = await migrate(db);
      if (applied.length) logger.info("Applied migrations", { migrations: applied });
    } catch (error) {
      if (db.kind !== "postgres" || !isConnectionError(error)) throw error;
      const reason = connectionReason(error);
      copy = await readTableSnapshot(snapshotPath);
      if (copy === null) {
        throw new Error(
          `PostgreSQL cannot be reached (${reason}) and there is no table snapshot at ` +
            `"${snapshotPath}" to start from`,
        );
      }
      health.down(reason);
      logger.warn("Starting from the table snapshot", {
        writtenAt: new Date(copy.writtenAt ?? 0).toISOString(),
        tablesVersion: sumVersions(copy),
      });
    }
    phase("migrations");

    let serving = false;
    const metrics = new Metrics();
    const providerClients = new ProviderClients();
    cleanups.push(() => providerClients.close());
    // A copy of the tables on disk after every load, to start from when PostgreSQL is down.
    const snapshotWriter = db.kind === "postgres"
      ? new SnapshotWriter(snapshotPath, async () => {
        const current = store.snapshot!;
        return {
          tables: current.tables,
          versions: current.versions,
          keys: await readSealedKeys(db),
        };
      }, { onError: report("Table snapshot not written"), minIntervalMs: 30_000 })
      : null;
    cleanups.push(() => snapshotWriter?.close());
    // The requests this instance serves, as its server counts them: the collection after a
    // whole-table swap waits for a quiet moment (src/store.ts). Quiet while nothing is served.
    let server: GuardedServer | null = null;
    const activity: RequestActivity = {
      get begun() {
        return server?.begun ?? 0;
      },
      quietSince: (mark) => server === null || server.quietSince(mark),
    };
    const store = new TableStore(db, {
      activity,
      onSwap: (snapshot, changed, info) => {
        metrics.count(
          `lotse_tables_refreshes_total{mode="${info.mode}"}`,
        );
        metrics.count("lotse_tables_refresh_seconds_total", info.ms / 1000);
        logger.debug("Tables swapped", {
          changed: [...changed],
          version: snapshot.version,
          mode: info.mode,
          ms: Math.round(info.ms),
          ...info.readMs === undefined ? {} : { readMs: Math.round(info.readMs) },
        });
        if (changed.has("providers")) {
          providerClients.retain((id) => snapshot.nav.provider(id) !== undefined);
        }
        // The first copy is written once this instance serves, not while it starts.
        if (health.state.up && serving) snapshotWriter?.schedule();
      },
      onError: report("Table refresh failed; the old tables stay"),
      onPreviewError: report("Import preview not built; its commit reads the table whole"),
      onSynced: () => health.up(),
    });

    const sealedKeys = copy?.keys;
    const primaryKeys = dbKeyStore(db, keySecret);
    const keyStore: KeyStore = sealedKeys === undefined ? primaryKeys : {
      // Until the database answers, the keys come from the snapshot (sealed as at rest).
      load: () =>
        primaryKeys.load().catch((error) => {
          if (!isConnectionError(error)) throw error;
          return Promise.all(sealedKeys.map((row) => openKey(row, keySecret)));
        }),
      save: (key) => primaryKeys.save(key),
      remove: (kid) => primaryKeys.remove(kid),
    };
    const keys = await KeyRing.open(keyStore, { algorithm: config.tokenAlgorithm });
    phase("keys");
    // Rotation: whichever instance rotates tells the others, so every instance publishes
    // the new key in its JWKS and accepts tokens signed with it at once.
    const maintainKeys = async (at?: number) => {
      const before = keys.activeKid;
      await keys.maintain(at);
      if (keys.activeKid !== before) await db.notify(KEYS_CHANNEL, keys.activeKid);
    };
    const keyTimer = setInterval(() => {
      maintainKeys().catch(report("Key maintenance failed"));
    }, 60_000);
    cleanups.push(() => clearInterval(keyTimer));
    const listenKeys = () =>
      db.listen(KEYS_CHANNEL, (kid) => {
        if (kid !== keys.activeKid) keys.refresh().catch(report("Key refresh failed"));
      });
    let unlistenKeys: (() => Promise<void>) | null = copy === null ? await listenKeys() : null;
    cleanups.push(() => unlistenKeys?.());

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
        cockpitRedirectUri: `${config.publicUrl}/cockpit/callback`,
      });
      cleanups.push(() => demoProvider!.shutdown());
      const base = `http://127.0.0.1:${demoProvider.port}`;
      if (copy === null) await seedDemo(db, demo.tables(base));
      logger.info("Demo providers started", { url: `${base}/providers/` });
    }

    // After the keys and their LISTEN connection, not beside them: loading them at the same
    // time was tried and taken back (at a million routes the load kept the event loop busy
    // long enough for the new connection's handshake to time out on a loaded machine).
    if (copy === null) await store.load();
    else store.adopt(copy.tables, copy.versions);
    phase("tables");
    await store.start();
    cleanups.push(() => store.stop());
    if (copy !== null) {
      // Back in the background: migrations, keys and demo data once PostgreSQL answers
      // (the table store reconnects by itself through its poll).
      let stopped = false;
      cleanups.push(() => {
        stopped = true;
      });
      (async () => {
        while (!stopped) {
          try {
            await migrate(db);
            await keys.refresh();
            unlistenKeys ??= await listenKeys();
            if (config.demo && demoProvider) {
              await seedDemo(db, options.demo!.tables(`http://127.0.0.1:${demoProvider.port}`));
            }
            await store.sync();
            health.up();
            return;
          } catch (error) {
            report("Reconnecting failed")(error);
            await new Promise((r) => setTimeout(r, 1000));
          }
        }
      })();
    }

    const protocol = await openProtocolLog(db, {
      spoolDir: config.spoolDir,
      hmacKey: protocolKey,
      onError: report("Protocol log trouble"),
      onBatch: ({ enqueuedAt, entries, sentAt, answeredAt, resumedAt }) => {
        // Entries per batch: how far group commit spreads the round trip (BENCHMARKS.md,
        // "Session 8, P10"). The stages are those of the entries a caller waits on.
        metrics.count("lotse_protocol_batches_total");
        metrics.count("lotse_protocol_entries_total", entries);
        for (const at of enqueuedAt) {
          metrics.observeProtocolStage("queued", sentAt - at);
          metrics.observeProtocolStage("database", answeredAt - sentAt);
          metrics.observeProtocolStage("resumed", resumedAt - answeredAt);
        }
      },
    });
    cleanups.push(() => protocol.close());
    cleanups.push(sampleLoopDelay((ms) => metrics.observeLoopDelay(ms)));
    // This instance's transfers cut by a crash: recorded as failed (reason interrupted).
    const journal = await InflightJournal.open(`${config.spoolDir}/inflight.journal`);
    cleanups.push(() => journal.close());
    const tracked = journal.track(protocol);
    // The spool the last run left is replayed into PostgreSQL in the background, and an
    // interrupted transfer's decision may be in it: let it arrive first, or the transfer would
    // look never recorded and stay in flight. Bounded, for a PostgreSQL that is down.
    let replayed = journal.interrupted.length === 0;
    if (!replayed && copy === null) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      replayed = await Promise.race([
        protocol.drain().then(() => true),
        new Promise<boolean>((resolve) =>
          timer = setTimeout(() => resolve(false), SPOOL_REPLAY_WAIT_MS)
        ),
      ]);
      clearTimeout(timer);
    }
    const interrupted = await closeInterrupted(
      journal,
      tracked,
      async (id) => (await transferById(db, id))?.outcome ?? null,
      { replayed },
    );
    if (interrupted > 0) logger.warn("Closed interrupted transfers", { count: interrupted });
    phase("protocol");
    const stopRetention = startRetention(db, {
      retentionDays: config.protocolRetentionDays,
      onError: report("Protocol purge failed; retrying later"),
    });
    cleanups.push(() => stopRetention());
    // The audit trail is kept as long as the protocol.
    const stopAuditRetention = startRetention(db, {
      retentionDays: config.protocolRetentionDays,
      purge: purgeAudit,
      onError: report("Audit purge failed; retrying later"),
    });
    cleanups.push(() => stopAuditRetention());

    // Client assertion jtis are claimed in PostgreSQL, so a replay is refused by every
    // instance, not only the one that saw the assertion first.
    const replay = sharedReplayGuard(db, new ReplayCache(), {
      onError: report("Replay guard falls back to this instance's memory"),
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
    let draining = false;
    const { app, fetch: handler } = createHandler({
      draining: () => draining,
      config,
      db,
      store,
      metrics,
      iam,
      protocol: tracked,
      providerClients,
      health,
      idnrHash: (idnr) => idnrHmac(protocolKey, idnr),
      // A configured identity provider wins; the demo's stands in only in demo mode.
      cockpitOidc: config.cockpitOidc ?? demoProvider?.cockpitOidc ?? null,
      demoProviderIds: config.demo && demoProvider
        ? options.demo!.tables(`http://127.0.0.1:${demoProvider.port}`).providers.map((p) => p.id)
        : [],
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
        headerTimeoutMs: config.headerTimeoutMs,
        idleTimeoutMs: config.idleTimeoutMs,
        onTimeout: (kind) => metrics.count(`lotse_http_connection_timeouts_total{kind="${kind}"}`),
        onShed: (connections) => metrics.count("lotse_http_connections_shed_total", connections),
        heldDescriptors: () => 3 * transferCaps.running,
        logger,
      });
      const guarded = server;
      metrics.descriptors = () => guarded.openDescriptors;
      if (!guarded.timeouts && (config.headerTimeoutMs > 0 || config.idleTimeoutMs > 0)) {
        logger.warn(
          "No header or idle timeout: they need Linux and --allow-ffi; idle connections are shed only past LOTSE_CONNECTION_SOFT_LIMIT",
        );
      }
      metrics.gauge(
        "lotse_http_servers_started",
        "HTTP servers started (replacements after errors; rotations past the soft limit where the kernel's view of the connections is missing).",
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
        signer: signerName(keys.signingKey()),
        startMs: Object.fromEntries(phases),
      });
    }

    serving = true;
    if (health.state.up) snapshotWriter?.schedule();

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
      health,
      maintainKeys,
      shutdown() {
        stopping ??= (async () => {
          if (config.drainMs > 0 && server !== null) {
            draining = true;
            logger.info("Draining: not ready, still serving", { ms: config.drainMs });
            await new Promise((resolve) => setTimeout(resolve, config.drainMs));
          }
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

/**
 * Writes the demo tables where they differ from what is stored, in one transaction: a
 * restart on the same data changes nothing and bumps no version. Instances starting at
 * once take turns (an advisory lock).
 */
export async function seedDemo(db: Db, tables: Tables): Promise<number> {
  return await db.transaction(async (tx) => {
    await tx.sql`select pg_advisory_xact_lock(${DEMO_LOCK})`;
    let written = 0;
    written += await syncRows(tx, "regions", tables.regions);
    written += await syncRows(tx, "postcodes", tables.postcodes);
    written += await syncRows(tx, "evidence-types", tables.evidenceTypes);
    written += await syncRows(tx, "providers", tables.providers);
    written += await syncRows(tx, "routes", tables.routes);
    written += await syncRows(tx, "clients", tables.clients);
    written += await syncRows(tx, "permissions", tables.permissions);
    return written;
  });
}

// Any fixed number: the key of the advisory lock around demo seeding.
const DEMO_LOCK = 0x10752e;

function sumVersions(copy: TableCopy): number {
  return Object.values(copy.versions).reduce((sum, v) => sum + Number(v), 0);
}

/**
 * Who signs tokens, for the ready line: "openssl" for ES256 in OpenSSL where it can
 * (crypto/_openssl_p256.ts), else "webcrypto" (EdDSA keys sign through node:crypto but have
 * always said "webcrypto" here).
 */
function signerName(key: SigningKey): "openssl" | "webcrypto" {
  return key.alg === "ES256" && key.native ? "openssl" : "webcrypto";
}
