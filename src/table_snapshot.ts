/**
 * A copy of the tables on disk (`LOTSE_DATA_DIR/tables.snapshot`), written after loads, so
 * an instance can start and serve while PostgreSQL cannot be reached. NDJSON: a header line
 * with the versions, one line per table section and row, and a last line with the SHA-256
 * of everything before it. Written to a temporary file, fsynced and renamed over the old
 * one, so a crash leaves the old copy or the new one, never half of one; a file whose digest
 * or counts do not match is refused.
 *
 * Writing yields to the event loop every thousand rows: a million routes are written
 * without stalling requests.
 *
 * @example
 * ```ts
 * await writeTableSnapshot(path, { tables, versions, keys });
 * const copy = await readTableSnapshot(path); // null when there is none
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { SealedKey } from "../crypto/mod.ts";
import type { TableVersions } from "../db/tables.ts";
import { TABLE_NAMES, type Tables } from "./model.ts";
import { TABLE_KEYS } from "./store.ts";

/** What a snapshot file holds. */
export interface TableCopy {
  readonly tables: Tables;
  readonly versions: TableVersions;
  /** The signing keys as they rest in the database (private parts encrypted). */
  readonly keys: readonly SealedKey[];
  /** When it was written (epoch ms). */
  readonly writtenAt?: number;
}

const MAGIC = "lotse-tables-snapshot";
const FORMAT = 1;
const YIELD_EVERY = 1000;
const FLUSH_BYTES = 1 << 18;

/** The file name inside the data directory. */
export const SNAPSHOT_FILE = "tables.snapshot";

/** Writes `copy` to `path` atomically (temp file, fsync, rename). */
export async function writeTableSnapshot(path: string, copy: TableCopy): Promise<void> {
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
  const hash = createHash("sha256");
  const encoder = new TextEncoder();
  let buffer = "";
  const flush = async () => {
    if (!buffer) return;
    const bytes = encoder.encode(buffer);
    hash.update(bytes);
    buffer = "";
    for (let off = 0; off < bytes.length;) off += await file.write(bytes.subarray(off));
  };
  const line = async (value: unknown) => {
    buffer += JSON.stringify(value) + "\n";
    if (buffer.length >= FLUSH_BYTES) await flush();
  };
  try {
    await line({ [MAGIC]: FORMAT, writtenAt: Date.now(), versions: copy.versions });
    await line({ section: "keys", count: copy.keys.length });
    for (const key of copy.keys) await line(key);
    for (const name of TABLE_NAMES) {
      // An array, or the table store's route list: iterated, not indexed.
      const rows: Iterable<unknown> & { length: number } = copy.tables[TABLE_KEYS[name]];
      await line({ section: name, count: rows.length });
      let i = 0;
      for (const row of rows) {
        await line(row);
        if (++i % YIELD_EVERY === 0) await new Promise((r) => setTimeout(r, 0));
      }
    }
    await flush();
    buffer = JSON.stringify({ sha256: hash.digest("hex") }) + "\n";
    const tail = encoder.encode(buffer);
    for (let off = 0; off < tail.length;) off += await file.write(tail.subarray(off));
    await file.sync();
  } catch (error) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
  file.close();
  await Deno.rename(tmp, path);
}

/** Thrown when a snapshot file exists but cannot be trusted. */
export class SnapshotError extends Error {
  override name = "SnapshotError";
}

/**
 * Reads the snapshot at `path`; null when there is none.
 *
 * @throws {SnapshotError} when the file is damaged (digest, counts or format)
 */
export async function readTableSnapshot(path: string): Promise<TableCopy | null> {
  try {
    await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  const hash = createHash("sha256");
  const input = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let header = null as { versions: TableVersions; writtenAt: number } | null;
  let digest = null as string | null;
  const sections = new Map<string, unknown[]>();
  let current = null as { rows: unknown[]; left: number } | null;
  let lineNo = 0;
  const fail = (why: string): never => {
    throw new SnapshotError(`Cannot use table snapshot "${path}": ${why} (line ${lineNo})`);
  };
  for await (const text of input) {
    lineNo++;
    if (digest !== null) fail("data after the digest line");
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(text);
    } catch {
      return fail("not JSON");
    }
    if (header === null) {
      if (value[MAGIC] !== FORMAT) fail("not a table snapshot of this format");
      header = value as unknown as typeof header;
    } else if (current !== null && current.left > 0) {
      current.rows.push(value);
      current.left--;
    } else if (typeof value.sha256 === "string") {
      digest = value.sha256;
      continue;
    } else if (typeof value.section === "string" && typeof value.count === "number") {
      current = { rows: [], left: value.count };
      sections.set(value.section, current.rows);
    } else {
      fail("unexpected line");
    }
    hash.update(text + "\n");
  }
  if (header === null || digest === null) return fail("truncated");
  if (current !== null && current.left > 0) fail("a section is short of rows");
  if (hash.digest("hex") !== digest) fail("digest does not match its content");
  const missing = ["keys", ...TABLE_NAMES].filter((s) => !sections.has(s));
  if (missing.length) fail(`sections missing: ${missing.join(", ")}`);
  const tables = Object.fromEntries(
    TABLE_NAMES.map((name) => [TABLE_KEYS[name], sections.get(name)]),
  ) as unknown as Tables;
  return {
    tables,
    versions: header!.versions,
    keys: sections.get("keys") as SealedKey[],
    writtenAt: header!.writtenAt,
  };
}

/** Options for {@linkcode SnapshotWriter}. */
export interface SnapshotWriterOptions {
  /** Fewest milliseconds between two writes; default 5000. */
  minIntervalMs?: number;
  /** Told when a write fails; the old file stays. Default: ignored. */
  onError?: (error: unknown) => void;
}

/**
 * Writes the snapshot file after loads, at most once per interval: a burst of changes
 * becomes one write of the newest tables.
 */
export class SnapshotWriter {
  readonly #path: string;
  readonly #source: () => Promise<TableCopy>;
  readonly #minIntervalMs: number;
  readonly #onError: (error: unknown) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | null = null;
  #pending = false;
  #lastAt = -Infinity;
  #closed = false;
  #writes = 0;

  constructor(path: string, source: () => Promise<TableCopy>, options: SnapshotWriterOptions = {}) {
    this.#path = path;
    this.#source = source;
    this.#minIntervalMs = options.minIntervalMs ?? 5000;
    this.#onError = options.onError ?? (() => {});
  }

  /** How many snapshots were written. */
  get writes(): number {
    return this.#writes;
  }

  /** Asks for a write of the current tables (soon, or after the interval). */
  schedule(): void {
    if (this.#closed) return;
    if (this.#running || this.#timer !== undefined) {
      this.#pending = true;
      return;
    }
    const wait = Math.max(0, this.#lastAt + this.#minIntervalMs - Date.now());
    this.#timer = setTimeout(() => this.#run(), wait);
  }

  async #run(): Promise<void> {
    this.#timer = undefined;
    this.#pending = false;
    this.#running = (async () => {
      try {
        await writeTableSnapshot(this.#path, await this.#source());
        this.#writes++;
      } catch (error) {
        this.#onError(error);
      }
    })();
    await this.#running;
    this.#lastAt = Date.now();
    this.#running = null;
    if (this.#pending) this.schedule();
  }

  /** Stops writing; waits for a write under way. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
