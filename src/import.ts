/**
 * Bulk import of one table from NDJSON (one body per line, plus `"id"`) or CSV (RFC 4180,
 * parsed by csv-parse; a header row naming the fields), read as a stream and written in one
 * transaction: all rows or none. Every bad row is reported, not just the first.
 *
 * @module
 */
import { pipeline, Readable } from "node:stream";
import { setImmediate } from "node:timers";
import { CsvError, type Options, parse } from "csv-parse";
import type { Db, Queryable } from "../db/types.ts";
import { checkReferences, readKeys, REFERENCED, type TableRows } from "../db/tables.ts";
import { openBulkWriter } from "../db/bulk.ts";
import { openImportPreview } from "../db/import_preview.ts";
import { recordAudit } from "../db/audit.ts";
import { Problem } from "./problem.ts";
import { readBody } from "./validate.ts";
import { parseRouteLine } from "./route_line.ts";
import type { Route, TableName } from "./model.ts";
import type { FieldError } from "./validate.ts";

export interface RowError {
  /** 1-based line number in the uploaded file. */
  readonly line: number;
  readonly id?: string;
  readonly message: string;
  readonly errors?: readonly FieldError[];
}

export type ImportResult =
  | { ok: true; count: number; version: number }
  | { ok: false; errorCount: number; errors: RowError[] };

export interface ImportOptions {
  /** Validates one row; throws a Problem for a bad one. */
  toRow: <K extends TableName>(table: K, id: string, body: unknown) => TableRows[K];
  /** Most rows accepted in one import; default 2,000,000. */
  maxRows?: number;
  /** Most errors listed in the report; reading stops there. Default 100. */
  maxErrors?: number;
  /** Longest pause in the upload before it is refused (408); default 30 s. */
  idleMs?: number;
  /** Who imports (client id): recorded in the audit trail with the import. */
  actor?: string;
  /** Changed routes from which indexes and foreign keys are rebuilt (db/bulk.ts); tests. */
  bulkRows?: number;
  /** Called when the preview of a large route import fails (the import goes on). */
  onPreviewError?: (error: unknown) => void;
}

/** Longest stretch of parsing and validating before the import lets other requests run. */
const SLICE_MS = 5;

class Rollback extends Error {}

/** The longest NDJSON line or CSV record accepted, in characters (bytes for CSV). */
const MAX_RECORD = 1024 * 1024;

/**
 * One entry of an upload and the line it starts on: a record, a route already read whole
 * (NDJSON in the usual form, {@linkcode parseRouteLine}), or a row that cannot be read.
 */
type Entry =
  | { readonly line: number; readonly record: Record<string, unknown> }
  | { readonly line: number; readonly route: Route }
  | { readonly line: number; readonly error: string };

function utf8Decoder(): (chunk?: Uint8Array) => string {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  return (chunk) => {
    try {
      return chunk ? decoder.decode(chunk, { stream: true }) : decoder.decode();
    } catch {
      throw new Problem("invalid-request", "Import body is not valid UTF-8");
    }
  };
}

/**
 * Reads lines from a byte stream without holding more than one partial line; yields the
 * complete lines of each chunk together (one await per chunk, not per line).
 */
async function* lines(body: ReadableStream<Uint8Array>, idleMs: number): AsyncGenerator<string[]> {
  const decode = utf8Decoder();
  let rest = "";
  for await (const chunk of readBody(body, { idleMs })) {
    const text = rest + decode(chunk);
    const out: string[] = [];
    let from = 0;
    let at: number;
    while ((at = text.indexOf("\n", from)) !== -1) {
      out.push(withoutCr(text, from, at));
      from = at + 1;
    }
    rest = text.slice(from);
    if (rest.length > MAX_RECORD) {
      throw new Problem(
        "payload-too-large",
        `A line of the import exceeds ${MAX_RECORD} characters`,
      );
    }
    if (out.length > 0) yield out;
  }
  rest += decode();
  if (rest.length > 0) yield [withoutCr(rest, 0, rest.length)];
}

/** `text` from `from` to `to`, without a carriage return at the end. */
function withoutCr(text: string, from: number, to: number): string {
  return text.slice(from, to > from && text.charCodeAt(to - 1) === 13 ? to - 1 : to);
}

async function* ndjsonEntries(
  table: TableName,
  body: ReadableStream<Uint8Array>,
  idleMs: number,
): AsyncGenerator<Entry[]> {
  const routes = table === "routes";
  let line = 0;
  for await (const texts of lines(body, idleMs)) {
    const entries: Entry[] = [];
    for (const text of texts) {
      line++;
      const route = routes ? parseRouteLine(text) : null;
      if (route !== null) {
        entries.push({ line, route });
        continue;
      }
      if (text.trim() === "") continue;
      try {
        const parsed = JSON.parse(text);
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
          throw new Error("Expected a JSON object");
        }
        entries.push({ line, record: parsed });
      } catch (error) {
        entries.push({ line, error: (error as Error).message });
      }
    }
    yield entries;
  }
}

/** The body's bytes, unchanged, after checking that they are UTF-8. */
async function* utf8Bytes(
  body: ReadableStream<Uint8Array>,
  idleMs: number,
): AsyncGenerator<Uint8Array> {
  const decode = utf8Decoder();
  for await (const chunk of readBody(body, { idleMs })) {
    decode(chunk);
    yield chunk;
  }
  decode();
}

function lineBreaks(text: string): number {
  return text.match(/\r\n|\r|\n/g)?.length ?? 0;
}

function csvHeader(cells: string[]): string[] {
  const header = cells.map((h) => h.trim());
  const empty = header.indexOf("");
  if (empty !== -1) {
    throw new Problem(
      "invalid-request",
      `CSV header has an empty column name at column ${empty + 1}`,
    );
  }
  const twice = header.find((name, i) => header.indexOf(name) !== i);
  if (twice !== undefined) {
    throw new Problem("invalid-request", `CSV header names column "${twice}" twice`);
  }
  if (!header.includes("id")) {
    throw new Problem("invalid-request", 'CSV header lacks an "id" column');
  }
  return header;
}

interface NumberedRecord {
  readonly record: string[];
  /** The line the record starts on. */
  readonly line: number;
}

/**
 * The records of an RFC 4180 CSV upload (quoted commas, quotes and line breaks), parsed by
 * csv-parse as the bytes arrive. A row with the wrong number of cells is reported and the
 * rest read on; broken quoting ends the file, reported at the line its record starts on.
 */
async function* csvEntries(
  table: TableName,
  body: ReadableStream<Uint8Array>,
  idleMs: number,
): AsyncGenerator<Entry[]> {
  // Line numbers are counted as csv-parse reads, so that an error that drops the records
  // still buffered is reported at the line its own record starts on.
  let next = 1;
  const options: Options<NumberedRecord, unknown> = {
    bom: true,
    raw: true,
    relax_column_count: true,
    skip_empty_lines: true,
    max_record_size: MAX_RECORD,
    // With `raw`, csv-parse hands each record over as `{ record, raw }`.
    on_record: (value) => {
      const { record, raw } = value as { record: string[]; raw: string };
      const line = next + lineBreaks(/^[\r\n]*/.exec(raw)![0]);
      next += lineBreaks(raw);
      return { record, line };
    },
  };
  // The typings know no `on_record` that changes the record's shape.
  const parser = parse(options as unknown as Options);
  // pipeline() carries a read or UTF-8 error of the body into the parser's iterator.
  pipeline(Readable.from(utf8Bytes(body, idleMs)), parser, () => {});
  let header: string[] | null = null;
  try {
    for await (
      const { record, line } of parser as AsyncIterable<{ record: string[]; line: number }>
    ) {
      if (!header) {
        header = csvHeader(record);
      } else if (record.every((value) => value.trim() === "")) {
        continue;
      } else if (record.length !== header.length) {
        yield [{ line, error: `Expected ${header.length} cells, got ${record.length}` }];
      } else {
        yield [{ line, record: csvRecord(table, header, record) }];
      }
    }
  } catch (error) {
    if (!(error instanceof CsvError)) throw error;
    if (error.code === "CSV_MAX_RECORD_SIZE") {
      throw new Problem("payload-too-large", `A record of the import exceeds ${MAX_RECORD} bytes`);
    }
    yield [{ line: next, error: `Cannot read CSV: ${error.message}` }];
  } finally {
    parser.destroy();
  }
}

function cell(value: string): unknown {
  const trimmed = value.trim();
  if (trimmed === "") return undefined;
  if (/^[[{]/.test(trimmed) || trimmed === "true" || trimmed === "false" || trimmed === "null") {
    try {
      return JSON.parse(trimmed);
    } catch {
      return value;
    }
  }
  return value;
}

function csvRecord(table: TableName, header: string[], cells: string[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  header.forEach((name, i) => {
    const value = cell(cells[i]!);
    if (value !== undefined) record[name] = value;
  });
  // A region key of "" (Bund) is a real value, not an absent one.
  if (table === "routes" && header.includes("regionKey") && record.regionKey === undefined) {
    record.regionKey = "";
  }
  return record;
}

/**
 * Imports the request's body into `table`. CSV when the content type says `text/csv`,
 * otherwise NDJSON. Postcodes in CSV take one `id,ags,ort` row per place.
 */
export async function importRows(
  db: Db,
  table: TableName,
  request: Request,
  options: ImportOptions,
): Promise<ImportResult> {
  const body = request.body;
  if (!body) throw new Problem("invalid-request", "Missing request body");
  const type = request.headers.get("content-type") ?? "";
  const csv = /^text\/csv\b/i.test(type);
  if (!csv && !/^application\/(x-)?ndjson\b|^application\/jsonl?\b/i.test(type)) {
    throw new Problem(
      "unsupported-media-type",
      `Expected Content-Type "application/x-ndjson" or "text/csv", got "${type}"`,
    );
  }
  const maxRows = options.maxRows ?? 2_000_000;
  const maxErrors = options.maxErrors ?? 100;
  const errors: RowError[] = [];
  let errorCount = 0;
  let count = 0;
  const places = new Map<string, { line: number; places: { ags: string; ort: string }[] }>();
  const addError = (error: RowError) => {
    errorCount++;
    if (errors.length < maxErrors) errors.push(error);
  };

  // Many changed routes go to a preview the other instances build from before the commit
  // (db/import_preview.ts); only where the driver streams COPY.
  const preview = table === "routes" && db.copyOut
    ? openImportPreview(db, options.onPreviewError)
    : undefined;
  let committed = false;
  try {
    const version = await db.transaction(async (tx: Queryable) => {
      // The rows a reference may name, read once before the rows stream in: a row naming a
      // missing one is reported with its line, instead of one database error for the whole
      // import.
      const keys = new Map<TableName, Set<string>>();
      for (const name of REFERENCED[table]) keys.set(name, await readKeys(tx, name));
      const missingIn = (name: TableName, key: string, field: string) =>
        keys.get(name)!.has(key) ? null : `${field} "${key}" names no ${name} row`;
      const missingReference = (row: TableRows[TableName]) =>
        checkReferences(table, row, missingIn);
      const bulk = await openBulkWriter(tx, table, { bulkRows: options.bulkRows, preview });
      try {
        const idleMs = options.idleMs ?? 30_000;
        const entries = csv ? csvEntries(table, body, idleMs) : ndjsonEntries(table, body, idleMs);
        let slice = performance.now();
        let n = 0;
        reading: for await (const batch of entries) {
          for (const entry of batch) {
            // Parsing and validating is synchronous work: give the event loop back often, so
            // the rest of the service answers normally while a large import runs. (Not through
            // setTimeout: nested timers wait at least 4 ms, nearly doubling the import. The
            // clock is read every 64 rows: reading it for each cost a tenth of the import.)
            if ((++n & 63) === 0 && performance.now() - slice > SLICE_MS) {
              await new Promise((resolve) => setImmediate(resolve));
              slice = performance.now();
            }
            // With the report full the import is refused anyway: stop reading (bounded time
            // and memory for a malformed upload).
            if (errorCount >= maxErrors) break reading;
            const lineNo = entry.line;
            if ("error" in entry) {
              addError({ line: lineNo, message: entry.error });
              continue;
            }
            let row: TableRows[typeof table];
            let id: string;
            if ("route" in entry) {
              row = entry.route as TableRows[typeof table];
              id = entry.route.id;
            } else {
              const { id: rawId, ...rest } = entry.record;
              if (typeof rawId !== "string") {
                addError({ line: lineNo, message: 'Missing "id"' });
                continue;
              }
              id = rawId;
              if (csv && table === "postcodes") {
                try {
                  const missing = missingReference(options.toRow(table, id, { places: [rest] }));
                  if (missing) throw new Error(missing);
                  const held = places.get(id);
                  const place = rest as { ags: string; ort: string };
                  if (held) held.places.push(place);
                  else places.set(id, { line: lineNo, places: [place] });
                } catch (error) {
                  addError(rowError(lineNo, id, error));
                }
                continue;
              }
              try {
                row = options.toRow(table, id, rest);
              } catch (error) {
                addError(rowError(lineNo, id, error));
                continue;
              }
            }
            const missing = missingReference(row);
            if (missing) {
              addError({ line: lineNo, id, message: missing });
              continue;
            }
            if (++count > maxRows) {
              throw new Problem("payload-too-large", `More than ${maxRows} rows`);
            }
            const added = bulk.add(row, lineNo, errorCount > 0);
            if (added !== undefined) await added;
          }
        }
        for (const [plz, { line, places: list }] of places) {
          await bulk.add({ plz, places: list } as TableRows[typeof table], line, errorCount > 0);
          count++;
        }
      } catch (error) {
        // A COPY under way holds the connection: end it, or the rollback cannot run.
        await bulk.abort();
        throw error;
      }
      // Rows that clash with each other (an id twice) are found once all are in.
      const clashes = await bulk.check(maxErrors, errorCount);
      if (clashes.errorCount > 0) {
        errorCount += clashes.errorCount;
        errors.push(...clashes.errors);
        errors.sort((a, b) => a.line - b.line);
        errors.length = Math.min(errors.length, maxErrors);
      }
      if (errorCount > 0) throw new Rollback();
      if (count === 0) throw new Problem("invalid-request", "Import holds no rows");
      const version = await bulk.commit();
      if (options.actor !== undefined) {
        await recordAudit(tx, {
          actor: options.actor,
          action: "import",
          table,
          key: null,
          detail: { rows: count, format: csv ? "csv" : "ndjson", version },
        });
      }
      return version;
    });
    committed = true;
    return { ok: true, count, version };
  } catch (error) {
    if (error instanceof Rollback) return { ok: false, errorCount, errors };
    const code = (error as { code?: unknown })?.code;
    if (typeof code === "string" && /^2[23]/.test(code)) {
      // The database's own text names its internals; the caller gets what it means.
      return {
        ok: false,
        errorCount: 1,
        errors: [{
          line: 0,
          message: code === "23503"
            ? "A row refers to a row that does not exist"
            : "A row violates a constraint of its table",
        }],
      };
    }
    throw error;
  } finally {
    // Committed or not, the preview has done its part (an instance that builds from it
    // read it in a snapshot of its own, or finds it gone and reads the table).
    await preview?.remove(committed);
  }
}

function rowError(line: number, id: string, error: unknown): RowError {
  if (error instanceof Problem) {
    return { line, id, message: error.message, errors: error.extra?.errors as FieldError[] };
  }
  return { line, id, message: (error as Error).message ?? String(error) };
}
