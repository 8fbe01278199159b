/**
 * Onboarding, the operator's use case: one table row read, written or deleted (each write
 * bumps the table's version, so every instance reloads), and whole tables imported
 * (src/import.ts). The admin routes reach the database through here only.
 *
 * @example
 * ```ts
 * const { row, created } = await putRow(db, "providers", provider);
 * await store.refresh();
 * ```
 *
 * @module
 */
export { deleteRow, getRow, putRow, type TableRows } from "../db/tables.ts";
export type { Db } from "../db/types.ts";
export { importRows } from "./import.ts";
