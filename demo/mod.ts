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
import { demoXnachweis } from "./xnachweis_register.ts";

export * from "./clients.ts";
export * from "./registers.ts";
export * from "./tables.ts";

/** The demo as `startLotse()` takes it. */
export const demo: DemoSetup = {
  // The registers answer the JSON face at /providers/<id> and XNachweis (0101/0301) at
  // /xnachweis/providers/<id>.
  startRegisters: (options) =>
    startDemoProvider({ ...options, xnachweis: demoXnachweis(options.jwks, options.issuer) }),
  tables: (providerBaseUrl) => ({
    ...demoTables(providerBaseUrl),
    clients: DEMO_CLIENTS,
    permissions: DEMO_PERMISSIONS,
  }),
};
