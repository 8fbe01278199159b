import assert from "node:assert/strict";
import { createLogger, type LogLevel } from "./log.ts";

function capture(level: LogLevel) {
  const lines: string[] = [];
  const logger = createLogger({ level, write: (line) => lines.push(line), now: () => 0 });
  return { logger, lines };
}

Deno.test("createLogger() writes only events at or above its level", () => {
  const seen: Record<string, string[]> = {};
  for (const level of ["debug", "info", "warn", "error"] as const) {
    const { logger, lines } = capture(level);
    logger.debug("d");
    logger.info("i");
    logger.warn("w");
    logger.error("e");
    seen[level] = lines.map((line) => JSON.parse(line).msg);
  }
  assert.deepEqual(seen, {
    debug: ["d", "i", "w", "e"],
    info: ["i", "w", "e"],
    warn: ["w", "e"],
    error: ["e"],
  });
});

Deno.test("createLogger() writes one JSON line per event: time, level, msg, then fields", () => {
  const { logger, lines } = capture("info");
  logger.warn("Table refresh failed", { table: "routes", version: 7, msg: "not the message" });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0]!.includes("\n"));
  assert.deepEqual(Object.entries(JSON.parse(lines[0]!)), [
    ["time", "1970-01-01T00:00:00.000Z"],
    ["level", "warn"],
    ["msg", "Table refresh failed"],
    ["table", "routes"],
    ["version", 7],
  ]);
});

Deno.test("createLogger() writes an error as name and message, its stack only at debug", () => {
  const error = new TypeError("Connection refused", { cause: new Error("ECONNREFUSED") });
  const info = capture("info");
  info.logger.error("Key refresh failed", { error });
  assert.deepEqual(JSON.parse(info.lines[0]!).error, {
    name: "TypeError",
    message: "Connection refused",
    cause: { name: "Error", message: "ECONNREFUSED" },
  });
  const debug = capture("debug");
  debug.logger.error("Key refresh failed", { error });
  const written = JSON.parse(debug.lines[0]!).error;
  assert.equal(written.message, "Connection refused");
  assert.match(written.stack, /TypeError: Connection refused\n\s+at /);
});

Deno.test("createLogger() redacts fields named like a credential or an IDNr", () => {
  const { logger, lines } = capture("info");
  logger.info("x", {
    token: "eyJ.secret",
    accessToken: "eyJ.secret",
    adminSecret: "s3cret",
    authorization: "Bearer eyJ",
    idnr: "86095742719",
    clientId: "stuttgart-bewohnerparken",
  });
  const line = JSON.parse(lines[0]!);
  assert.deepEqual(
    [line.token, line.accessToken, line.adminSecret, line.authorization, line.idnr],
    Array(5).fill("[redacted]"),
  );
  assert.equal(line.clientId, "stuttgart-bewohnerparken");
});

Deno.test("createLogger() keeps an event whose fields cannot be written as JSON", () => {
  const { logger, lines } = capture("info");
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  logger.error("Odd", { cycle });
  assert.deepEqual(JSON.parse(lines[0]!), {
    time: "1970-01-01T00:00:00.000Z",
    level: "error",
    msg: "Odd",
    fields: "[unserializable]",
  });
});

Deno.test("no module of the core writes to the console: every event goes through the logger", async () => {
  const root = new URL("..", import.meta.url);
  const offenders: string[] = [];
  const walk = async (dir: URL): Promise<void> => {
    for await (const entry of Deno.readDir(dir)) {
      const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
      if (entry.isDirectory) await walk(url);
      else if (/\.tsx?$/.test(entry.name) && !/_(test|bench)\.tsx?$/.test(entry.name)) {
        const lines = (await Deno.readTextFile(url)).split("\n");
        lines.forEach((line, i) => {
          // Comments may show console calls as usage examples.
          if (/^\s*(\*|\/\/)/.test(line)) return;
          if (/\bconsole\.\w+\(/.test(line)) {
            offenders.push(`${url.pathname.slice(root.pathname.length)}:${i + 1}`);
          }
        });
      }
    }
  };
  for (const dir of ["src/", "routes/", "crypto/", "db/"]) await walk(new URL(dir, root));
  assert.deepEqual(offenders, []);
});
