import assert from "node:assert/strict";
import { createLogger, LineBatch, type LogLevel } from "./log.ts";

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

Deno.test("createLogger().infoJson() writes serialised fields like info() writes its fields", () => {
  const { logger, lines } = capture("info");
  logger.infoJson("request", `"status":200,"route":"GET /v1/navigation"`);
  logger.info("request", { status: 200, route: "GET /v1/navigation" });
  logger.infoJson("bare", "");
  assert.equal(lines.length, 3);
  assert.equal(lines[0], lines[1]);
  assert.deepEqual(JSON.parse(lines[2]!), {
    time: "1970-01-01T00:00:00.000Z",
    level: "info",
    msg: "bare",
  });
  const quiet = capture("warn");
  quiet.logger.infoJson("request", `"status":200`);
  assert.deepEqual(quiet.lines, []);
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

function batchOf(maxHeld?: number) {
  const written: string[] = [];
  const turns: (() => void)[] = [];
  const decoder = new TextDecoder();
  const batch = new LineBatch({
    // Takes at most 7 bytes per call, like a pipe that is nearly full: the rest must follow.
    writeSync: (bytes) => {
      const n = Math.min(7, bytes.length);
      written.push(decoder.decode(bytes.subarray(0, n)));
      return n;
    },
    schedule: (flush) => turns.push(flush),
    ...(maxHeld === undefined ? {} : { maxHeld }),
  });
  const endTurn = () => turns.splice(0).forEach((flush) => flush());
  return { batch, out: () => written.join(""), turns, endTurn };
}

Deno.test("LineBatch holds a turn's lines and writes them together when the turn ends", () => {
  const { batch, out, turns, endTurn } = batchOf();
  batch.push("a", false);
  batch.push("b", false);
  batch.push("c", false);
  assert.equal(out(), "");
  assert.equal(turns.length, 1, "one flush per turn, not one per line");
  endTurn();
  assert.equal(out(), "a\nb\nc\n");
  assert.equal(batch.held, 0);
  batch.push("d", false);
  assert.equal(turns.length, 1, "the next turn gets its own flush");
  endTurn();
  assert.equal(out(), "a\nb\nc\nd\n");
});

Deno.test("LineBatch writes everything held at once when it holds its most characters", () => {
  // "aaaa\n" and "bbbb\n": 10 characters held, the most.
  const { batch, out, turns, endTurn } = batchOf(10);
  batch.push("aaaa", false);
  assert.equal(out(), "");
  batch.push("bbbb", false);
  assert.equal(out(), "aaaa\nbbbb\n");
  assert.equal(batch.held, 0);
  batch.push("cccc", false);
  assert.equal(out(), "aaaa\nbbbb\n", "counted afresh after the write");
  assert.equal(turns.length, 1, "the flush scheduled for the first line still comes");
  endTurn();
  assert.equal(out(), "aaaa\nbbbb\ncccc\n");
});

Deno.test("LineBatch writes everything held at once, in order, with an urgent line", () => {
  const { batch, out, endTurn } = batchOf();
  batch.push("info 1", false);
  batch.push("info 2", false);
  batch.push("warn", true);
  assert.equal(out(), "info 1\ninfo 2\nwarn\n");
  endTurn();
  assert.equal(out(), "info 1\ninfo 2\nwarn\n", "nothing written twice");
  batch.push("tail", false);
  batch.flush();
  assert.equal(out(), "info 1\ninfo 2\nwarn\ntail\n");
});

Deno.test("LineBatch counts the lines an output refuses instead of throwing", () => {
  const batch = new LineBatch({
    writeSync: () => {
      throw new Deno.errors.BrokenPipe("closed");
    },
    schedule: () => {},
  });
  batch.push("a", false);
  batch.push("b", true);
  assert.equal(batch.lost, 2);
  assert.equal(batch.held, 0);
});

Deno.test("the default logger batches standard output and writes it on flush and exit", async () => {
  const code = `
    import { createLogger, flushLogs } from ${
    JSON.stringify(new URL("./log.ts", import.meta.url).href)
  };
    const out = (text) => Deno.stdout.writeSync(new TextEncoder().encode(text + "\\n"));
    const log = createLogger({ level: "info" });
    log.info("first");
    log.info("second");
    out("held");
    flushLogs();
    out("flushed");
    log.info("third");
    log.warn("urgent");
    out("after urgent");
    log.info("fourth");
    Deno.exit(0);
  `;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  const msgs = lines.map((line) => line.startsWith("{") ? JSON.parse(line).msg : line);
  // "fourth" is still held when Deno.exit is called: the exit writes it.
  assert.deepEqual(msgs, [
    "held",
    "first",
    "second",
    "flushed",
    "third",
    "urgent",
    "after urgent",
    "fourth",
  ]);
});
