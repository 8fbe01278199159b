/**
 * A whole Lotse instance for integration tests: its own database in the run's throwaway
 * PostgreSQL, demo tables and demo providers, started through the same `startLotse()` as
 * production. Plus helpers to sign client assertions with the demo keys and get tokens.
 *
 * @module
 */
import { parseConfig } from "../src/config.ts";
import { type Lotse, startLotse } from "../src/boot.ts";
import { demo } from "../demo/mod.ts";
import { demoClientAssertion, tokenForm } from "../tools/demo_client.ts";
import { freshDatabaseUrl } from "./_pg.ts";
import { type Logger, silentLogger } from "../src/log.ts";

export {
  ASSERTION_TYPE,
  demoClientAssertion as clientAssertion,
  tokenForm,
} from "../tools/demo_client.ts";

/** A running test instance. */
export interface TestLotse {
  readonly lotse: Lotse;
  /** `http://127.0.0.1:PORT` when served (the port the server bound), else the public URL. */
  readonly base: string;
  /** The configured public URL (token audience and issuer): `http://lotse.test`. */
  readonly publicUrl: string;
  readonly databaseUrl: string;
  readonly dataDir: string;
  /** An access token for a demo client (cached per client). */
  token(clientId: string): Promise<string>;
  /** `fetch` against the instance: over the socket when served, else `app.request`. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

export interface TestLotseOptions {
  /** Listen on a real socket, on a port the system picks (default); false: in-process. */
  serve?: boolean;
  env?: Record<string, string>;
  now?: () => number;
  /** Share this database (a second instance); default: a fresh one. */
  databaseUrl?: string;
  /** Use this data directory (kept by `close()`); default a new one (removed by `close()`). */
  dataDir?: string;
  /** Where the instance's log events go; default nowhere. */
  logger?: Logger;
}

/**
 * A served instance's public URL is its socket address, because standard clients (OAuth
 * discovery) fetch the issuer URL itself. So the port is picked free just before binding it;
 * when another process takes it in between, the start fails with `AddrInUse` (Lotse binds
 * without `SO_REUSEPORT` first, src/serve.ts) and {@linkcode startTestLotse} starts again on
 * another port. Child processes (`_lotse_process.ts`) bind port 0 and report it instead.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** How often a served start is tried when its picked port was taken in the meantime. */
const PORT_ATTEMPTS = 5;

/** Starts a test instance with the demo tables. */
export async function startTestLotse(options: TestLotseOptions = {}): Promise<TestLotse> {
  const databaseUrl = options.databaseUrl ?? await freshDatabaseUrl();
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "lotse-test-" });
  for (let attempt = 1;; attempt++) {
    try {
      return await startOn(options, databaseUrl, dataDir);
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse) || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

async function startOn(
  options: TestLotseOptions,
  databaseUrl: string,
  dataDir: string,
): Promise<TestLotse> {
  const serve = options.serve ?? true;
  const port = serve ? freePort() : 8080;
  const publicUrl = serve ? `http://127.0.0.1:${port}` : "http://lotse.test";
  const config = parseConfig({
    DATABASE_URL: databaseUrl,
    LOTSE_HOST: "127.0.0.1",
    LOTSE_PORT: String(port),
    LOTSE_PUBLIC_URL: publicUrl,
    LOTSE_DATA_DIR: dataDir,
    LOTSE_KEY_SECRET: "test-key-secret-of-at-least-32-characters",
    LOTSE_PROTOCOL_KEY: "test-protocol-key-of-at-least-32-chars",
    LOTSE_ADMIN_TOKEN: "test-admin-token-of-at-least-32-characters",
    LOTSE_DEMO: "1",
    LOTSE_DEMO_PROVIDER_PORT: "0",
    ...options.env,
  });
  const lotse = await startLotse(config, {
    demo,
    serve: options.serve ?? true,
    now: options.now,
    logger: options.logger ?? silentLogger,
  });
  const base = lotse.url ?? publicUrl;
  const tokens = new Map<string, string>();
  const doFetch = (path: string, init?: RequestInit) =>
    lotse.url
      ? fetch(`${lotse.url}${path}`, init)
      : Promise.resolve(lotse.fetch(new Request(`${publicUrl}${path}`, init)));
  return {
    lotse,
    base,
    publicUrl,
    databaseUrl,
    dataDir,
    fetch: doFetch,
    async token(clientId) {
      const cached = tokens.get(clientId);
      if (cached) return cached;
      const assertion = await demoClientAssertion(clientId, `${publicUrl}/v1/token`);
      const res = await doFetch("/v1/token", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: tokenForm(clientId, assertion),
      });
      const body = await res.json();
      if (res.status !== 200) throw new Error(`Token for "${clientId}": ${JSON.stringify(body)}`);
      tokens.set(clientId, body.access_token);
      return body.access_token;
    },
    async close() {
      await lotse.shutdown();
      if (!options.dataDir) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** Headers with a bearer token. */
export function bearer(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${token}`, ...extra };
}

/**
 * A test with instances A and B on one fresh database, in process: one public URL for both, as
 * behind one balancer (neither needs a socket URL). Both are closed afterwards.
 */
export function testTwoInstances(
  name: string,
  fn: (a: TestLotse, b: TestLotse, t: Deno.TestContext) => Promise<void>,
): void {
  Deno.test({
    name,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async (t) => {
      const a = await startTestLotse({ serve: false });
      const b = await startTestLotse({ serve: false, databaseUrl: a.databaseUrl });
      try {
        await fn(a, b, t);
      } finally {
        await b.close();
        await a.close();
      }
    },
  });
}
