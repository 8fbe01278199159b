import assert from "node:assert/strict";
import { canonicalEntry, chainEntries, checkLink, entryHash, GENESIS_HASH } from "./_chain.ts";
import { decisionEntry, idnrHmac, outcomeEntry, type ProtocolEntry } from "./_entry.ts";

const KEY = new TextEncoder().encode("k".repeat(32));

function decision(): ProtocolEntry {
  return decisionEntry({
    transferId: crypto.randomUUID(),
    consumerId: "stuttgart-parken",
    providerId: "kba-zfzr",
    evidenceType: "fahrzeugzulassung",
    purpose: "bewohnerparkausweis",
    legalBasis: "StVO §45",
    idnrUsed: true,
    idnr: "86095742719",
    jti: crypto.randomUUID(),
  }, { now: new Date("2026-03-01T10:00:00.123Z"), hmacKey: KEY, outcome: "in-flight" });
}

Deno.test("entryHash() is SHA-256 over the predecessor and the canonical entry", () => {
  const entry = decision();
  const hash = entryHash(GENESIS_HASH, entry, 1);
  assert.match(hash, /^[0-9a-f]{64}$/);
  assert.equal(entryHash(GENESIS_HASH, { ...entry }, 1), hash);
  assert.notEqual(entryHash("1".repeat(64), entry, 1), hash);
  assert.notEqual(entryHash(GENESIS_HASH, entry, 2), hash);
  assert.notEqual(entryHash(GENESIS_HASH, { ...entry, purpose: "other" }, 1), hash);
});

Deno.test("canonicalEntry() encodes numbers from the database like numbers from the route", () => {
  const entry = outcomeEntry(crypto.randomUUID(), { outcome: "delivered", bytes: 1234 }, {
    now: new Date("2026-03-01T10:00:00Z"),
    hmacKey: "chain-test-key",
  });
  const fromDb = { ...entry, bytes: "1234" as unknown as number, at: "2026-03-01T10:00:00+00:00" };
  assert.equal(canonicalEntry(fromDb, 7), canonicalEntry(entry, 7));
});

Deno.test("chainEntries() links each entry to its predecessor and checkLink() accepts it", () => {
  const chained = chainEntries([decision(), decision(), decision()], {
    seq: 41,
    hash: "a".repeat(64),
  });
  assert.deepEqual(chained.map((e) => e.seq), [42, 43, 44]);
  assert.equal(chained[0]!.prevHash, "a".repeat(64));
  let expected = { seq: 42, prevHash: "a".repeat(64) };
  for (const entry of chained) {
    assert.equal(checkLink(entry, expected), null);
    expected = { seq: entry.seq + 1, prevHash: entry.hash };
  }
});

Deno.test("checkLink() names an altered, a missing and a misplaced entry", () => {
  const [a, b, c] = chainEntries([decision(), decision(), decision()], {
    seq: 0,
    hash: GENESIS_HASH,
  });
  const afterA = { seq: 2, prevHash: a!.hash };
  assert.match(checkLink({ ...b!, purpose: "x" }, afterA)!, /entry 2 was altered/);
  assert.match(checkLink(c!, afterA)!, /entries 2 to 2 are missing/);
  assert.match(checkLink(a!, afterA)!, /entry 1 is out of order/);
  assert.match(checkLink({ ...b!, prevHash: GENESIS_HASH }, afterA)!, /does not follow/);
});

Deno.test("a decision holds the IDNr only as its HMAC", () => {
  const entry = decision();
  assert.equal(entry.idnrHmac, idnrHmac(KEY, "86095742719"));
  assert.notEqual(
    idnrHmac(new TextEncoder().encode("x".repeat(32)), "86095742719"),
    entry.idnrHmac,
  );
  assert.ok(!JSON.stringify(entry).includes("86095742719"));
});

Deno.test("an outcome holds the subject's IDNr a provider reported only as its HMAC", () => {
  const reported = outcomeEntry(crypto.randomUUID(), {
    outcome: "delivered",
    subjectIdnr: "86095742719",
  }, { now: new Date(), hmacKey: KEY });
  assert.equal(reported.idnrHmac, idnrHmac(KEY, "86095742719"));
  assert.ok(!JSON.stringify(reported).includes("86095742719"));
  const none = outcomeEntry(crypto.randomUUID(), { outcome: "delivered" }, {
    now: new Date(),
    hmacKey: KEY,
  });
  assert.equal(none.idnrHmac, null);
});

Deno.test("decisionEntry() refuses what the database would not take", () => {
  const base = {
    consumerId: "c",
    providerId: null,
    evidenceType: "e",
    purpose: "p",
    legalBasis: "l",
    idnrUsed: false,
  };
  const options = { now: new Date(), hmacKey: KEY, outcome: "in-flight" as const };
  assert.throws(() => decisionEntry({ ...base, transferId: "42" }, options), /expected a UUID/);
  assert.throws(
    () => decisionEntry({ ...base, transferId: crypto.randomUUID(), purpose: "" }, options),
    /purpose: missing/,
  );
  assert.throws(
    () =>
      outcomeEntry(crypto.randomUUID(), { outcome: "delivered", bytes: -1 }, {
        now: new Date(),
        hmacKey: "chain-test-key",
      }),
    /Cannot log bytes "-1"/,
  );
});

Deno.test("an entry's texts, as it would be written, hold no NUL or lone surrogates, else unchanged", () => {
  const options = { now: new Date(), hmacKey: KEY, outcome: "refused" as const };
  const entry = decisionEntry({
    transferId: crypto.randomUUID(),
    consumerId: "a\u0000b\u0000",
    providerId: "p\uD800x",
    evidenceType: "\uDC00",
    purpose: "Bewohnerparken § 45 StVO 🚗",
    legalBasis: "l",
    idnrUsed: false,
    status: 403,
    reason: "r\u0000\uD83D",
  }, options);
  assert.equal(entry.consumerId, "a\ufffdb\ufffd");
  assert.equal(entry.providerId, "p\ufffdx");
  assert.equal(entry.evidenceType, "\ufffd");
  assert.equal(entry.purpose, "Bewohnerparken § 45 StVO 🚗");
  assert.equal(entry.reason, "r\ufffd\ufffd");
});
