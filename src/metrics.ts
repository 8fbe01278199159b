/**
 * Prometheus metrics, kept in plain arrays so that recording a request costs a few
 * additions: request counts and latency histograms per route and status class, transfer
 * bytes, and gauges read at scrape time (protocol queue depth, tables version).
 *
 * @example
 * ```ts
 * const metrics = new Metrics();
 * metrics.observe("GET /v1/navigation", 200, 0.4);
 * console.log(metrics.render());
 * ```
 *
 * @module
 */
import process from "node:process";

/**
 * Upper bounds of the latency buckets, in seconds: finer below 5 ms, where the targets lie (P2
 * p99 2 ms and p99.9 5 ms, P6 p99 2 ms), so a quantile read off them lands within ~0.5 ms.
 */
const BUCKETS = [
  0.00025,
  0.0005,
  0.001,
  0.0015,
  0.002,
  0.0025,
  0.003,
  0.004,
  0.005,
  0.0075,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** The stages of a protocol entry's way to durable; see {@linkcode Metrics.observeProtocolStage}. */
export type ProtocolStage = "queued" | "database" | "resumed";

/** Most distinct route labels kept. */
export const MAX_ROUTE_SERIES = 500;

class RouteSeries {
  readonly counts = new Map<number, number>();
  readonly buckets = new Float64Array(BUCKETS.length + 1);
  sum = 0;
  total = 0;

  add(seconds: number): void {
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    this.buckets[i]!++;
    this.sum += seconds;
    this.total++;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

const STARTED_SECONDS = (Date.now() - performance.now()) / 1000;

/** The usual `process_*` families (memory, CPU, start time, open files) where readable. */
function processMetrics(out: string[], descriptors: (() => number | null) | null): void {
  const family = (name: string, type: string, help: string, value: number) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
  };
  const memory = Deno.memoryUsage();
  family("process_resident_memory_bytes", "gauge", "Resident memory size.", memory.rss);
  family("process_heap_used_bytes", "gauge", "JavaScript heap in use.", memory.heapUsed);
  family("process_heap_total_bytes", "gauge", "JavaScript heap reserved.", memory.heapTotal);
  family("process_external_memory_bytes", "gauge", "Memory outside the heap.", memory.external);
  const cpu = process.cpuUsage();
  family(
    "process_cpu_seconds_total",
    "counter",
    "User and system CPU time spent.",
    (cpu.user + cpu.system) / 1e6,
  );
  family("process_start_time_seconds", "gauge", "Start time since the epoch.", STARTED_SECONDS);
  // The listener's count where it has one (Deno reads /proc/self/fd only with --allow-all,
  // and a failed read per scrape costs an exception), else the directory itself.
  let fds = descriptors?.() ?? null;
  if (fds === null) {
    try {
      fds = 0;
      for (const _ of Deno.readDirSync("/proc/self/fd")) fds++;
    } catch {
      fds = null; // not Linux, or not allowed to read /proc: left out
    }
  }
  if (fds !== null) family("process_open_fds", "gauge", "Open file descriptors.", fds);
}

/** The bucket, sum and count lines of one histogram series; `labels` may be empty. */
function histogram(out: string[], name: string, labels: string, series: RouteSeries): void {
  const prefix = labels === "" ? "" : `${labels},`;
  let cumulative = 0;
  for (let i = 0; i < BUCKETS.length; i++) {
    cumulative += series.buckets[i]!;
    out.push(`${name}_bucket{${prefix}le="${BUCKETS[i]}"} ${cumulative}`);
  }
  out.push(`${name}_bucket{${prefix}le="+Inf"} ${series.total}`);
  const own = labels === "" ? "" : `{${labels}}`;
  out.push(`${name}_sum${own} ${series.sum}`);
  out.push(`${name}_count${own} ${series.total}`);
}

/** Request and transfer metrics of one process. */
export class Metrics {
  #routes = new Map<string, RouteSeries>();
  #protocolWait = new RouteSeries();
  #protocolStages = new Map<ProtocolStage, RouteSeries>();
  #loopDelay = new RouteSeries();
  /** Counts open descriptors where Deno may not read `/proc/self/fd` (src/serve.ts). */
  descriptors: (() => number | null) | null = null;
  #transferBytes = new Map<string, number>();
  #counters = new Map<string, number>();
  #gauges = new Map<string, { help: string; read: () => number }>();

  /**
   * Records one answered request; `route` is `METHOD /pattern` from a fixed set. Past
   * {@linkcode MAX_ROUTE_SERIES} routes every new one is counted as `overflow`, a guard should
   * a caller ever pass something unbounded.
   */
  observe(route: string, status: number, durationMs: number): void {
    let series = this.#routes.get(route);
    if (!series && this.#routes.size >= MAX_ROUTE_SERIES) {
      route = "overflow";
      series = this.#routes.get(route);
    }
    if (!series) {
      series = new RouteSeries();
      this.#routes.set(route, series);
    }
    series.counts.set(status, (series.counts.get(status) ?? 0) + 1);
    series.add(durationMs / 1000);
  }

  /**
   * Records how long a transfer waited, once its provider had answered, for its decision to
   * be durable in the protocol: what the protocol adds to a transfer's latency (P6).
   */
  observeProtocolWait(durationMs: number): void {
    this.#protocolWait.add(durationMs / 1000);
  }

  /**
   * Records how long one protocol entry a caller waits on (a decision, grant or refusal; not an
   * outcome, which may wait for company on purpose) spent in a stage of its way to durable
   * (P6): `queued` (logged → its batch sent to PostgreSQL), `database` (sent → the answer seen by JavaScript),
   * `resumed` (answer → the callers waiting on its batch have run on).
   */
  observeProtocolStage(stage: ProtocolStage, durationMs: number): void {
    let series = this.#protocolStages.get(stage);
    if (!series) this.#protocolStages.set(stage, series = new RouteSeries());
    series.add(durationMs / 1000);
  }

  /** Records one sample of the event loop's delay: how late a due timer ran. */
  observeLoopDelay(durationMs: number): void {
    this.#loopDelay.add(durationMs / 1000);
  }

  /** Adds streamed evidence bytes, by direction (`request`, `response`). */
  addTransferBytes(direction: "request" | "response", bytes: number): void {
    this.#transferBytes.set(direction, (this.#transferBytes.get(direction) ?? 0) + bytes);
  }

  /** Increments a named counter, e.g. `lotse_transfers_total{outcome="delivered"}`. */
  count(name: string, by = 1): void {
    this.#counters.set(name, (this.#counters.get(name) ?? 0) + by);
  }

  /** Registers a gauge read at scrape time. */
  gauge(name: string, help: string, read: () => number): void {
    this.#gauges.set(name, { help, read });
  }

  /** The Prometheus text exposition format, version 0.0.4. */
  render(): string {
    const out: string[] = [];
    out.push("# HELP lotse_http_requests_total Requests answered, by route and status.");
    out.push("# TYPE lotse_http_requests_total counter");
    for (const [route, series] of this.#routes) {
      for (const [status, n] of series.counts) {
        out.push(
          `lotse_http_requests_total{route="${escapeLabel(route)}",status="${status}"} ${n}`,
        );
      }
    }
    out.push("# HELP lotse_http_request_duration_seconds Time to the response headers.");
    out.push("# TYPE lotse_http_request_duration_seconds histogram");
    for (const [route, series] of this.#routes) {
      histogram(
        out,
        "lotse_http_request_duration_seconds",
        `route="${escapeLabel(route)}"`,
        series,
      );
    }
    out.push(
      "# HELP lotse_protocol_wait_seconds Time a transfer waited, after its provider answered, for its decision to be durable.",
    );
    out.push("# TYPE lotse_protocol_wait_seconds histogram");
    histogram(out, "lotse_protocol_wait_seconds", "", this.#protocolWait);
    out.push(
      "# HELP lotse_protocol_stage_seconds Time the protocol entries a caller waits on (decisions, grants, refusals; not outcomes) spent in each stage of their way to durable.",
    );
    out.push("# TYPE lotse_protocol_stage_seconds histogram");
    for (const [stage, series] of this.#protocolStages) {
      histogram(out, "lotse_protocol_stage_seconds", `stage="${stage}"`, series);
    }
    out.push(
      "# HELP lotse_event_loop_delay_seconds How late due timers ran: the event loop's delay.",
    );
    out.push("# TYPE lotse_event_loop_delay_seconds histogram");
    histogram(out, "lotse_event_loop_delay_seconds", "", this.#loopDelay);
    out.push("# HELP lotse_transfer_bytes_total Evidence bytes streamed, by direction.");
    out.push("# TYPE lotse_transfer_bytes_total counter");
    for (const direction of ["request", "response"]) {
      out.push(
        `lotse_transfer_bytes_total{direction="${direction}"} ${
          this.#transferBytes.get(direction) ?? 0
        }`,
      );
    }
    const families = new Set<string>();
    for (const [name, value] of this.#counters) {
      const family = name.replace(/\{.*$/, "");
      if (!families.has(family)) {
        families.add(family);
        out.push(`# TYPE ${family} counter`);
      }
      out.push(`${name} ${value}`);
    }
    processMetrics(out, this.descriptors);
    for (const [name, { help, read }] of this.#gauges) {
      out.push(`# HELP ${name} ${help}`);
      out.push(`# TYPE ${name} gauge`);
      out.push(`${name} ${read()}`);
    }
    return out.join("\n") + "\n";
  }
}
