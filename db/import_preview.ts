/**
 * Previews of large route imports. An import of a million routes commits after seconds of
 * writing and rebuilding indexes; every instance then had to read the table whole and build
 * its navigation index (P7: about 2 s), so the import became visible there seconds after its
 * commit. Once an import has found more changed rows than the change log notes one by one
 * (db/bulk.ts), it copies them from its staging table into an unlogged scratch table on a
 * second connection and publishes them (commit + NOTIFY) before its own commit, while it
 * still writes the rows and rebuilds the indexes. Each instance builds its next snapshot from
 * the preview meanwhile and swaps it in when the commit's change log names the preview
 * (src/store.ts).
 *
 * A preview is only ever a hint: an instance uses it when the commit names it and nothing
 * else changed in between, and reads the table whole otherwise. Writing it is best effort:
 * when it fails, the import goes on and instances read the table as before.
 *
 * @example
 * ```ts
 * const preview = openImportPreview(db);
 * await preview.write(new TextEncoder().encode("2\tr-1\tgewerbe\t08\tp-1\n"));
 * const id = await preview.publish(1); // before the import's commit
 * // … the import commits, noting id in table_change_previews under its version …
 * await preview.remove();
 * ```
 *
 * @module
 */
import type { CopySink, Db, Queryable } from "./types.ts";
import { decodeRouteColumns, TABLES_CHANNEL } from "./tables.ts";
import type { RouteColumns } from "./route_columns.ts";

/**
 * The preview a change-log key names (`@preview:<id>`, as db/tables.ts `readChanges` reads
 * `table_change_previews`), or null when it names a row: no route id starts with `@`.
 */
export function previewOf(key: string): number | null {
  const m = /^@preview:(\d+)$/.exec(key);
  return m ? Number(m[1]) : null;
}

/** The payload of the NOTIFY that publishes a preview. */
const PUBLISHED = "routes-preview ";
/** The payload of the NOTIFY that says a preview's import did not commit. */
const GONE = "routes-preview-gone ";

/** What a payload on {@linkcode TABLES_CHANNEL} says about previews, if anything. */
export function previewNotice(
  payload: string,
): { readonly published: number } | { readonly gone: number } | null {
  if (payload.startsWith(PUBLISHED)) return { published: Number(payload.slice(PUBLISHED.length)) };
  if (payload.startsWith(GONE)) return { gone: Number(payload.slice(GONE.length)) };
  return null;
}

/** Previews older than this are what a crashed importer left: any import removes them. */
const STALE = "10 minutes";

/** The rows of an import under way, on their way into a preview. */
export interface ImportPreview {
  /**
   * Sends bytes of COPY text lines of `lotse_import_routes`' shape (line, id, evidence type,
   * region key, provider), cut anywhere; when it returns a promise, more may be sent once
   * that resolves. Never rejects: a preview that fails is dropped.
   */
  write(data: Uint8Array): Promise<void> | undefined;
  /** Ends the COPY and commits the preview of `rows` rows with a NOTIFY; its id, or null. */
  publish(rows: number): Promise<number | null>;
  /**
   * Gives the preview up once the import ended: rolled back when unpublished, removed when
   * published. When the import did not commit, every instance is told to drop what it built
   * from the preview; after a commit, the commit's swap drops it.
   */
  remove(committed: boolean): Promise<void>;
}

/** Bytes sent to the server in one COPY message. */
const CHUNK = 256 * 1024;

/**
 * A preview for one import, on a connection of its own (its transaction stays open until
 * {@linkcode ImportPreview.publish} or {@linkcode ImportPreview.remove}).
 */
export function openImportPreview(
  db: Db,
  onError: (error: unknown) => void = () => {},
): ImportPreview {
  let failed = false;
  let buffer = new Uint8Array(CHUNK);
  let used = 0;
  /** The open COPY inside the preview's transaction, once started. */
  let open: Promise<CopySink | null> | null = null;
  let finish: ((rows: number | null) => void) | null = null;
  let done: Promise<number | null> = Promise.resolve(null);

  const fail = (error: unknown) => {
    if (!failed) onError(error);
    failed = true;
  };
  const start = () => {
    let opened!: (sink: CopySink | null) => void;
    open = new Promise((resolve) => opened = resolve);
    const decided = new Promise<number | null>((resolve) => finish = resolve);
    done = db.transaction(async (tx: Queryable) => {
      await tx.sql`delete from import_preview_routes where import_id in (
        select id from import_previews where created_at < now() - ${STALE}::interval)`;
      await tx.sql`delete from import_previews where created_at < now() - ${STALE}::interval`;
      const [head] = await tx.sql<{ id: string }>`
        insert into import_previews (rows) values (0) returning id::text as id`;
      const id = Number(head!.id);
      await tx.sql`select set_config('lotse.preview', ${String(id)}, true)`;
      const sink = await tx.copyIn!`copy import_preview_routes
        (line, id, evidence_type, region_key, provider_id) from stdin`;
      opened(sink);
      const rows = await decided;
      if (rows === null) {
        await sink.abort();
        throw new Abandoned();
      }
      await sink.end();
      await tx.sql`update import_previews set rows = ${rows} where id = ${id}`;
      await tx.sql`select pg_notify(${TABLES_CHANNEL}, ${PUBLISHED + id})`;
      return id;
    }).catch((error) => {
      opened(null);
      if (!(error instanceof Abandoned)) fail(error);
      return null;
    });
  };
  const send = async (data: Uint8Array) => {
    const sink = await open!;
    if (sink !== null && !failed) await sink.write(data).catch(fail);
  };
  const keep = (data: Uint8Array) => {
    buffer.set(data, used);
    used += data.length;
  };
  const flush = async () => {
    if (used === 0) return;
    const data = buffer.subarray(0, used);
    buffer = new Uint8Array(CHUNK);
    used = 0;
    await send(data);
  };

  return {
    write(data) {
      if (failed || finish === null && open !== null) return undefined;
      if (open === null) start();
      if (used + data.length <= CHUNK) {
        // Most pieces are one row: copied into the next message, nothing to wait for.
        keep(data);
        return undefined;
      }
      return flush().then(() => data.length <= CHUNK ? keep(data) : send(data.slice()));
    },
    async publish(rows) {
      if (open === null || finish === null) return null;
      // Decided here, before the last rows go out: a remove() meanwhile waits for the
      // outcome instead of giving the preview up under a publish still flushing.
      const decide = finish;
      finish = null;
      await flush();
      decide(failed ? null : rows);
      return await done;
    },
    async remove(committed) {
      if (finish !== null) {
        const decide = finish;
        finish = null;
        decide(null);
      }
      const published = await done;
      if (published !== null) await removePreview(db, published, !committed).catch(fail);
    },
  };
}

class Abandoned extends Error {}

/**
 * Removes a published preview and says so. The rows go by `TRUNCATE` when no other preview is
 * held and no instance reads one right now (instant for a million rows), else by `DELETE`.
 * Each way in a transaction of its own: a lock refused inside a transaction failed all of it
 * (postgres.js ends a transaction in which a statement failed with that error, a savepoint
 * rolled back to or not), so a preview an instance was still reading stayed behind.
 */
async function removePreview(db: Db, id: number, announce: boolean): Promise<void> {
  const gone = async (tx: Queryable) => {
    await tx.sql`delete from import_previews where id = ${id}`;
    if (announce) await tx.sql`select pg_notify(${TABLES_CHANNEL}, ${GONE + id})`;
  };
  try {
    const truncated = await db.transaction(async (tx) => {
      await tx.sql`lock table import_preview_routes in access exclusive mode nowait`;
      const [other] = await tx.sql<{ any: boolean }>`
        select exists (select 1 from import_previews where id <> ${id}) as any`;
      if (other!.any) return false;
      await tx.sql`truncate import_preview_routes`;
      await gone(tx);
      return true;
    });
    if (truncated) return;
  } catch (error) {
    // 55P03: an instance reads a preview, or another import writes one.
    if ((error as { code?: unknown }).code !== "55P03") throw error;
  }
  await db.transaction(async (tx) => {
    await tx.sql`delete from import_preview_routes where import_id = ${id}`;
    await gone(tx);
  });
}

/**
 * The routes of preview `id`, or null when it is gone or incomplete (removed while this
 * read began). Only where the driver streams COPY.
 */
export async function loadPreview(db: Db, id: number): Promise<RouteColumns | null> {
  if (!db.copyOut) return null;
  return await db.transaction(async (tx) => {
    await tx.sql`set transaction isolation level repeatable read, read only`;
    const [head] = await tx.sql<{ rows: number }>`
      select rows from import_previews where id = ${id}`;
    if (!head) return null;
    await tx.sql`select set_config('lotse.preview', ${String(id)}, true)`;
    // In columns (db/route_columns.ts): a first import into an empty table is taken as it is.
    const routes = await decodeRouteColumns(
      tx.copyOut!`copy (select id, evidence_type, region_key, provider_id
        from import_preview_routes where import_id = current_setting('lotse.preview')::bigint)
        to stdout (format binary)`,
      // Read while the instance serves.
      { sliced: true },
    );
    return routes.length === Number(head.rows) ? routes : null;
  });
}
