/**
 * The demo, outside the core: registers for the two NOOTS pilots (with fault modes for the
 * tests), their tables, and demo clients with published keys. Lotse reaches it only through
 * `startLotse(config, { demo })`, which src/main.ts calls with `--demo`.
 *
 * @example
 * ```ts
 * import { demo } from "../demo/mod.ts";
 * const lotse = await startLotse(config, { demo });
 * ```
 *
 * @module
 */
import type { DemoSetup } from "../src/boot.ts";
import { DEMO_CLIENTS, DEMO_PERMISSIONS } from "./clients.ts";
import { startDemoProvider } from "./registers.ts";
import { demoTables } from "./tables.ts";

export * from "./broken_register.ts";
export * from "./clients.ts";
export * from "./registers.ts";
export * from "./tables.ts";

/** The demo as `startLotse()` takes it. */
export const demo: DemoSetup = {
  startRegisters: (options) => startDemoProvider(options),
  tables: (providerBaseUrl) => ({
    ...demoTables(providerBaseUrl),
    clients: DEMO_CLIENTS,
    permissions: DEMO_PERMISSIONS,
  }),
};
