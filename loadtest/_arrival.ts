/**
 * A held arrival rate, as k6's `constant-arrival-rate` executor holds it (loadtest/k6/): request
 * `i` is due at `start + i / rate`, whether or not earlier ones have been answered (an open
 * model). Run as its own process (pinned to the load core by run.ts), it prints one line
 * `ARRIVAL_JSON {...}`.
 *
 * Why not autocannon's `overallRate`: autocannon gives each connection a quota per second and
 * sends back to back, each request as soon as the one before is answered, until the quota is
 * used; a one-second interval then resets it. At half the server's maximum that is the maximum
 * for about half of every second and nothing for the other half, so its latencies are those of
 * a saturated server. Here requests go out one by one at their due time.
 *
 * Each due request takes a free keep-alive connection (HTTP/1.1, one request at a time on it);
 * when none is free a new one is opened, up to `maxConnections` (k6's `maxVUs`); past that the
 * request is counted as dropped (k6's `dropped_iterations`: the rate was not held). Latency is
 * counted from the due time (so a late send counts against the server, as wrk2 counts it), and
 * separately from the send. Between due times the generator sleeps: a worker
 * (loadtest/_arrival_waker.ts) wakes it `spinMs` before each due time, and only that last stretch
 * is spun (`setImmediate`) so the request goes out on time. Deno's own timers fire 1–3 ms late,
 * too late for requests 1.4 ms apart; and a generator that spun all the time (as this one did
 * until session 9) took its whole core even at 700/s, from the provider and PostgreSQL sharing
 * it. When requests are due less than `2 × spinMs` apart it spins throughout, like wrk.
 *
 * `deno run -A loadtest/_arrival.ts <file holding an ArrivalJob as JSON>`
 *
 * @module
 */
import process from "node:process";
import { setImmediate } from "node:timers";
import type { AutocannonJob } from "./_autocannon.ts";
import { percentile, Samples } from "./_samples.ts";

/**
 * What to run (the only argument names a JSON file holding it): autocannon's job, `rate` held;
 * `connections` are opened before the start (k6's `preAllocatedVUs`).
 */
export interface ArrivalJob extends AutocannonJob {
  /** Requests due per second (k6's `rate`). */
  rate: number;
  /** Most connections (k6's `maxVUs`); default 10 × `connections`. */
  maxConnections?: number;
  /**
   * Seconds at the same rate before `durationS`, not counted (default 0): the generator's own
   * code is compiled, and the connections a start needs are opened, before the measurement.
   */
  warmupS?: number;
  /**
   * How long before each due time the generator wakes and spins, in ms (default 0.3: a waking
   * worker is ~0.1–0.2 ms late at p50); requests due closer together than twice this are sent
   * by spinning throughout.
   */
  spinMs?: number;
}

/** What a held-rate run measured, by either generator (this one or loadtest/_h2load.ts). */
export interface HeldRun {
  /** Requests due in the measured `durationS` (the warm-up's not counted anywhere but `errors`). */
  scheduled: number;
  requests: number;
  durationS: number;
  achievedRps: number;
  non2xx: number;
  errors: number;
  /** Here from each request's due time, in h2load from its send, to its answer's last byte. */
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
}

/** What one run measured. */
export interface ArrivalResult extends HeldRun {
  dropped: number;
  connectionsUsed: number;
  /** From each request's send to its answer's last byte. */
  serviceMs: { p50: number; p99: number; p999: number; max: number };
  /** How late the generator sent (send − due). */
  sendLagMs: { p50: number; p99: number; max: number };
  /**
   * The generator's CPU time over the wall time while it sent (the warm-up included; every
   * thread of its process): 1 is a whole core.
   */
  cpuShare: number;
  /** Whether it slept between due times (a waker) rather than spinning throughout. */
  slept: boolean;
}

/** The waker of loadtest/_arrival_waker.ts, started, once it is ready. */
async function startWaker(): Promise<Worker> {
  const worker = new Worker(new URL("./_arrival_waker.ts", import.meta.url).href, {
    type: "module",
  });
  await new Promise<void>((resolve, reject) => {
    worker.onmessage = () => resolve();
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`The arrival waker failed: ${event.message}`));
    };
  });
  return worker;
}

/** Bytes of one HTTP/1.1 request per path, built once. */
export function requestBytes(job: ArrivalJob, host: string): Uint8Array[] {
  const encoder = new TextEncoder();
  const body = job.body === undefined ? undefined : encoder.encode(job.body);
  const fields: Record<string, string> = {
    host,
    ...(job.token ? { authorization: `Bearer ${job.token}` } : {}),
    ...(body ? { "content-type": "application/json", "content-length": String(body.length) } : {}),
    ...job.headers,
  };
  const head = Object.entries(fields).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return job.paths.map((path) => {
    const start = encoder.encode(`${job.method ?? "GET"} ${path} HTTP/1.1\r\n${head}\r\n`);
    if (!body) return start;
    const out = new Uint8Array(start.length + body.length);
    out.set(start);
    out.set(body, start.length);
    return out;
  });
}

const CONTENT_LENGTH = bytesOf("content-length:");
const TRANSFER_ENCODING = bytesOf("transfer-encoding:");
const CHUNKED = bytesOf("chunked");

function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Whether `buf` holds `lower` at `at`, letters compared without case. */
function startsWithLower(buf: Uint8Array, at: number, end: number, lower: Uint8Array): boolean {
  if (at + lower.length > end) return false;
  for (let i = 0; i < lower.length; i++) {
    const b = buf[at + i]!;
    if ((b >= 65 && b <= 90 ? b | 32 : b) !== lower[i]) return false;
  }
  return true;
}

/** The decimal number after optional spaces at `at`, or -1. */
function decimalAt(buf: Uint8Array, at: number, end: number): number {
  while (at < end && buf[at] === 32) at++;
  let n = -1;
  for (; at < end && buf[at]! >= 48 && buf[at]! <= 57; at++) {
    n = (n < 0 ? 0 : n * 10) + buf[at]! - 48;
  }
  return n;
}

/**
 * Where the answer at the start of `buf[0, len)` ends, or -1 while it is incomplete; its status
 * in `status[0]`. Knows `Content-Length` and `Transfer-Encoding: chunked` (evidence is streamed).
 * Reads the bytes where they are: the generator must not make garbage of its own per answer
 * (its collections would delay the answers it times).
 */
export function answerEnd(buf: Uint8Array, len: number, status: Int32Array): number {
  let headEnd = -1;
  for (let i = 0; i + 3 < len; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) {
      headEnd = i + 4;
      break;
    }
  }
  if (headEnd < 0) return -1;
  status[0] = (buf[9]! - 48) * 100 + (buf[10]! - 48) * 10 + (buf[11]! - 48);
  let length = -1, chunked = false;
  for (let i = 0; i < headEnd - 2; i++) {
    if (buf[i] !== 10) continue; // each field starts after a line feed
    if (startsWithLower(buf, i + 1, headEnd, CONTENT_LENGTH)) {
      length = decimalAt(buf, i + 1 + CONTENT_LENGTH.length, headEnd);
    } else if (startsWithLower(buf, i + 1, headEnd, TRANSFER_ENCODING)) {
      for (let j = i + 1 + TRANSFER_ENCODING.length; j < headEnd && buf[j] !== 13; j++) {
        if (startsWithLower(buf, j, headEnd, CHUNKED)) chunked = true;
      }
    }
  }
  if (length >= 0) {
    const end = headEnd + length;
    return end <= len ? end : -1;
  }
  if (!chunked) return headEnd; // no body (204, 304)
  let at = headEnd;
  for (;;) {
    let size = 0, digits = 0, i = at;
    for (; i < len; i++) {
      const b = buf[i]!;
      const d = b >= 48 && b <= 57
        ? b - 48
        : (b | 32) >= 97 && (b | 32) <= 102
        ? (b | 32) - 87
        : -1;
      if (d < 0) break;
      size = size * 16 + d;
      digits++;
    }
    if (i + 1 >= len) return -1; // the size line is not whole yet
    if (digits === 0 || buf[i] !== 13 || buf[i + 1] !== 10) throw new Error("bad chunk size");
    if (size === 0) {
      // No trailers from the servers measured here: the last chunk ends with an empty line.
      return i + 4 <= len ? i + 4 : -1;
    }
    at = i + 2 + size + 2;
    if (at > len) return -1;
  }
}

/** One keep-alive connection carrying one request at a time. */
class Connection {
  busy = true;
  #conn: Deno.TcpConn | null = null;
  #buf = new Uint8Array(1 << 16);
  #len = 0;
  #due = 0;
  #sent = 0;
  #status = new Int32Array(1);
  #pending: Uint8Array | null = null;

  constructor(
    readonly hostname: string,
    readonly port: number,
    readonly done: (c: Connection, due: number, sent: number, status: number) => void,
    readonly failed: (c: Connection, due: number | null, error: unknown) => void,
  ) {}

  async open(): Promise<void> {
    this.#conn = await Deno.connect({ hostname: this.hostname, port: this.port });
    this.#conn.setNoDelay(true);
    this.busy = false;
    this.#readLoop();
    if (this.#pending) {
      const bytes = this.#pending;
      this.#pending = null;
      this.busy = true;
      this.#write(bytes);
    }
  }

  /** Sends `bytes`, due at `due`; a connection still opening sends once it is open. */
  send(bytes: Uint8Array, due: number): void {
    this.busy = true;
    this.#due = due;
    if (!this.#conn) {
      this.#pending = bytes;
      return;
    }
    this.#write(bytes);
  }

  #write(bytes: Uint8Array): void {
    this.#sent = performance.now();
    const conn = this.#conn!;
    const rest = (written: number): Promise<void> | void => {
      if (written < bytes.length) {
        return conn.write(bytes.subarray(written)).then((n) => rest(written + n));
      }
    };
    conn.write(bytes).then(rest).catch((error) => this.failed(this, this.#due, error));
  }

  async #readLoop(): Promise<void> {
    const conn = this.#conn!;
    try {
      for (;;) {
        if (this.#len === this.#buf.length) {
          const grown = new Uint8Array(this.#buf.length * 2);
          grown.set(this.#buf);
          this.#buf = grown;
        }
        const n = await conn.read(this.#buf.subarray(this.#len));
        if (n === null) throw new Error("connection closed by the server");
        this.#len += n;
        const end = answerEnd(this.#buf, this.#len, this.#status);
        if (end < 0) continue;
        this.#buf.copyWithin(0, end, this.#len);
        this.#len -= end;
        this.busy = false;
        this.done(this, this.#due, this.#sent, this.#status[0]!);
      }
    } catch (error) {
      if (this.closed) return;
      this.failed(this, this.busy ? this.#due : null, error);
    }
  }

  closed = false;
  close(): void {
    this.closed = true;
    try {
      this.#conn?.close();
    } catch { /* already closed */ }
  }
}

/** Runs `job` and measures it; `onDrop` is told of every dropped request. */
export async function runArrival(
  job: ArrivalJob,
  onDrop: () => void = () => {},
): Promise<ArrivalResult> {
  const url = new URL(job.url);
  const hostname = url.hostname;
  const port = Number(url.port || 80);
  const requests = requestBytes(job, url.host);
  const maxConnections = job.maxConnections ?? job.connections * 10;
  const interval = 1000 / job.rate;
  const warm = Math.round(job.rate * (job.warmupS ?? 0));
  const total = warm + Math.round(job.rate * job.durationS);
  const latency = new Samples();
  const service = new Samples();
  const lag = new Samples();
  let completed = 0, non2xx = 0, errors = 0, dropped = 0, inFlight = 0;
  const idle: Connection[] = [];
  const all: Connection[] = [];
  const { promise: drained, resolve: drain } = Promise.withResolvers<void>();
  let scheduling = true;

  const settle = () => {
    inFlight--;
    if (!scheduling && inFlight === 0) drain();
  };
  let measureFrom = Infinity; // the due time of the first measured request
  const done = (c: Connection, due: number, sent: number, status: number) => {
    if (due >= measureFrom) {
      const now = performance.now();
      latency.push(now - due);
      service.push(now - sent);
      lag.push(sent - due);
      completed++;
      if (status < 200 || status > 299) non2xx++;
    }
    idle.push(c);
    settle();
  };
  const failed = (c: Connection, due: number | null, error: unknown) => {
    if (c.closed) return; // a write and a read of the same request may both fail
    errors++;
    if (errors <= 3) console.error(`request failed: ${error}`);
    c.close();
    all.splice(all.indexOf(c), 1);
    const at = idle.indexOf(c);
    if (at >= 0) idle.splice(at, 1);
    if (due !== null) settle();
  };
  const connect = () => {
    const c = new Connection(hostname, port, done, failed);
    all.push(c);
    return c;
  };

  await Promise.all(Array.from({ length: job.connections }, () => connect().open()));
  idle.push(...all);

  const lead = job.spinMs ?? 0.3;
  const waker = interval > 2 * lead ? await startWaker() : null;
  const stopWaker = new Int32Array(new SharedArrayBuffer(4));
  const cpuBefore = process.cpuUsage();
  const start = performance.now() + 5;
  measureFrom = start + warm * interval;
  let next = 0;
  let spinning = false;
  await new Promise<void>((resolve) => {
    const tick = () => {
      spinning = false;
      if (next >= total) return resolve(); // a wake after the last request
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / interval) + 1);
      for (; next < due; next++) {
        const dueAt = start + next * interval;
        let c = idle.pop();
        if (!c) {
          if (all.length >= maxConnections) {
            if (next >= warm) dropped++;
            onDrop();
            continue;
          }
          c = connect();
          c.open().catch((error) => failed(c!, dueAt, error));
        }
        inFlight++;
        c.send(requests[next % requests.length]!, dueAt);
      }
      if (next >= total) return resolve();
      // The waker calls again `lead` before the next due time; a wake that comes while spinning
      // is for a request the spin reaches anyway.
      if (waker && start + next * interval - performance.now() > lead) return;
      spinning = true;
      setImmediate(tick);
    };
    if (waker) {
      waker.onmessage = () => {
        if (!spinning) tick();
      };
      waker.postMessage({
        startMs: performance.timeOrigin + start,
        intervalMs: interval,
        leadMs: lead,
        total,
        stop: stopWaker.buffer,
      });
    }
    tick();
  });
  const end = performance.now();
  const cpu = process.cpuUsage(cpuBefore);
  const cpuShare = (cpu.user + cpu.system) / 1000 / (end - start);
  if (waker) {
    Atomics.store(stopWaker, 0, 1);
    Atomics.notify(stopWaker, 0);
    waker.terminate();
  }
  const durationS = (end - measureFrom) / 1000;
  scheduling = false;
  if (inFlight === 0) drain();
  const deadline = setTimeout(drain, 10_000);
  await drained;
  clearTimeout(deadline);
  for (const c of all) c.close();

  const l = latency.sorted(), s = service.sorted(), g = lag.sorted();
  return {
    scheduled: total - warm,
    requests: completed,
    durationS,
    achievedRps: completed / durationS,
    non2xx,
    errors,
    dropped,
    connectionsUsed: all.length,
    latencyMs: {
      p50: percentile(l, 50),
      p90: percentile(l, 90),
      p99: percentile(l, 99),
      p999: percentile(l, 99.9),
      max: l[l.length - 1] ?? NaN,
    },
    serviceMs: {
      p50: percentile(s, 50),
      p99: percentile(s, 99),
      p999: percentile(s, 99.9),
      max: s[s.length - 1] ?? NaN,
    },
    sendLagMs: { p50: percentile(g, 50), p99: percentile(g, 99), max: g[g.length - 1] ?? NaN },
    cpuShare,
    slept: waker !== null,
  };
}

if (import.meta.main) {
  const job = JSON.parse(await Deno.readTextFile(Deno.args[0]!)) as ArrivalJob;
  console.log(`ARRIVAL_JSON ${JSON.stringify(await runArrival(job))}`);
}
