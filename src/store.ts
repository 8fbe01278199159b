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
import {
  loadRoutesById,
  loadTable,
  readChanges,
  readVersions,
  type TableRows,
  TABLES_CHANNEL,
  type TableVersions,
} from "../db/tables.ts";
import { buildNavIndex, type NavIndex } from "./nav_index.ts";
import { PermissionIndex } from "./permissions.ts";
import { RouteList } from "./route_list.ts";
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
  previous?: {
    snapshot: Snapshot;
    changed: ReadonlySet<TableName>;
    nav?: NavIndex;
  },
): Snapshot {
  const changed = previous?.changed;
  const reuse = (names: Iterable<TableName>) =>
    previous !== undefined && [...names].every((n) => !changed!.has(n));
  return Object.freeze({
    version: TABLE_NAMES.reduce((sum, n) => sum + (versions[n] ?? 0), 0),
    versions,
    tables: { ...tables, routes: RouteList.from(tables.routes) },
    nav: previous?.nav ?? (reuse(NAV_TABLES) ? previous!.snapshot.nav : buildNavIndex(tables, {
      // A change of the routes (or types) alone keeps the region and provider parts.
      regionsFrom: reuse(["regions", "postcodes"]) ? previous!.snapshot.nav : undefined,
      providersFrom: reuse(["providers"]) ? previous!.snapshot.nav : undefined,
    })),
    clients: reuse(["clients"])
      ? previous!.snapshot.clients
      : new Map(tables.clients.map((c) => [c.id, c])),
    permissions: reuse(["permissions"])
      ? previous!.snapshot.permissions
      : new PermissionIndex(tables.permissions),
    loadedAt: Date.now(),
  });
}

/** How long after a whole-table swap the old snapshot is collected. */
const COLLECT_AFTER_MS = 1000;

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

/** How a swap came about: changed rows applied in place, or tables read whole. */
export interface SwapInfo {
  readonly incremental: boolean;
  /** From the start of the refresh (or load) to the swap. */
  readonly ms: number;
}

/** Options for {@linkcode TableStore}. */
export interface TableStoreOptions {
  /** How often to compare versions as a back-up to NOTIFY; default 500 ms. */
  pollMs?: number;
  /** Called after every swap (metrics, caches). */
  onSwap?: (snapshot: Snapshot, changed: ReadonlySet<TableName>, info: SwapInfo) => void;
  /** Called when a refresh fails; the old snapshot stays in service. */
  onError?: (error: unknown) => void;
  /** Called after every refresh that reached the database (changed or not). */
  onSynced?: () => void;
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
  #collect: ReturnType<typeof setTimeout> | undefined;

  constructor(db: Db, options: TableStoreOptions = {}) {
    this.#db = db;
    this.#options = options;
  }

  /** How many refreshes applied changed routes in place instead of reading the table. */
  get incrementalRefreshes(): number {
    return this.#incremental;
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
    const unlisten = await this.#db.listen(TABLES_CHANNEL, () => this.refresh());
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
      // Routes alone moved by single-row writes: read just those rows, not a million.
      const routeIds = changed.length === 1 && changed[0] === "routes"
        ? await readChanges(tx, "routes", current.versions.routes, versions.routes)
        : null;
      if (routeIds !== null && routeIds.length <= MAX_INCREMENTAL) {
        return {
          versions,
          changed,
          rows: [] as unknown[][],
          routes: { ids: routeIds, rows: await loadRoutesById(tx, routeIds) },
        };
      }
      const rows = await Promise.all(changed.map((name) => loadTable(tx, name)));
      return { versions, changed, rows: rows as unknown[][], routes: null };
    });
    if (!result) return;
    const changed = new Set(result.changed);
    if (result.routes !== null) {
      const next = applyRouteChanges(
        current,
        result.routes.ids,
        result.routes.rows,
        result.versions,
      );
      if (next !== null) {
        this.#incremental++;
        this.#swap(next, changed, { incremental: true, ms: performance.now() - started });
        return;
      }
      // A change the index cannot take in place (a dangling route): read the table whole.
      result.rows = [await loadTable(this.#db, "routes")];
    }
    const tables: Record<string, unknown> = { ...current.tables };
    result.changed.forEach((name, i) => {
      tables[TABLE_KEYS[name]] = result.rows[i] as TableRows[typeof name][];
    });
    const snapshot = buildSnapshot(tables as unknown as Tables, result.versions, {
      snapshot: current,
      changed,
    });
    this.#swap(snapshot, changed, { incremental: false, ms: performance.now() - started });
  }

  #swap(snapshot: Snapshot, changed: ReadonlySet<TableName>, info?: SwapInfo): void {
    const replaced = this.#snapshot !== null && info?.incremental !== true;
    this.#snapshot = snapshot;
    this.#options.onSwap?.(snapshot, changed, info ?? { incremental: false, ms: 0 });
    if (replaced) this.#collectSoon();
  }

  /**
   * After tables were read whole, the old snapshot is garbage that V8 reclaims only in a full
   * collection, which it starts late in a heap that has room: a reload left an instance tens
   * of MiB larger (BENCHMARKS.md, "Session 6"). One collection a moment after the swap — once
   * requests that began on the old snapshot are done — returns it, when the runtime lets us
   * (`--v8-flags=--expose-gc`, as `deno task serve` and `start` run Lotse). Several reloads
   * in a row make one collection.
   */
  #collectSoon(): void {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc === undefined || this.#collect !== undefined || this.#stopped) return;
    this.#collect = setTimeout(() => {
      this.#collect = undefined;
      gc();
    }, COLLECT_AFTER_MS);
    Deno.unrefTimer(this.#collect);
  }
}
