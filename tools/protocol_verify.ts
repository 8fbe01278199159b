/**
 * `deno task protocol:verify`: walks the protocol log's hash chain and reports the first
 * broken link. Reads `DATABASE_URL`, or without it the embedded database in `LOTSE_DATA_DIR`
 * (db/embedded.ts: the embedded PostgreSQL, through the running Lotse's server or a server of
 * its own while Lotse is stopped; with PGlite, stop Lotse first: PGlite is single-process).
 *
 * Exit status: 0 when the chain is intact, 1 when a link is broken, 2 when the database
 * cannot be read.
 *
 * @example
 * ```sh
 * DATABASE_URL=postgres://… deno run -A tools/protocol_verify.ts
 * # OK: 120345 protocol entries verified (seq 1 to 120345)
 * ```
 *
 * @module
 */
import { parseConfig } from "../src/config.ts";
import { connectPostgres } from "../db/postgres.ts";
import { openEmbedded } from "../db/embedded.ts";
import { verifyChain } from "../src/protocol/mod.ts";
import type { Db } from "../db/types.ts";

async function main(): Promise<number> {
  let db: Db;
  try {
    const config = parseConfig(Deno.env.toObject());
    db = config.databaseUrl
      ? await connectPostgres(config.databaseUrl, { max: 1 })
      : (await openEmbedded(config.dataDir, { bin: config.postgresBin, attach: true })).db;
  } catch (error) {
    console.error(`Cannot open the database: ${(error as Error).message}`);
    return 2;
  }
  try {
    const result = await verifyChain(db);
    if (result.ok) {
      console.log(
        result.count === 0
          ? "OK: 0 protocol entries verified (the chain is empty)"
          : `OK: ${result.count} protocol entries verified (seq ${result.firstSeq} to ${result.lastSeq})`,
      );
      return 0;
    }
    console.error(
      `BROKEN at seq ${result.seq}: ${result.reason} (${result.count} entries verified before it)`,
    );
    return 1;
  } catch (error) {
    console.error(`Cannot verify the protocol chain: ${(error as Error).message}`);
    return 2;
  } finally {
    await db.close();
  }
}

if (import.meta.main) Deno.exit(await main());
