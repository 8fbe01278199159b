/**
 * The embedded database of a Lotse started without `DATABASE_URL`, kept in its data directory:
 * a PostgreSQL server Lotse runs itself ({@linkcode openEmbeddedPostgres}, in `<dataDir>/postgres`)
 * where there are binaries for the platform, else PGlite (PostgreSQL compiled to WASM, in
 * process, in `<dataDir>/pglite`). A data directory an older Lotse filled with PGlite stays on
 * PGlite, so no data is left behind.
 *
 * @example
 * ```ts
 * const { db, engine } = await openEmbedded("./data");
 * console.log(engine); // "postgres" on Linux x64
 * await db.close();
 * ```
 *
 * @module
 */
import type { Db } from "./types.ts";
import { openEmbeddedPostgres, packagedBinDir } from "./embedded_postgres.ts";

/** What {@linkcode openEmbedded} opened. */
export interface EmbeddedDb {
  readonly db: Db;
  readonly engine: "postgres" | "pglite";
  /** Where its files are. */
  readonly dir: string;
}

/** Options for {@linkcode openEmbedded}. */
export interface EmbeddedOptions {
  /** A directory holding `initdb` and `postgres`; default the npm package's, where it has one. */
  bin?: string | null;
  /** Connect to the server of a running Lotse instead of waiting for it to stop. */
  attach?: boolean;
}

/** Opens (creating when needed) the embedded database in `dataDir`. */
export async function openEmbedded(
  dataDir: string,
  options: EmbeddedOptions = {},
): Promise<EmbeddedDb> {
  const postgresDir = `${dataDir}/postgres`;
  const pgliteDir = `${dataDir}/pglite`;
  const legacy = !await isDir(postgresDir) && await isDir(pgliteDir);
  const bin = legacy ? null : options.bin ?? await packagedBinDir();
  if (bin !== null) {
    const db = await openEmbeddedPostgres(bin, postgresDir, { attach: options.attach });
    return { db, engine: "postgres", dir: postgresDir };
  }
  // Loaded only when used: PGlite's WASM loader is heavy.
  const { openPglite } = await import("./pglite.ts");
  return { db: await openPglite(pgliteDir), engine: "pglite", dir: pgliteDir };
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
