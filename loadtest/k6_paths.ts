/**
 * Prints a JSON array of navigation paths over the generated full-scale tables (every one
 * answers 200), for k6's `LOTSE_PATHS` when Lotse holds those tables (`tools/seed.ts --full`).
 *
 * `deno run -A loadtest/k6_paths.ts [count] > paths.json`
 *
 * @module
 */
import { generateTables } from "../tools/generate.ts";
import { navigationPaths } from "./run.ts";

const count = Number(Deno.args[0] ?? 2000);
console.log(JSON.stringify(navigationPaths(generateTables({ seed: 1 }), count), null, 1));
