/**
 * Lotse's entry point: reads the configuration and serves. `--demo` is the same as
 * `LOTSE_DEMO=1`.
 */
import { CONFIG_VARIABLES, ConfigError, parseConfig } from "./config.ts";
import { startLotse } from "./boot.ts";
import { createLogger, flushLogs } from "./log.ts";
import { enlargeStdoutPipe } from "./_stdout_pipe.ts";

const env: Record<string, string> = {};
for (const name of CONFIG_VARIABLES) {
  const value = Deno.env.get(name);
  if (value !== undefined) env[name] = value;
}
if (Deno.args.includes("--demo")) env.LOTSE_DEMO ??= "1";

let config;
try {
  config = parseConfig(env);
} catch (error) {
  if (error instanceof ConfigError) {
    createLogger().error("Cannot start Lotse: bad configuration", { error: error.message });
    Deno.exit(2);
  }
  throw error;
}

const logger = createLogger({ level: config.logLevel });
// Log lines are written synchronously: a reader of standard output that falls behind must not
// stop the event loop as soon as 64 KiB of them wait (src/_stdout_pipe.ts).
const pipe = enlargeStdoutPipe();
logger.debug("Standard output", pipe.enlarged ? { pipeBytes: pipe.bytes } : { pipe: pipe.why });
let lotse;
try {
  // The one place where the core reaches demo/ (tests/layering_test.ts): loaded only when asked.
  const demo = config.demo ? (await import("../demo/mod.ts")).demo : undefined;
  // The ready line's phases from the process's start: `modules` first (P8, BENCHMARKS.md).
  lotse = await startLotse(config, { logger, demo, since: 0 });
} catch (error) {
  logger.error("Cannot start Lotse", { error });
  Deno.exit(1);
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, async () => {
    logger.info("Stopping: finishing running requests and flushing the protocol", { signal });
    await lotse.shutdown();
    flushLogs();
    Deno.exit(0);
  });
}
