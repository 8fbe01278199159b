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
  loadTable,
  readVersions,
  type TableRows,
  TABLES_CHANNEL,
  type TableVersions,
} from "../db/tables.ts";
import { buildNavIndex, type NavIndex } from "./nav_index.ts";
import { PermissionIndex } from "./permissions.ts";
import type { Client, TableName, Tables } from "./model.ts";
import { TABLE_NAMES } from "./model.ts";

/** Everything the request path needs, as of one moment. */
export interface Snapshot {
  /** Sum of the table versions: grows with every change. */
  readonly version: number;
  readonly versions: TableVersions;
  readonly tables: Tables;
  readonly nav: NavIndex;
  readonly clients: ReadonlyMap<string, Client>;
  readonly permissions: PermissionIndex;
  readonly loadedAt: number;
}

const NAV_TABLES: ReadonlySet<TableName> = new Set([
  "regions",
  "postcodes",
  "evidence-types",
  "providers",
  "routes",
]);

const TABLE_KEYS: { [K in TableName]: keyof Tables } = {
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
  previous?: { snapshot: Snapshot; changed: ReadonlySet<TableName> },
): Snapshot {
  const changed = previous?.changed;
  const reuse = (names: Iterable<TableName>) =>
    previous !== undefined && [...names].every((n) => !changed!.has(n));
  return Object.freeze({
    version: TABLE_NAMES.reduce((sum, n) => sum + (versions[n] ?? 0), 0),
    versions,
    tables,
    nav: reuse(NAV_TABLES) ? previous!.snapshot.nav : buildNavIndex(tables),
    clients: reuse(["clients"])
      ? previous!.snapshot.clients
      : new Map(tables.clients.map((c) => [c.id, c])),
    permissions: reuse(["permissions"])
      ? previous!.snapshot.permissions
      : new PermissionIndex(tables.permissions),
    loadedAt: Date.now(),
  });
}

/** Options for {@linkcode TableStore}. */
export interface TableStoreOptions {
  /** How often to compare versions as a back-up to NOTIFY; default 500 ms. */
  pollMs?: number;
  /** Called after every swap (metrics, caches). */
  onSwap?: (snapshot: Snapshot, changed: ReadonlySet<TableName>) => void;
  /** Called when a refresh fails; the old snapshot stays in service. */
  onError?: (error: unknown) => void;
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

  constructor(db: Db, options: TableStoreOptions = {}) {
    this.#db = db;
    this.#options = options;
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

  /** Listens for changes and polls versions until {@linkcode TableStore.stop}. */
  async start(): Promise<void> {
    this.#unlisten = await this.#db.listen(TABLES_CHANNEL, () => this.refresh());
    const poll = () => {
      this.#timer = setTimeout(async () => {
        await this.refresh();
        if (this.#timer !== undefined) poll();
      }, this.#options.pollMs ?? 500);
    };
    poll();
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#unlisten?.();
    this.#unlisten = null;
    await this.#refreshing;
  }

  /**
   * Reloads the tables whose version moved and swaps in a new snapshot. Calls that arrive
   * while a refresh runs are folded into one more run after it.
   */
  refresh(): Promise<void> {
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
      } catch (error) {
        this.#options.onError?.(error);
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  async #refreshOnce(): Promise<void> {
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
      const rows = await Promise.all(changed.map((name) => loadTable(tx, name)));
      return { versions, changed, rows };
    });
    if (!result) return;
    const tables: Record<string, unknown> = { ...current.tables };
    result.changed.forEach((name, i) => {
      tables[TABLE_KEYS[name]] = result.rows[i] as TableRows[typeof name][];
    });
    const changed = new Set(result.changed);
    const snapshot = buildSnapshot(tables as unknown as Tables, result.versions, {
      snapshot: current,
      changed,
    });
    this.#swap(snapshot, changed);
  }

  #swap(snapshot: Snapshot, changed: ReadonlySet<TableName>): void {
    this.#snapshot = snapshot;
    this.#options.onSwap?.(snapshot, changed);
  }
}
