/**
 * Lotse as a child process (`deno run -A src/main.ts`), for tests that must kill it: SIGKILL
 * mid-transfer, SIGTERM under load, and a restart with the same environment, database and
 * data directory. The child serves the demo tables and demo providers (`LOTSE_DEMO=1`); it
 * binds port 0 and the port it got is read from its ready line (no port picked first and bound
 * later, which another process may take in between). Its stdout and stderr are collected.
 *
 * @example
 * ```ts
 * const lotse = await spawnLotse({ databaseUrl: await freshDatabaseUrl() });
 * const token = await lotse.token("stuttgart-bewohnerparken");
 * // … load …
 * await lotse.kill("SIGKILL");
 * await lotse.restart();
 * await lotse.close();
 * ```
 *
 * @module
 */
import { clientAssertion, tokenForm } from "./_app.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** The fixed secrets of a test child (one set for every start, so a restart reads its keys). */
export const CHILD_SECRETS = {
  LOTSE_KEY_SECRET: "durability-key-secret-of-32-characters-or-more",
  LOTSE_PROTOCOL_KEY: "durability-protocol-key-of-32-characters-or-more",
  LOTSE_ADMIN_TOKEN: "durability-admin-token-of-32-characters-or-more",
} as const;

/** Options for {@linkcode spawnLotse}. */
export interface LotseProcessOptions {
  /** The PostgreSQL database of the child; null: the embedded database in the data dir. */
  databaseUrl: string | null;
  /** Added to (and overriding) the child's Lotse variables. */
  env?: Record<string, string>;
  /** How long a start may take until `/readyz` answers 200; default 30 s. */
  readyTimeoutMs?: number;
  /** Most characters of output kept (the newest); default 1 MiB. */
  outputLimit?: number;
  /** The data directory; default a new temp dir (removed by `close()` either way). */
  dataDir?: string;
  /** `deno` arguments before `src/main.ts`; default `["run", "--allow-all"]`. */
  denoArgs?: readonly string[];
  /** All of `deno`'s arguments instead (e.g. `["task", "start"]`); overrides `denoArgs`. */
  args?: readonly string[];
  /** A command that runs deno, e.g. `["prlimit", "--nofile=256:256", "--"]`; default none. */
  wrapper?: readonly string[];
}

/** The public URL of a test child: the token audience, not its socket (see `url`). */
export const CHILD_PUBLIC_URL = "http://lotse.test";

/** The address in the ready line: `{"msg":"Lotse listening","url":"http://127.0.0.1:PORT",…}`. */
function listeningUrl(output: string): string | null {
  const line = output.split("\n").find((l) => l.includes("Lotse listening"));
  if (line === undefined) return null;
  return /"url":"(https?:\/\/[^"]+)"/.exec(line)?.[1] ??
    /listening on (https?:\/\/[^\s"(]+)/.exec(line)?.[1] ?? null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A Lotse child process that can be killed and started again on the same data. */
export class LotseProcess {
  #url = "";
  readonly dataDir: string;
  readonly spoolDir: string;
  readonly databaseUrl: string | null;
  /** The child's environment (Lotse's variables only). */
  readonly env: Readonly<Record<string, string>>;
  #child: Deno.ChildProcess | null = null;
  #exited: Promise<Deno.CommandStatus> | null = null;
  #pumps: Promise<void>[] = [];
  #output = "";
  /** The output of the current start until its address is known. */
  #startOutput = "";
  #outputLimit: number;
  #readyTimeoutMs: number;
  #args: readonly string[];
  #wrapper: readonly string[];
  #starts = 0;

  /** Use {@linkcode spawnLotse}. */
  constructor(dataDir: string, options: LotseProcessOptions) {
    this.dataDir = dataDir;
    this.spoolDir = `${dataDir}/spool`;
    this.databaseUrl = options.databaseUrl;
    this.#outputLimit = options.outputLimit ?? 1024 * 1024;
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    this.#args = options.args ?? [...(options.denoArgs ?? ["run", "--allow-all"]), "src/main.ts"];
    this.#wrapper = options.wrapper ?? [];
    this.env = Object.freeze({
      ...(options.databaseUrl === null ? {} : { DATABASE_URL: options.databaseUrl }),
      LOTSE_HOST: "127.0.0.1",
      LOTSE_PORT: "0",
      LOTSE_PUBLIC_URL: CHILD_PUBLIC_URL,
      LOTSE_DEMO: "1",
      LOTSE_DEMO_PROVIDER_PORT: "0",
      LOTSE_DATA_DIR: dataDir,
      LOTSE_SPOOL_DIR: this.spoolDir,
      // The embedded database makes its own secrets in the data directory, as for a newcomer.
      ...(options.databaseUrl === null ? {} : CHILD_SECRETS),
      ...options.env,
    });
  }

  /** `http://127.0.0.1:PORT` of the running child; a restart gets a new port. */
  get url(): string {
    return this.#url;
  }

  /** The process id of the running child; null when none runs. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** How often the child was started. */
  get starts(): number {
    return this.#starts;
  }

  /** Everything the child wrote to stdout and stderr so far, over all starts (the newest part). */
  get output(): string {
    return this.#output;
  }

  /** Starts the child and resolves once `/readyz` answers 200. */
  async start(): Promise<void> {
    if (this.#child !== null) throw new Error(`Cannot start Lotse: pid ${this.pid} still runs`);
    this.#starts++;
    this.#append(`--- start ${this.#starts} ---\n`);
    this.#url = "";
    this.#startOutput = "";
    const [program, ...args] = [...this.#wrapper, Deno.execPath(), ...this.#args];
    const child = new Deno.Command(program!, {
      args,
      cwd: ROOT,
      env: this.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    this.#exited = child.status;
    this.#pumps = [this.#pump(child.stdout), this.#pump(child.stderr)];
    const deadline = performance.now() + this.#readyTimeoutMs;
    let exited = false;
    this.#exited.then(() => exited = true);
    while (performance.now() < deadline) {
      if (exited) {
        const status = await this.#wait();
        throw new Error(
          `Lotse exited with code ${status.code} before it was ready:\n${this.#output}`,
        );
      }
      if (this.#url === "") {
        // Only a complete line: the address may still be arriving.
        const complete = this.#startOutput.slice(0, this.#startOutput.lastIndexOf("\n") + 1);
        this.#url = listeningUrl(complete) ?? "";
      }
      if (this.#url !== "") {
        try {
          const res = await fetch(`${this.#url}/readyz`, { signal: AbortSignal.timeout(5000) });
          await res.body?.cancel();
          if (res.status === 200) return;
        } catch { /* not answering yet */ }
      }
      await sleep(20);
    }
    await this.kill("SIGKILL");
    throw new Error(`Lotse was not ready within ${this.#readyTimeoutMs} ms:\n${this.#output}`);
  }

  /** Sends `signal` and resolves with the exit status once the child has ended. */
  async kill(signal: Deno.Signal): Promise<Deno.CommandStatus> {
    if (this.#child === null) throw new Error("Cannot kill Lotse: it does not run");
    try {
      this.#child.kill(signal);
    } catch { /* already gone; its status follows */ }
    return await this.#wait();
  }

  /** Resolves with the exit status once the child has ended on its own (or by a signal). */
  async #wait(): Promise<Deno.CommandStatus> {
    const status = await this.#exited!;
    await Promise.all(this.#pumps);
    this.#append(`--- exited: code ${status.code}, signal ${status.signal} ---\n`);
    this.#child = null;
    this.#exited = null;
    return status;
  }

  /** Starts the child again with the same environment, database and data directory. */
  async restart(): Promise<void> {
    if (this.#child !== null) await this.kill("SIGTERM");
    await this.start();
  }

  /** An access token for a demo client from the running child. */
  async token(clientId: string): Promise<string> {
    const assertion = await clientAssertion(clientId, `${this.env.LOTSE_PUBLIC_URL}/v1/token`);
    const res = await fetch(`${this.url}/v1/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: tokenForm(clientId, assertion),
    });
    const body = await res.json();
    if (res.status !== 200) throw new Error(`Token for "${clientId}": ${JSON.stringify(body)}`);
    return body.access_token;
  }

  /** Kills the child if it runs and removes the data directory. */
  async close(): Promise<void> {
    if (this.#child !== null) await this.kill("SIGKILL");
    await Deno.remove(this.dataDir, { recursive: true }).catch(() => {});
  }

  async #pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of stream) this.#append(decoder.decode(chunk, { stream: true }));
    } catch { /* the pipe broke with the process */ }
  }

  #append(text: string): void {
    if (this.#url === "" && this.#startOutput.length < 1024 * 1024) this.#startOutput += text;
    this.#output += text;
    if (this.#output.length > this.#outputLimit) {
      this.#output = this.#output.slice(-this.#outputLimit);
    }
  }
}

/**
 * A whole demo transfer from the running child: vehicle registration data for Stuttgart, as the
 * demo client `stuttgart-bewohnerparken` (the body names "S-LO 1234").
 */
export async function demoTransfer(lotse: LotseProcess): Promise<Response> {
  const token = await lotse.token("stuttgart-bewohnerparken");
  return await fetch(`${lotse.url}/v1/evidence/fahrzeugzulassung?ags=08111000`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "lotse-purpose": DEMO_PURPOSES.bewohnerparken.purpose,
      "lotse-legal-basis": DEMO_PURPOSES.bewohnerparken.legalBasis,
      "lotse-idnr": "86095742719",
      "content-type": "application/json",
    },
    body: '{"kennzeichen":"S-LO 1234"}',
  });
}

/** Spawns Lotse with a fresh temporary data directory and waits until it is ready. */
export async function spawnLotse(options: LotseProcessOptions): Promise<LotseProcess> {
  const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "lotse-proc-" });
  // As root, the embedded PostgreSQL runs as an unprivileged user, who must reach its data
  // (a temp dir is 0700).
  if (options.databaseUrl === null && !options.dataDir) await Deno.chmod(dataDir, 0o755);
  const lotse = new LotseProcess(dataDir, options);
  try {
    await lotse.start();
  } catch (error) {
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    throw error;
  }
  return lotse;
}

/** Runs `tools/protocol_verify.ts` against `databaseUrl`: its exit code and its output. */
export async function runVerifyTool(
  databaseUrl: string,
): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "tools/protocol_verify.ts"],
    cwd: ROOT,
    env: { DATABASE_URL: databaseUrl },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: out.code, output: text.decode(out.stdout) + text.decode(out.stderr) };
}
