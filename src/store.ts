/**
 * The tables in memory. Postgres is the truth; this holds one immutable {@linkcode Snapshot}
 * built from it and replaces it as a whole — one reference swap — when a table changes.
 * Changes arrive by `NOTIFY lotse_tables`; a cheap version poll backs that up, so a lost
 * notification delays a change by one poll interval at most.
 *
 * The request path only reads `store.snapshot`; it never queries the database.
 *
 * @module
 */
import type { Db } from "../db/types.ts";
import { loadPreview, previewNotice, previewOf } from "../db/import_preview.ts";
import {
  type Change,
  loadRoutesById,
  loadTable,
  readChanges,
  readVersions,
  TABLES_CHANNEL,
  type TableVersions,
} from "../db/tables.ts";
import { type NavIndex, navIndexSteps } from "./nav_index.ts";
import { runInSlices, runToEnd, type Steps } from "./_slices.ts";
import { PermissionIndex } from "./permissions.ts";
import { RouteList } from "./route_list.ts";
import type { RouteColumnsSize } from "../db/route_columns.ts";
import type { RequestActivity } from "./serve.ts";
import type { Client, Route, TableName, Tables } from "./model.ts";
import { TABLE_NAMES } from "./model.ts";

/** Everything the request path needs, as of one moment. */
export interface Snapshot {
  /** Sum of the table versions: grows with every change. */
  readonly version: number;
  readonly versions: TableVersions;
  readonly tables: SnapshotTables;
  readonly nav: NavIndex;
  readonly clients: ReadonlyMap<string, Client>;
  readonly permissions: PermissionIndex;
  readonly loadedAt: number;
}

/** The tables of a snapshot: the routes in a list a one-row change does not copy whole. */
export interface SnapshotTables extends Tables {
  readonly routes: RouteList;
}

const NAV_TABLES: ReadonlySet<TableName> = new Set([
  "regions",
  "postcodes",
  "evidence-types",
  "providers",
  "routes",
]);

/** The field of {@linkcode Tables} each table is kept under. */
export const TABLE_KEYS: { [K in TableName]: keyof Tables } = {
  "regions": "regions",
  "postcodes": "postcodes",
  "evidence-types": "evidenceTypes",
  "providers": "providers",
  "routes": "routes",
  "clients": "clients",
  "permissions": "permissions",
};

/** Builds a snapshot, reusing from `previous` every index whose tables did not change. */
export function buildSnapshot(
  tables: Tables,
  versions: TableVersions,
  previous?: SnapshotBase,
): Snapshot {
  return runToEnd(snapshotSteps(tables, versions, previous));
}

/**
 * {@linkcode buildSnapshot} in slices (src/_slices.ts): a reload of a million routes built the
 * route list and the index in one piece, ~0.5 s during which the instance answered nothing.
 */
export function buildSnapshotInSlices(
  tables: Tables,
  versions: TableVersions,
  previous?: SnapshotBase,
  sliceMs?: number,
): Promise<Snapshot> {
  return runInSlices(snapshotSteps(tables, versions, previous), sliceMs);
}

/**
 * Slices of the snapshot an import's preview builds. It must be done by the import's commit, and
 * on a loaded machine each turn gives the CPU away for longer than it costs on its own: with 20 ms
 * slices B swapped a first import of a million routes 1.2 s after its commit instead of ~0.1 s.
 */
const PREVIEW_SLICE_MS = 50;

/** The snapshot a new one is built on, and what changed since. */
interface SnapshotBase {
  snapshot: Snapshot;
  changed: ReadonlySet<TableName>;
  nav?: NavIndex;
}

function* snapshotSteps(
  tables: Tables,
  versions: TableVersions,
  previous?: SnapshotBase,
): Steps<Snapshot> {
  const changed = previous?.changed;
  const reuse = (names: Iterable<TableName>) =>
    previous !== undefined && [...names].every((n) => !changed!.has(n));
  const routes = yield* RouteList.steps(tables.routes);
  const nav = previous?.nav ??
    (reuse(NAV_TABLES) ? previous!.snapshot.nav : yield* navIndexSteps(tables, {
      // A change of the routes (or types) alone keeps the region and provider parts.
      regionsFrom: reuse(["regions", "postcodes"]) ? previous!.snapshot.nav : undefined,
      providersFrom: reuse(["providers"]) ? previous!.snapshot.nav : undefined,
    }));
  return Object.freeze({
    version: TABLE_NAMES.reduce((sum, n) => sum + (versions[n] ?? 0), 0),
    versions,
    tables: { ...tables, routes },
    nav,
    clients: reuse(["clients"])
      ? previous!.snapshot.clients
      : new Map(tables.clients.map((c) => [c.id, c])),
    permissions: reuse(["permissions"])
      ? previous!.snapshot.permissions
      : new PermissionIndex(tables.permissions),
    loadedAt: Date.now(),
  });
}

/**
 * How long after a whole-table swap the old snapshot is collected at the earliest, and how long
 * the instance must then have been quiet (no request begun, none running) for it. It was a
 * second: on a quiet machine P5's benchmark never gave one (its nginx rounds, Lotse's lulls,
 * took 0.95–1.0 s), and the fan-out started with the replaced snapshot still held, +50 MiB
 * (BENCHMARKS.md, "Session 10, P5"). A lull of 300 ms says as well that the instance is not
 * busy; a request that comes during the collection waits for it either way.
 */
const COLLECT_AFTER_MS = 300;

/**
 * How often a collection waiting for that quiet spell looks at the instance's requests. Looking
 * only once per spell found a quiet second only when it fell between two looks, so a gap of up
 * to two seconds could go unused (BENCHMARKS.md, "Session 9, P5").
 */
const COLLECT_LOOK_MS = 100;

/** The options of V8's `gc()` (exposed by `--expose-gc`). */
interface GcOptions {
  type: "major" | "minor";
  execution: "sync" | "async";
  flavor: "regular" | "last-resort";
}

/**
 * A full collection that also gives the freed pages back to the system: a regular one left
 * them pooled in the process, so the heap shrank and the RSS did not.
 */
const MEMORY_REDUCING_GC: GcOptions = { type: "major", execution: "sync", flavor: "last-resort" };

/**
 * The size of the routes served, a little over: room their next read makes at once
 * (db/route_columns.ts), so that a table read again at its size never grows an array.
 */
function routesSize(current: Snapshot): RouteColumnsSize {
  const routes = current.tables.routes;
  const base = routes.base;
  const idBytesEach = base !== null && base.length > 0 ? base.idByteLength / base.length : 32;
  const expect = routes.length * 1.02 + 64;
  return { routes: expect, idBytes: expect * idBytesEach };
}

/** Most changed routes applied in place; more are read as a whole table. */
const MAX_INCREMENTAL = 10_000;

/**
 * The snapshot after the routes `ids` changed to `rows` (an id without a row was deleted):
 * the route list copies the chunks the change touches, and the navigation index is updated
 * in place of a rebuild.
 * Null when the index cannot take the change in place.
 */
export function applyRouteChanges(
  current: Snapshot,
  ids: readonly string[],
  rows: readonly Route[],
  versions: TableVersions,
): Snapshot | null {
  const { list, removed } = current.tables.routes.withChanges(ids, rows);
  const nav = current.nav.withRouteChanges(removed, rows);
  if (nav === null) return null;
  return buildSnapshot({ ...current.tables, routes: list }, versions, {
    snapshot: current,
    changed: new Set(["routes"]),
    nav,
  });
}

/**
 * How a swap came about: changed rows applied in place (`incremental`), a large import's
 * preview built while it wrote (`preview`), or tables read whole (`full`).
 */
export interface SwapInfo {
  readonly mode: "incremental" | "preview" | "full";
  /** From the start of the refresh (or load) to the swap. */
  readonly ms: number;
  /**
   * Of `ms`, the part until the changed tables were read whole (a full refresh): the reading, and
   * before it the versions, and any change log read or import preview waited for that could not be
   * used; the rest built the snapshot.
   */
  readonly readMs?: number;
}

/** Options for {@linkcode TableStore}. */
export interface TableStoreOptions {
  /** How often to compare versions as a back-up to NOTIFY; default 500 ms. */
  pollMs?: number;
  /** Called after every swap (metrics, caches). */
  onSwap?: (snapshot: Snapshot, changed: ReadonlySet<TableName>, info: SwapInfo) => void;
  /** Called when a refresh fails; the old snapshot stays in service. */
  onError?: (error: unknown) => void;
  /** Called when an import's preview cannot be built (its commit then reads the table). */
  onPreviewError?: (error: unknown) => void;
  /** Called after every refresh that reached the database (changed or not). */
  onSynced?: () => void;
  /**
   * The instance's requests: the collection after a whole-table swap waits until none began
   * for {@linkcode TableStoreOptions.collectAfterMs} and none runs. Without it, it does not wait.
   */
  activity?: RequestActivity;
  /** Quiet time before that collection; default 300 ms (tests shorten it). */
  collectAfterMs?: number;
  /** How often the quiet time is checked; default 100 ms, never more than it (tests set it). */
  collectLookMs?: number;
}

/** Holds the current snapshot and keeps it in step with the database. */
export class TableStore {
  readonly #db: Db;
  readonly #options: TableStoreOptions;
  #snapshot: Snapshot | null = null;
  #refreshing: Promise<void> | null = null;
  #again = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #unlisten: (() => Promise<void>) | null = null;
  #stopped = false;
  #incremental = 0;
  /** Snapshots being built from import previews, by preview id (db/import_preview.ts). */
  readonly #previews = new Map<number, Preview>();
  readonly #previewCounts = { prepared: 0, built: 0, swapped: 0 };
  #collect: ReturnType<typeof setTimeout> | undefined;

  constructor(db: Db, options: TableStoreOptions = {}) {
    this.#db = db;
    this.#options = options;
  }

  /** How many refreshes applied changed routes in place instead of reading the table. */
  get incrementalRefreshes(): number {
    return this.#incremental;
  }

  /** Whether this store hears the tables' notifications (else it only polls). */
  get listening(): boolean {
    return this.#unlisten !== null;
  }

  /**
   * How many import previews this store began to build from, how many of those it finished
   * building (a snapshot ready for the import's commit), and how many it swapped in.
   */
  get previews(): {
    readonly prepared: number;
    readonly built: number;
    readonly swapped: number;
    readonly held: number;
  } {
    return { ...this.#previewCounts, held: this.#previews.size };
  }

  /** Whether a collection of the snapshot a whole-table swap replaced is due. */
  get collectionPending(): boolean {
    return this.#collect !== undefined;
  }

  /** The current snapshot; null until {@linkcode TableStore.load} has run. */
  get snapshot(): Snapshot | null {
    return this.#snapshot;
  }

  /** Loads every table and swaps the snapshot in. */
  async load(): Promise<Snapshot> {
    const loaded = await this.#db.transaction(async (tx) => {
      await tx.sql`set transaction isolation level repeatable read, read only`;
      const versions = await readVersions(tx);
      const rows = await Promise.all(TABLE_NAMES.map((name) => loadTable(tx, name)));
      const tables = Object.fromEntries(
        TABLE_NAMES.map((name, i) => [TABLE_KEYS[name], rows[i]]),
      ) as unknown as Tables;
      return { tables, versions };
    });
    const snapshot = buildSnapshot(loaded.tables, loaded.versions);
    this.#swap(snapshot, new Set(TABLE_NAMES));
    return snapshot;
  }

  /**
   * Serves `tables` as of `versions` without asking the database (a start from the snapshot
   * file while PostgreSQL cannot be reached); the next refresh loads what moved since.
   */
  adopt(tables: Tables, versions: TableVersions): Snapshot {
    const snapshot = buildSnapshot(tables, versions);
    this.#swap(snapshot, new Set(TABLE_NAMES));
    return snapshot;
  }

  /**
   * Listens for changes and polls versions until {@linkcode TableStore.stop}. When the
   * database cannot be reached, polling goes on and listening is tried again after the
   * next refresh that reaches it.
   */
  async start(): Promise<void> {
    this.#stopped = false;
    const poll = () => {
      this.#timer = setTimeout(async () => {
        await this.refresh();
        if (!this.#unlisten && !this.#stopped) await this.#listen().catch(() => {});
        if (this.#timer !== undefined) poll();
      }, this.#options.pollMs ?? 500);
    };
    poll();
    await this.#listen().catch((error) => this.#options.onError?.(error));
  }

  async #listen(): Promise<void> {
    const unlisten = await this.#db.listen(TABLES_CHANNEL, (payload) => {
      const notice = previewNotice(payload);
      if (notice === null) this.refresh();
      else if ("published" in notice) this.#prepare(notice.published);
      // The import did not commit: what was built from its preview is of no use.
      else this.#previews.delete(notice.gone);
    });
    if (this.#stopped) await unlisten();
    else this.#unlisten = unlisten;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearTimeout(this.#collect);
    this.#collect = undefined;
    await this.#unlisten?.();
    this.#unlisten = null;
    this.#previews.clear();
    await this.#refreshing?.catch(() => {});
  }

  /**
   * Reloads the tables whose version moved and swaps in a new snapshot. Calls that arrive
   * while a refresh runs are folded into one more run after it.
   */
  refresh(): Promise<void> {
    return this.sync().catch((error) => this.#options.onError?.(error));
  }

  /** Like {@linkcode TableStore.refresh}, but rejects when the database fails. */
  sync(): Promise<void> {
    if (this.#refreshing) {
      this.#again = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      try {
        do {
          this.#again = false;
          await this.#refreshOnce();
        } while (this.#again);
        this.#options.onSynced?.();
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  async #refreshOnce(): Promise<void> {
    const started = performance.now();
    const current = this.#snapshot;
    if (!current) {
      await this.load();
      return;
    }
    const result = await this.#db.transaction(async (tx) => {
      await tx.sql`set transaction isolation level repeatable read, read only`;
      const versions = await readVersions(tx);
      const changed = TABLE_NAMES.filter((n) => versions[n] !== current.versions[n]);
      if (changed.length === 0) return null;
      // Routes alone moved by single-row writes (or an import with a preview): read just
      // those rows, not a million.
      const plan = changed.length === 1 && changed[0] === "routes"
        ? routePlan(await readChanges(tx, "routes", current.versions.routes, versions.routes))
        : null;
      if (plan !== null && plan.ids.length <= MAX_INCREMENTAL) {
        return {
          versions,
          changed,
          // Per changed table, its rows (an array, or the routes' columns).
          rows: [] as unknown[],
          routes: { ...plan, rows: await loadRoutesById(tx, plan.ids) },
        };
      }
      // Read in slices: the instance serves the current snapshot meanwhile.
      const options = { sliced: true, expect: routesSize(current) };
      const rows = await Promise.all(changed.map((name) => loadTable(tx, name, options)));
      return { versions, changed, rows: rows as unknown[], routes: null };
    });
    if (!result) return;
    const changed = new Set(result.changed);
    if (result.routes !== null) {
      const { preview, ids, rows } = result.routes;
      // A large import: the snapshot built from its preview while it wrote, if that was
      // built on the snapshot served now (nothing else changed in between).
      const from = preview === null ? current : await this.#built(preview, current);
      const next = from !== null && ids.length > 0
        ? applyRouteChanges(from, ids, rows, result.versions)
        : from;
      if (next !== null) {
        if (preview === null) this.#incremental++;
        else this.#previewCounts.swapped++;
        this.#swap(next, changed, {
          mode: preview === null ? "incremental" : "preview",
          ms: performance.now() - started,
        });
        return;
      }
      // No preview to go on, or a change the index cannot take in place (a dangling route):
      // read the table whole.
      result.rows = [
        await loadTable(this.#db, "routes", { sliced: true, expect: routesSize(current) }),
      ];
    }
    const readMs = performance.now() - started;
    const tables: Record<string, unknown> = { ...current.tables };
    result.changed.forEach((name, i) => {
      tables[TABLE_KEYS[name]] = result.rows[i];
    });
    // In slices: the instance serves the current snapshot meanwhile.
    const snapshot = await buildSnapshotInSlices(tables as unknown as Tables, result.versions, {
      snapshot: current,
      changed,
    });
    this.#swap(snapshot, changed, { mode: "full", ms: performance.now() - started, readMs });
  }

  /** What preview `id` built, if it was built on `current`; null otherwise. */
  async #built(id: number, current: Snapshot): Promise<Snapshot | null> {
    const pending = this.#previews.get(id);
    return pending?.base === current ? await pending.next : null;
  }

  /**
   * Starts building, on the snapshot served now, the snapshot after the import that
   * published preview `id` (db/import_preview.ts): while the import still writes, so that
   * its commit is a swap, not a reload of the table.
   */
  #prepare(id: number): void {
    const base = this.#snapshot;
    if (base === null || this.#stopped || this.#previews.has(id)) return;
    const next = (async () => {
      const preview = await loadPreview(this.#db, id);
      // Of no use once another snapshot is served (a change came first): not built then.
      if (preview === null || this.#snapshot !== base) return null;
      // The import's upsert: its rows take the places of routes with their ids. Into an empty
      // table (an operator's first import) that is the preview itself, kept in its columns: a
      // million routes made into objects to be appended left an instance 63–89 MiB larger
      // after the import (BENCHMARKS.md, "Session 14, P7").
      let list: RouteList;
      if (base.tables.routes.length === 0) list = RouteList.from(preview);
      else {
        const rows = [...preview];
        const ids = rows.map((r) => r.id);
        ({ list } = await runInSlices(base.tables.routes.changeSteps(ids, rows), PREVIEW_SLICE_MS));
      }
      // Another snapshot may have come while the route list was built in slices.
      if (this.#snapshot !== base) return null;
      const built = await buildSnapshotInSlices(
        { ...base.tables, routes: list },
        { ...base.versions, routes: base.versions.routes + 1 },
        { snapshot: base, changed: new Set(["routes"]) },
        PREVIEW_SLICE_MS,
      );
      this.#previewCounts.built++;
      return built;
    })().catch((error) => {
      this.#options.onPreviewError?.(error);
      return null;
    });
    this.#previews.set(id, { base, next });
    this.#previewCounts.prepared++;
  }

  #swap(snapshot: Snapshot, changed: ReadonlySet<TableName>, info?: SwapInfo): void {
    const replaced = this.#snapshot !== null && info?.mode !== "incremental";
    this.#snapshot = snapshot;
    // Every preview was built on a snapshot no longer served.
    this.#previews.clear();
    this.#options.onSwap?.(snapshot, changed, info ?? { mode: "full", ms: 0 });
    if (replaced) this.#collectSoon();
  }

  /**
   * After tables were read whole, the old snapshot is garbage that V8 reclaims only in a full
   * collection, which it starts late in a heap that has room: a reload left an instance tens
   * of MiB larger (BENCHMARKS.md, "Session 6"). One memory-reducing collection returns it, when
   * the runtime lets us (`--v8-flags=--expose-gc`, as `deno task serve` and `start` run Lotse).
   * It stops the instance (~0.2 s of CPU at the full-scale tables, ~0.5 s at a million routes):
   * every request then in flight waits for it. So it runs only once the instance has been
   * quiet for a moment — no request begun for {@linkcode COLLECT_AFTER_MS} and none running
   * — and waits as long as requests keep coming; meanwhile V8's own collections reclaim the
   * garbage without stopping the instance for long (BENCHMARKS.md, "Session 7, swap stall").
   * Several reloads in a row make one collection.
   */
  #collectSoon(): void {
    const gc = (globalThis as { gc?: (options?: GcOptions) => void }).gc;
    if (gc === undefined || this.#collect !== undefined || this.#stopped) return;
    const activity = this.#options.activity;
    const quietMs = this.#options.collectAfterMs ?? COLLECT_AFTER_MS;
    const lookMs = Math.min(this.#options.collectLookMs ?? COLLECT_LOOK_MS, quietMs);
    // Quiet means this many looks in a row with no request begun since the last and none
    // running: the spell counts from the last look that saw one.
    const looks = Math.ceil(quietMs / lookMs);
    let mark = activity?.begun ?? 0;
    let quiet = 0;
    const check = () => {
      if (activity !== undefined && !activity.quietSince(mark)) {
        mark = activity.begun;
        quiet = 0;
      } else if (++quiet >= looks) {
        this.#collect = undefined;
        gc(MEMORY_REDUCING_GC);
        return;
      }
      wait();
    };
    const wait = () => {
      this.#collect = setTimeout(check, lookMs);
      Deno.unrefTimer(this.#collect);
    };
    wait();
  }
}

/** A snapshot being built from an import's preview. */
interface Preview {
  /** The snapshot it is built on: it is of use only while that one is served. */
  readonly base: Snapshot;
  /** Null when the preview was gone or incomplete, or the base was replaced meanwhile. */
  readonly next: Promise<Snapshot | null>;
}

/**
 * What a refresh of the routes reads, from their change log since the version served: the
 * rows changed one by one, after the preview an import's commit names (which must be the
 * first version: the preview was built on the snapshot served). Null when the table must be
 * read whole (no log, or a preview noted later or twice).
 */
export function routePlan(
  log: readonly Change[] | null,
): { preview: number | null; ids: string[] } | null {
  if (log === null) return null;
  const previews = log.map((c) => previewOf(c.key));
  const at = previews.findIndex((p) => p !== null);
  // A preview is of use only as the first change, and only one.
  if (at > 0 || previews.some((p, i) => p !== null && i !== at)) return null;
  const ids = new Set<string>();
  for (let i = at + 1; i < log.length; i++) ids.add(log[i]!.key);
  return { preview: at === -1 ? null : previews[at]!, ids: [...ids] };
}
