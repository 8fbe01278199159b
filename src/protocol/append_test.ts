import assert from "node:assert/strict";
import type { Db } from "../../db/types.ts";
import { appendEntries } from "./_append.ts";
import { entryHash, GENESIS_HASH } from "./_chain.ts";
import { decisionEntry } from "./_entry.ts";
import { sampleDecision } from "./testing.ts";

Deno.test("a one-entry batch is a statement of at least 1 KiB, so postgres.js sends it at once", async () => {
  const values: unknown[][] = [];
  const db = {
    sql: (_strings: TemplateStringsArray, ...args: unknown[]) => {
      values.push(args);
      return Promise.resolve([{ n: 1 }]);
    },
  } as unknown as Db;
  const entry = decisionEntry(sampleDecision(), {
    now: new Date(),
    hmacKey: "k".repeat(32),
    outcome: "in-flight",
  });
  const head = { seq: 7, hash: GENESIS_HASH };
  const result = await appendEntries(db, [entry], { checkExisting: false, head });
  assert.equal(result.written, 1);
  assert.equal(result.head?.seq, 8);
  assert.equal(values.length, 1);
  const json = values[0]!.find((v) => typeof v === "string" && v.startsWith("[")) as string;
  assert.ok(json.length >= 1024, `${json.length} characters`);
  const [row] = JSON.parse(json);
  assert.equal(row[0], GENESIS_HASH);
  assert.equal(row[1], entryHash(GENESIS_HASH, entry, 8));
  assert.equal(row[3], 8);
  assert.equal(row[4], entry.transferId);
});
