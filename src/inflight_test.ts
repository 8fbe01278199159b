import assert from "node:assert/strict";
import { closeInterrupted, InflightJournal } from "./inflight.ts";
import type { ProtocolPort } from "./protocol/port.ts";
import type { TransferOutcome } from "./protocol/mod.ts";

/** A protocol port that keeps the outcomes it is given. */
function recorder(): ProtocolPort & { finished: Map<string, TransferOutcome> } {
  const finished = new Map<string, TransferOutcome>();
  return {
    finished,
    begin: () => Promise.resolve(),
    refused: () => Promise.resolve(),
    granted: () => Promise.resolve(),
    finish: (id, outcome) => {
      finished.set(id, outcome);
      return Promise.resolve();
    },
    queueDepth: 0,
  };
}

/** A journal left by a crash with the given transfers running. */
async function crashed(ids: string[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "lotse-inflight-" });
  const path = `${dir}/inflight.journal`;
  const journal = await InflightJournal.open(path);
  for (const id of ids) journal.begin(id);
  journal.close(); // a crash: nothing ended
  return path;
}

Deno.test("an interrupted transfer still in flight is closed as failed, reason interrupted", async () => {
  const id = crypto.randomUUID();
  const path = await crashed([id]);
  const journal = await InflightJournal.open(path);
  const protocol = recorder();
  assert.equal(await closeInterrupted(journal, protocol, () => Promise.resolve("in-flight")), 1);
  assert.deepEqual(protocol.finished.get(id), { outcome: "failed", reason: "interrupted" });
  journal.close();
});

Deno.test("one the database does not know stays for the next start until the spool is replayed", async () => {
  const id = crypto.randomUUID();
  const path = await crashed([id]);
  const unknown = () => Promise.resolve(null);

  const first = await InflightJournal.open(path);
  assert.equal(await closeInterrupted(first, recorder(), unknown, { replayed: false }), 0);
  first.close();
  const second = await InflightJournal.open(path);
  assert.deepEqual(second.interrupted, [id], "kept: its decision may still be in the spool");

  assert.equal(await closeInterrupted(second, recorder(), unknown, { replayed: true }), 0);
  second.close();
  const third = await InflightJournal.open(path);
  assert.deepEqual(third.interrupted, [], "after the replay, unknown means never recorded");
  third.close();
  await Deno.remove(path.slice(0, path.lastIndexOf("/")), { recursive: true });
});

Deno.test("the interrupted transfers' outcomes are all queued before the first is awaited", async () => {
  const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
  const path = await crashed(ids);
  const journal = await InflightJournal.open(path);
  // A log that writes outcomes only once it holds all three, as the protocol log holds an
  // outcome for company: awaiting each in turn would wait for ever.
  const release = Promise.withResolvers<void>();
  const queued: string[] = [];
  const protocol: ProtocolPort = {
    ...recorder(),
    finish: (id) => {
      queued.push(id);
      if (queued.length === ids.length) release.resolve();
      return release.promise;
    },
  };
  const closing = closeInterrupted(journal, protocol, () => Promise.resolve("in-flight"));
  const stuck = Promise.withResolvers<never>();
  const timer = setTimeout(
    () => stuck.reject(new Error(`only ${queued.length} of 3 outcomes queued`)),
    30_000,
  );
  try {
    assert.equal(await Promise.race([closing, stuck.promise]), 3);
  } finally {
    clearTimeout(timer);
  }
  assert.deepEqual([...queued].sort(), [...ids].sort());
  journal.close();
  await Deno.remove(path.slice(0, path.lastIndexOf("/")), { recursive: true });
});
