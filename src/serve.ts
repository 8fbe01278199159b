/**
 * The HTTP listener with connection hygiene. `Deno.serve` has no header-read or keep-alive
 * timeout, no connection cap and no per-connection hook, and when `accept` runs out of file
 * descriptors its server ends with an unhandled `Too many open files` that stops the process.
 * This module keeps `Deno.serve` (and its speed: the fast path pays nothing) and adds what it
 * lacks from the outside.
 *
 * Timeouts, every `checkMs` (src/_idle_sockets.ts: the kernel's view of each accepted socket):
 *
 * - A connection that has not been answered once (nothing acknowledged) and has sent no
 *   complete request for `headerTimeoutMs` since it was accepted is shut down: it sent
 *   nothing, half a header, or a header trickling in (slowloris).
 * - A connection that was answered and has had nothing sent on it for `idleTimeoutMs` is shut
 *   down: idle between requests, trickling its next header, or not reading what it was sent.
 *   One that has received bytes since its last answer (its next request is arriving, and its
 *   handler may not have run yet) gets `headerTimeoutMs` more.
 * - Never a connection with a request still running: a request answered asynchronously (every
 *   route but the navigation fast path, whose answer is written at once) counts as running
 *   from its start until its response has been written to the end (`info.completed`), however
 *   long a transfer takes; its own deadlines (body, provider, consumer) bound it.
 * - Running requests are keyed by the client's port only (cheap, no per-request allocation):
 *   two clients with the same port on different addresses protect each other, never the
 *   other way round.
 * - Linux only, with FFI allowed (`--allow-ffi`, in the start tasks and the container); where
 *   it cannot run, Lotse says so at start and the shedding below (by rotation) is the only
 *   bound.
 *
 * Shedding past a soft limit:
 *
 * - Every `checkMs` it counts the process's open descriptors (Linux `/proc/self/fd`). When
 *   more than `softLimit` are open beyond those at start and those held by running
 *   transfers (`heldDescriptors`), it shuts down, through the kernel, as many connections as
 *   are over the limit, those idle longest first, and only those idle for at least
 *   `shedIdleMs` (1 s) with no request running: silent since accepted (nothing sent, half a
 *   header, a slowloris), or answered and silent both ways since. So idle and half-open
 *   connections are bounded by `softLimit` plus what arrives within `shedIdleMs` and one
 *   `checkMs`.
 * - A keep-alive client between two requests is never shed. Until session 7 a new server
 *   took over past the limit and the old one shut down gracefully, which closed every idle
 *   connection at once: a client that sent its next request in that instant lost it
 *   (`connection closed before message completed`; `fetch` retries no request on a connection
 *   that was open when it sent it), and a connection queued on the closing listener was reset.
 *   That rotation is now the fallback where the kernel's view is missing (not Linux, no FFI).
 * - A server that ends with an error (EMFILE on accept) is replaced at once (a new server on
 *   the same port, `SO_REUSEPORT`) and its idle and half-open connections are closed:
 *   shedding instead of death.
 * - An old generation that still has requests running after `lingerMs` is aborted.
 *
 * One count of requests serves all of this and the instance's quiet spells
 * ({@linkcode RequestActivity}: every request begins; one answered asynchronously runs until its
 * response is written to the end): two integer updates per request, and one reaction to
 * `info.completed` per asynchronous one.
 *
 * Why the timeouts and the shedding ask the kernel instead of rotating servers: a rotation
 * costs normal clients (`loadtest/rotation_probe.ts`: 4-10 % of fresh connections failed at a
 * 20 ms rotation; `loadtest/shed_probe.ts`: about one keep-alive request in 200).
 *
 * @example
 * ```ts
 * const server = await serveGuarded((_req) => new Response("ok"), {
 *   hostname: "127.0.0.1", port: 0, checkMs: 5_000, softLimit: 1024,
 *   headerTimeoutMs: 10_000, idleTimeoutMs: 30_000, logger: createLogger(),
 * });
 * console.log(server.addr.port);
 * await server.shutdown();
 * ```
 *
 * @module
 */
import type { Logger } from "./log.ts";
import { type AcceptedSocket, type IdleSockets, openIdleSockets } from "./_idle_sockets.ts";

/** Where libc is looked for (the container allows FFI for these paths only). */
export { LIBC_PATHS } from "./_idle_sockets.ts";

/** Options for {@linkcode serveGuarded}. */
export interface GuardedServeOptions {
  readonly hostname: string;
  /** `0` picks a free port; later generations bind the same one. */
  readonly port: number;
  /** PEM certificate and key: HTTPS. */
  readonly tls?: { readonly cert: string; readonly key: string } | null;
  /** How often open connections are counted. */
  readonly checkMs: number;
  /** Open sockets beyond those at start above which idle and half-open ones are shed. */
  readonly softLimit: number;
  /**
   * Descriptors held for work in progress (e.g. 3 per running transfer: the consumer's and
   * the provider's sockets, and a provider served in-process); not counted as idle.
   */
  readonly heldDescriptors?: () => number;
  /**
   * Counts open descriptors; default `/proc/self/fd` listed through libc (Deno lets only
   * `--allow-all` read it), else read directly (null where it cannot be read).
   */
  readonly openDescriptors?: () => number | null;
  /** An old generation's requests are cut after this long (default 15 min). */
  readonly lingerMs?: number;
  /** A connection not answered once is shut down after this long without a request; 0: off. */
  readonly headerTimeoutMs?: number;
  /** An answered connection is shut down after this long with nothing sent; 0: off. */
  readonly idleTimeoutMs?: number;
  /**
   * Past the soft limit, only connections idle at least this long are shed, longest idle first
   * (default 1 s): a keep-alive client between two requests is idle for milliseconds, and a
   * connection closed under its next request fails that request.
   */
  readonly shedIdleMs?: number;
  /** Told of every connection shut down by a timeout. */
  readonly onTimeout?: (kind: "header" | "idle") => void;
  /** Told how many connections a check shed past the soft limit (when it shed any). */
  readonly onShed?: (connections: number) => void;
  /** The kernel's view of the sockets (default: libc through FFI; null: no timeouts). */
  readonly sockets?: IdleSockets | null;
  /** Where replacements after errors are reported (never to a client). */
  readonly logger: Pick<Logger, "warn">;
}

/**
 * Whether an instance is serving: how many requests began and whether one still runs. Work that
 * stops every request for a moment (the memory-reducing collection after a whole-table swap,
 * src/store.ts) waits for a quiet spell instead of stalling the requests of a busy instance.
 */
export interface RequestActivity {
  /** Requests begun since the start. */
  readonly begun: number;
  /**
   * Whether no request began since `mark` (an earlier {@linkcode RequestActivity.begun}) and
   * none runs.
   */
  quietSince(mark: number): boolean;
}

/** A running guarded server. */
export interface GuardedServer extends RequestActivity {
  readonly addr: Deno.NetAddr;
  /**
   * Requests answered asynchronously whose response has not been written to the end yet (a
   * streamed body included); a synchronous answer counts in `begun` only.
   */
  readonly running: number;
  /** Servers started so far (the first, rotations and replacements after errors). */
  readonly generations: number;
  /** Servers that ended with an error (e.g. out of file descriptors) and were replaced. */
  readonly failures: number;
  /** Open descriptors at the last check (null where they cannot be counted). */
  readonly openDescriptors: number | null;
  /** Whether the header and idle timeouts run (false: not Linux or no FFI). */
  readonly timeouts: boolean;
  /** Connections shut down by the header timeout so far. */
  readonly headerTimeouts: number;
  /** Connections shut down by the idle timeout so far. */
  readonly idleTimeouts: number;
  /** Connections shed past the soft limit so far (through the kernel's view; not rotations). */
  readonly shed: number;
  /** Stops accepting, lets running requests finish, closes every connection. */
  shutdown(): Promise<void>;
}

interface Generation {
  readonly server: Deno.HttpServer<Deno.NetAddr>;
  readonly abort: AbortController;
  draining: boolean;
  finished: boolean;
}

/**
 * Serves `handler` like `Deno.serve`, with idle and header timeouts and survival of
 * file-descriptor exhaustion (see the module doc).
 *
 * @throws when the port cannot be bound at start (e.g. already in use)
 */
export async function serveGuarded(
  handler: Deno.ServeHandler<Deno.NetAddr>,
  options: GuardedServeOptions,
): Promise<GuardedServer> {
  const { logger } = options;
  const lingerMs = options.lingerMs ?? 15 * 60_000;
  // SO_REUSEPORT would let a second process share a busy port silently: bind once without
  // it first, so a port in use still fails the start as before.
  const probe = Deno.listen({ hostname: options.hostname, port: options.port });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();

  const headerTimeoutMs = options.headerTimeoutMs ?? 0;
  const idleTimeoutMs = options.idleTimeoutMs ?? 0;
  const sockets = options.sockets === undefined ? openIdleSockets() : options.sockets;
  const timeouts = sockets !== null && (headerTimeoutMs > 0 || idleTimeoutMs > 0);
  const shedIdleMs = options.shedIdleMs ?? 1_000;
  // The one count of requests: every request begins; an asynchronous answer runs from its start
  // until its response is written to the end, counted in all and per client port (for the
  // timeouts and the shedding). The fast path answers synchronously: it only begins.
  let begun = 0;
  let runningAll = 0;
  const runningByPort = new Int32Array(65536);
  const served: Deno.ServeHandler<Deno.NetAddr> = (request, info) => {
    begun++;
    const answer = handler(request, info);
    if (answer instanceof Promise) {
      const client = info.remoteAddr.port;
      runningAll++;
      runningByPort[client]!++;
      const end = () => {
        runningAll--;
        if (runningByPort[client]! > 0) runningByPort[client]!--;
      };
      info.completed.then(end, end);
    }
    return answer;
  };
  let headerTimeouts = 0;
  let idleTimeouts = 0;
  let shedCount = 0;

  const live = new Set<Generation>();
  let current: Generation | null = null;
  let stopped = false;
  let generations = 0;
  let failures = 0;
  let retryMs = 50;

  function start(onListen?: (addr: Deno.NetAddr) => void): Generation {
    const abort = new AbortController();
    const server = Deno.serve({
      hostname: options.hostname,
      port,
      reusePort: true,
      signal: abort.signal,
      ...(options.tls ?? {}),
      onListen: onListen ?? (() => {}),
    }, served);
    const generation: Generation = { server, abort, draining: false, finished: false };
    generations++;
    live.add(generation);
    server.finished.then(() => {
      generation.finished = true;
      live.delete(generation);
    }, (error) => {
      generation.finished = true;
      live.delete(generation);
      failures++;
      // The dead server's accept loop is gone but its connections are not: a graceful
      // shutdown closes the idle and half-open ones and frees their descriptors.
      server.shutdown().catch(() => {});
      if (current === generation && !stopped) {
        current = null;
        logger.warn("HTTP server ended; replacing it", { error: describe(error), retryMs });
        setTimeout(replace, retryMs);
        retryMs = Math.min(retryMs * 2, 1000);
      }
    });
    return generation;
  }

  function replace(): void {
    if (stopped) return;
    try {
      current = start();
      retryMs = 50;
    } catch (error) {
      logger.warn("Cannot listen again; retrying", { error: describe(error), retryMs });
      setTimeout(replace, retryMs);
      retryMs = Math.min(retryMs * 2, 1000);
    }
  }

  function drain(generation: Generation): void {
    generation.draining = true;
    generation.server.shutdown().catch(() => {});
    const timer = setTimeout(() => {
      if (!generation.finished) generation.abort.abort();
    }, lingerMs);
    Deno.unrefTimer(timer);
  }

  const { promise, resolve } = Promise.withResolvers<Deno.NetAddr>();
  current = start(resolve);
  const addr = await promise;

  const count = options.openDescriptors ??
    (sockets === null ? procFdCount : () => sockets.count());
  const baseline = count() ?? 0;
  let lastCount: number | null = baseline;
  // Past the soft limit, connections idle for at least `shedIdleMs` are shut down through the
  // kernel, longest idle first, as many as bring the count back under the limit: never one in
  // the middle of a conversation, never the listener. Without the kernel's view, a new server
  // takes over and the old one sheds all its idle connections.
  const shed = async (open: number | null): Promise<void> => {
    if (stopped || current === null || open === null) return;
    const held = options.heldDescriptors?.() ?? 0;
    const excess = open - baseline - held - options.softLimit;
    if (excess <= 0) return;
    if (sockets !== null) {
      const cut = await sockets.shed(port, excess, idleFor);
      shedCount += cut;
      if (cut > 0) options.onShed?.(cut);
      return;
    }
    const old = current;
    try {
      current = start();
    } catch (error) {
      // Out of descriptors for a new listener: keep the old one and shed its idle ones
      // at the next turn.
      logger.warn("Cannot start the next HTTP server", { error: describe(error) });
      return;
    }
    drain(old);
  };
  /** How long a connection has been idle, or null when it is in use or was idle too briefly. */
  const idleFor = (socket: AcceptedSocket): number | null => {
    if (runningByPort[socket.peerPort]! > 0) return null;
    // Answered: idle since the last byte either way (bytes received after the answer are the
    // next request arriving). Never answered: silent since it was accepted, whatever it sent.
    const idle = socket.answered ? Math.min(socket.silentMs, socket.quietMs) : socket.silentMs;
    return idle >= shedIdleMs ? idle : null;
  };
  /** Whether a connection is past its header or idle timeout. */
  const overdue = (socket: AcceptedSocket): boolean => {
    if (runningByPort[socket.peerPort]! > 0) return false;
    const limit = socket.answered ? idleTimeoutMs : headerTimeoutMs;
    if (limit <= 0 || socket.silentMs <= limit) return false;
    // Bytes came in after the last answer: the next request is arriving (its handler may
    // not have run yet). It gets the header timeout to complete before the idle cut.
    if (
      socket.answered && socket.quietMs < socket.silentMs &&
      socket.silentMs <= limit + headerTimeoutMs
    ) return false;
    if (socket.answered) idleTimeouts++;
    else headerTimeouts++;
    options.onTimeout?.(socket.answered ? "idle" : "header");
    return true;
  };
  // One check at a time: shuts down connections past their header or idle timeout (the scan
  // lists the descriptors anyway, so its count feeds the shedding), then sheds past the limit.
  const check = async (): Promise<void> => {
    let open: number | null;
    if (timeouts) {
      try {
        const seen = await sockets!.scan(port, overdue);
        lastCount = options.openDescriptors ? count() : seen.descriptors;
        // Those just cut are still open until the runtime sees their end.
        open = lastCount === null ? null : lastCount - seen.cut;
      } catch (error) {
        logger.warn("Connection scan failed", { error: describe(error) });
        open = lastCount = count();
      }
    } else open = lastCount = count();
    await shed(open);
  };
  let checking = false;
  const rotation = setInterval(() => {
    if (stopped || current === null || checking) return;
    checking = true;
    check().catch((error) => logger.warn("Connection check failed", { error: describe(error) }))
      .finally(() => checking = false);
  }, options.checkMs);

  return {
    addr,
    get begun() {
      return begun;
    },
    get running() {
      return runningAll;
    },
    quietSince: (mark) => begun === mark && runningAll === 0,
    get generations() {
      return generations;
    },
    get failures() {
      return failures;
    },
    get openDescriptors() {
      return lastCount;
    },
    get timeouts() {
      return timeouts;
    },
    get headerTimeouts() {
      return headerTimeouts;
    },
    get idleTimeouts() {
      return idleTimeouts;
    },
    get shed() {
      return shedCount;
    },
    async shutdown() {
      stopped = true;
      clearInterval(rotation);
      await Promise.all([...live].map((g) => g.server.shutdown().catch(() => {})));
    },
  };
}

function procFdCount(): number | null {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    return n;
  } catch {
    return null;
  }
}

function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!.slice(0, 200);
}
