/**
 * Bulk import of one table from NDJSON (one body per line, plus `"id"`) or CSV (a header
 * row naming the fields), read as a stream and written in one transaction: all rows or none.
 * Every bad row is reported, not just the first.
 *
 * @module
 */
import type { Db, Queryable } from "../db/types.ts";
import { bump, type TableRows, writeRow } from "../db/tables.ts";
import { Problem } from "./problem.ts";
import { readBody } from "./validate.ts";
import type { TableName } from "./tables.ts";
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
}

/** Longest stretch of parsing and validating before the import lets other requests run. */
const SLICE_MS = 5;

const BATCH = 500;

class Rollback extends Error {}

const MAX_LINE = 1024 * 1024;

/** Reads lines from a byte stream without holding more than one partial line. */
async function* lines(body: ReadableStream<Uint8Array>, idleMs: number): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const decode = (chunk?: Uint8Array) => {
    try {
      return chunk ? decoder.decode(chunk, { stream: true }) : decoder.decode();
    } catch {
      throw new Problem("invalid-request", "Import body is not valid UTF-8");
    }
  };
  let rest = "";
  for await (const chunk of readBody(body, { idleMs })) {
    rest += decode(chunk);
    let at: number;
    while ((at = rest.indexOf("\n")) !== -1) {
      yield rest.slice(0, at).replace(/\r$/, "");
      rest = rest.slice(at + 1);
    }
    if (rest.length > MAX_LINE) {
      throw new Problem("payload-too-large", `A line of the import exceeds ${MAX_LINE} characters`);
    }
  }
  rest += decode();
  if (rest.length > 0) yield rest.replace(/\r$/, "");
}

/** Splits one CSV record (RFC 4180 quoting, no line breaks inside quotes). */
export function parseCsvLine(line: string): string[] {
  const cells: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let value = "";
      i++;
      while (i < line.length) {
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else value += line[i++];
      }
      cells.push(value);
      if (line[i] === ",") i++;
      else if (i < line.length) {
        throw new Error(`Unexpected character after quoted cell at ${i + 1}`);
      } else break;
    } else {
      const end = line.indexOf(",", i);
      if (end === -1) {
        cells.push(line.slice(i));
        break;
      }
      cells.push(line.slice(i, end));
      i = end + 1;
    }
  }
  return cells;
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
  if (cells.length !== header.length) {
    throw new Error(`Expected ${header.length} cells, got ${cells.length}`);
  }
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
  const seen = new Set<string>();
  const places = new Map<string, { ags: string; ort: string }[]>();
  const addError = (error: RowError) => {
    errorCount++;
    if (errors.length < maxErrors) errors.push(error);
  };

  try {
    const version = await db.transaction(async (tx: Queryable) => {
      let batch: Promise<void>[] = [];
      let header: string[] | null = null;
      let lineNo = 0;
      let slice = performance.now();
      try {
        for await (const line of lines(body, options.idleMs ?? 30_000)) {
          lineNo++;
          // Parsing and validating is synchronous work: give the event loop back often, so
          // the rest of the service answers normally while a large import runs.
          if (performance.now() - slice > SLICE_MS) {
            await new Promise((resolve) => setTimeout(resolve, 0));
            slice = performance.now();
          }
          // With the report full the import is refused anyway: stop reading (bounded
          // time and memory for a malformed upload).
          if (errorCount >= maxErrors) break;
          if (line.trim() === "") continue;
          let record: Record<string, unknown>;
          try {
            if (csv) {
              if (!header) {
                const names = parseCsvLine(line).map((h) => h.trim());
                if (!names.includes("id")) throw new Error('it lacks an "id" column');
                header = names;
                continue;
              }
              record = csvRecord(table, header, parseCsvLine(line));
            } else {
              const parsed = JSON.parse(line);
              if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
                throw new Error("Expected a JSON object");
              }
              record = parsed;
            }
          } catch (error) {
            if (!header && csv) {
              if (error instanceof Problem) throw error;
              throw new Problem(
                "invalid-request",
                `Cannot parse the CSV header row: ${(error as Error).message}`,
              );
            }
            addError({ line: lineNo, message: (error as Error).message });
            continue;
          }
          const { id, ...rest } = record;
          if (typeof id !== "string") {
            addError({ line: lineNo, message: 'Missing "id"' });
            continue;
          }
          if (csv && table === "postcodes") {
            try {
              options.toRow(table, id, { places: [rest] });
              places.set(id, [...(places.get(id) ?? []), rest as { ags: string; ort: string }]);
            } catch (error) {
              addError(rowError(lineNo, id, error));
            }
            continue;
          }
          if (seen.has(id)) {
            addError({ line: lineNo, id, message: `Duplicate id "${id}"` });
            continue;
          }
          seen.add(id);
          let row;
          try {
            row = options.toRow(table, id, rest);
          } catch (error) {
            addError(rowError(lineNo, id, error));
            continue;
          }
          if (++count > maxRows) {
            throw new Problem("payload-too-large", `More than ${maxRows} rows`);
          }
          if (errorCount === 0) {
            batch.push(writeRow(tx, table, row));
            if (batch.length >= BATCH) {
              await Promise.all(batch);
              batch = [];
            }
          }
        }
      } catch (error) {
        if (error instanceof Problem) throw error;
        throw error;
      }
      await Promise.all(batch);
      if (csv && table === "postcodes" && errorCount === 0) {
        for (const [plz, list] of places) {
          batch.push(writeRow(tx, "postcodes", { plz, places: list }));
          count++;
          if (batch.length >= BATCH) {
            await Promise.all(batch);
            batch = [];
          }
        }
        await Promise.all(batch);
      }
      if (errorCount > 0) throw new Rollback();
      if (count === 0) throw new Problem("invalid-request", "Import holds no rows");
      return await bump(tx, table);
    });
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
  }
}

function rowError(line: number, id: string, error: unknown): RowError {
  if (error instanceof Problem) {
    return { line, id, message: error.message, errors: error.extra?.errors as FieldError[] };
  }
  return { line, id, message: (error as Error).message ?? String(error) };
}
