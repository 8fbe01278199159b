/**
 * CPU cost of the protocol log's own work per batch: hash-chaining entries and encoding
 * spool frames (TARGETS P6). `deno bench --allow-all src/protocol/protocol_bench.ts`; the
 * load test against PostgreSQL is `loadtest/protocol_bench.ts`.
 *
 * @module
 */
import { chainRows, GENESIS_HASH } from "./_chain.ts";
import { decisionEntry } from "./_entry.ts";
import { encodeFrames } from "./_frame.ts";
import { sampleDecision } from "./testing.ts";

const KEY = "bench-key-0123456789-0123456789-0123456789";

const decision = sampleDecision;

const sample = Array.from(
  { length: 1000 },
  () => decisionEntry(decision(), { now: new Date(), hmacKey: KEY, outcome: "in-flight" }),
);

Deno.bench({
  name: "chain 1000 entries into the batch text (SHA-256)",
  group: "cpu",
  baseline: true,
}, () => {
  chainRows(sample, { seq: 0, hash: GENESIS_HASH });
});
Deno.bench({ name: "encode 1000 spool frames (CRC-32)", group: "cpu" }, () => {
  encodeFrames(sample);
});
