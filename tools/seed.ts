/**
 * Loads the generated full-scale tables (tools/generate.ts) into the PostgreSQL at
 * `DATABASE_URL`, in one transaction per run (db/seed.ts):
 *
 * ```sh
 * DATABASE_URL=postgres://… deno run -A tools/seed.ts --full [--routes 1000000] [--demo-clients]
 * ```
 *
 * @module
 */
import { connectPostgres } from "../db/postgres.ts";
import { migrate } from "../db/migrate.ts";
import { demoPermissionsFor, generateTables } from "./generate.ts";
import { DEMO_CLIENTS } from "../demo/clients.ts";
import { seedTables } from "../db/seed.ts";

function argValue(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(args: string[]): Promise<void> {
  const url = Deno.env.get("DATABASE_URL");
  if (!args.includes("--full") || !url) {
    console.error(
      "Usage: DATABASE_URL=postgres://… deno run -A tools/seed.ts --full [--routes N] " +
        "[--provider-base-url URL] [--demo-clients] [--seed N]",
    );
    Deno.exit(2);
  }
  const routesArg = argValue(args, "--routes");
  const minRoutes = routesArg === undefined ? undefined : Number(routesArg);
  if (minRoutes !== undefined && !(Number.isInteger(minRoutes) && minRoutes > 0)) {
    console.error(`Cannot parse --routes "${routesArg}": expected a positive whole number`);
    Deno.exit(2);
  }
  const db = await connectPostgres(url, { max: 2 });
  try {
    await migrate(db);
    let t = performance.now();
    const generated = generateTables({
      seed: Number(argValue(args, "--seed") ?? 1),
      minRoutes,
      providerBaseUrl: argValue(args, "--provider-base-url"),
    });
    console.log(`Generated in ${(performance.now() - t).toFixed(0)} ms`);
    const demo = args.includes("--demo-clients");
    t = performance.now();
    const result = await seedTables(db, {
      regions: generated.regions,
      postcodes: generated.postcodes,
      evidenceTypes: generated.evidenceTypes,
      providers: generated.providers,
      routes: generated.routes,
      ...(demo ? { clients: DEMO_CLIENTS, permissions: demoPermissionsFor(generated) } : {}),
    }, { replace: true });
    console.log(`Seeded in ${(performance.now() - t).toFixed(0)} ms: ${JSON.stringify(result)}`);
  } finally {
    await db.close();
  }
}

if (import.meta.main) await main(Deno.args);
