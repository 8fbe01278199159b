/**
 * `POST /v1/evidence/{evidenceType}` end to end over real sockets: demo providers, a
 * recording provider registered through the admin API, the protocol, and `/v1/transfers`.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { bearer, startTestLotse, type TestLotse } from "./_app.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";
import { waitFor } from "./_wait.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";
const { purpose, legalBasis } = DEMO_PURPOSES.bewohnerparken;
const IDNR = "86095742719";

function digestOf(bytes: Uint8Array): string {
  return `sha-256=:${createHash("sha256").update(bytes).digest("base64")}:`;
}

/** A provider that records what reaches it and answers a fixed body. */
function recordingProvider() {
  const seen: { url: string; headers: Headers; body: number }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    seen.push({ url: req.url, headers: req.headers, body: body.byteLength });
    const answer = new TextEncoder().encode('{"ok":true}');
    return new Response(answer, {
      headers: {
        "content-type": "application/json",
        "repr-digest": digestOf(answer),
        "set-cookie": "session=secret",
        "server": "internal-register/1.0",
      },
    });
  });
  return { seen, server, url: `http://127.0.0.1:${server.addr.port}/evidence` };
}

async function admin(lotse: TestLotse, path: string, body: unknown) {
  const res = await lotse.fetch(`/admin/v1/${path}`, {
    method: "PUT",
    headers: bearer(ADMIN, { "content-type": "application/json" }),
    body: JSON.stringify(body),
  });
  assert.ok(res.status === 200 || res.status === 201, `${path}: ${await res.text()}`);
}

Deno.test({
  name: "evidence transfers stream end to end and are recorded",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lotse = await startTestLotse({
      serve: true,
      // The default provider timeouts (seconds): a loaded machine never turns a good transfer
      // into a 504 here; the timeout itself is tested on an instance of its own below.
      env: { LOTSE_MAX_REQUEST_BYTES: "65536" },
    });
    const recorder = recordingProvider();
    try {
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      const headers = (extra: Record<string, string> = {}) =>
        bearer(consumer, {
          "lotse-purpose": purpose,
          "lotse-legal-basis": legalBasis,
          "content-type": "application/json",
          ...extra,
        });
      const transfer = (query: string, body: unknown, extra?: Record<string, string>) =>
        lotse.fetch(`/v1/evidence/fahrzeugzulassung?${query}`, {
          method: "POST",
          headers: headers(extra),
          body: typeof body === "string" ? body : JSON.stringify(body),
        });

      let deliveredId = "";
      await t.step("the pilot: vehicle data for a Stuttgart resident, digest intact", async () => {
        const res = await transfer("plz=70173", { kennzeichen: "S-LO 1234" }, {
          "lotse-idnr": IDNR,
        });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("lotse-provider"), "kba-zfzr");
        deliveredId = res.headers.get("lotse-transfer-id")!;
        assert.match(deliveredId, /^[0-9a-f-]{36}$/);
        const bytes = new Uint8Array(await res.arrayBuffer());
        assert.equal(res.headers.get("repr-digest"), digestOf(bytes));
        const evidence = JSON.parse(new TextDecoder().decode(bytes));
        assert.equal(evidence.fahrzeug.kennzeichen, "S-LO 1234");
      });

      await t.step("the transfer's record is the caller's alone", async () => {
        // The outcome is written once the last byte left; wait for that event.
        const record = await waitFor(async () => {
          const res = await lotse.fetch(`/v1/transfers/${deliveredId}`, {
            headers: bearer(consumer),
          });
          const r: Record<string, unknown> = await res.json();
          return r.outcome === "in-flight" ? null : r;
        }, "the outcome of the delivered transfer");
        assert.equal(record.outcome, "delivered");
        assert.equal(record.status, 200);
        assert.equal(record.idnrUsed, true);
        assert.ok((record.bytes as number) > 100);
        assert.match(record.responseDigest as string, /^sha-256=:/);
        assert.ok(!JSON.stringify(record).includes(IDNR));
        const other = await lotse.token("service-bw-gewerbe");
        const res = await lotse.fetch(`/v1/transfers/${deliveredId}`, { headers: bearer(other) });
        assert.equal(res.status, 404);
        await res.body?.cancel();
        const bad = await lotse.fetch("/v1/transfers/not-a-uuid", { headers: bearer(consumer) });
        assert.equal(bad.status, 400);
        await bad.body?.cancel();
      });

      await t.step("the Datenschutzcockpit finds the transfer by IDNr", async () => {
        const dsc = await lotse.token("dsc-cockpit");
        const res = await lotse.fetch(`/v1/protocol?idnr=${IDNR}`, { headers: bearer(dsc) });
        assert.equal(res.status, 200);
        const { records } = await res.json();
        const mine = records.find((r: { transferId: string }) => r.transferId === deliveredId);
        assert.ok(mine);
        assert.equal(mine.consumer, "stuttgart-bewohnerparken");
        assert.equal(mine.legalBasis, legalBasis);
        const wrong = await lotse.fetch("/v1/protocol?idnr=86095742718", { headers: bearer(dsc) });
        assert.equal(wrong.status, 400);
        await wrong.body?.cancel();
        const forbidden = await lotse.fetch(`/v1/protocol?idnr=${IDNR}`, {
          headers: bearer(consumer),
        });
        assert.equal(forbidden.status, 403);
        await forbidden.body?.cancel();
      });

      await t.step("a recording provider sees only the contract's headers", async () => {
        await admin(lotse, "evidence-types/testnachweis", { name: "Testnachweis" });
        await admin(lotse, "providers/recorder", { name: "Recorder", endpoint: recorder.url });
        await admin(lotse, "routes/testnachweis-bund", {
          evidenceType: "testnachweis",
          regionKey: "",
          providerId: "recorder",
        });
        await admin(lotse, "permissions/recorder-test", {
          consumerId: "stuttgart-bewohnerparken",
          evidenceType: "testnachweis",
          providerId: "recorder",
          purposes: [purpose],
          legalBases: [legalBasis],
          idnrAllowed: true,
        });
        const body = new TextEncoder().encode('{"x":1}');
        const res = await lotse.fetch("/v1/evidence/testnachweis?ags=08111000&x=http://evil", {
          method: "POST",
          headers: headers({ "repr-digest": digestOf(body), "cookie": "a=b", "x-custom": "1" }),
          body,
        });
        assert.equal(res.status, 200);
        assert.equal(await res.text(), '{"ok":true}');
        assert.equal(res.headers.get("set-cookie"), null);
        assert.ok(!(res.headers.get("server") ?? "").includes("internal-register"));
        const seen = recorder.seen.at(-1)!;
        assert.equal(seen.url, recorder.url);
        assert.equal(seen.body, body.byteLength);
        assert.equal(seen.headers.get("repr-digest"), digestOf(body));
        assert.equal(seen.headers.get("lotse-evidence-type"), "testnachweis");
        assert.equal(seen.headers.get("cookie"), null);
        assert.equal(seen.headers.get("x-custom"), null);
        assert.equal(seen.headers.get("lotse-purpose"), null);
        assert.match(seen.headers.get("authorization") ?? "", /^Bearer ey/);
      });

      await t.step("the evidence token binds the consumer's Repr-Digest (req_digest)", async () => {
        const claimsOf = (authorization: string | null) =>
          JSON.parse(atob(authorization!.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")));
        const body = new TextEncoder().encode('{"bound":true}');
        const res = await lotse.fetch("/v1/evidence/testnachweis?ags=08111000", {
          method: "POST",
          headers: headers({ "repr-digest": digestOf(body) }),
          body,
        });
        assert.equal(res.status, 200);
        await res.body?.cancel();
        const bound = claimsOf(recorder.seen.at(-1)!.headers.get("authorization"));
        assert.equal(bound.req_digest, digestOf(body));
        assert.equal(recorder.seen.at(-1)!.headers.get("repr-digest"), digestOf(body));
        assert.equal(bound.evidence_type, "testnachweis");

        // Without a Repr-Digest the token carries none.
        const plain = await lotse.fetch("/v1/evidence/testnachweis?ags=08111000", {
          method: "POST",
          headers: headers(),
          body,
        });
        assert.equal(plain.status, 200);
        await plain.body?.cancel();
        const unbound = claimsOf(recorder.seen.at(-1)!.headers.get("authorization"));
        assert.equal("req_digest" in unbound, false);

        // A digest that does not match the body: 400, and the provider gets no body.
        const before = recorder.seen.length;
        const wrong = await lotse.fetch("/v1/evidence/testnachweis?ags=08111000", {
          method: "POST",
          headers: headers({ "repr-digest": digestOf(new TextEncoder().encode("other")) }),
          body,
        });
        assert.equal(wrong.status, 400);
        assert.equal((await wrong.json()).type, "https://lotse.dev/problems/invalid-request");
        assert.equal(recorder.seen.length, before, "the recorder saw no complete body");
      });

      await t.step("a wrong IDNr is a 400 and the provider is never called", async () => {
        const before = recorder.seen.length;
        const res = await lotse.fetch("/v1/evidence/testnachweis?ags=08111000", {
          method: "POST",
          headers: headers({ "lotse-idnr": "86095742718" }),
          body: "{}",
        });
        assert.equal(res.status, 400);
        assert.equal((await res.json()).type, "https://lotse.dev/problems/invalid-request");
        assert.equal(recorder.seen.length, before);
      });

      await t.step("no permission is a 403 and the refusal is recorded", async () => {
        const res = await transfer("ags=08111000", {}, { "lotse-purpose": "werbung" });
        assert.equal(res.status, 403);
        const id = res.headers.get("lotse-transfer-id")!;
        assert.equal((await res.json()).type, "https://lotse.dev/problems/not-permitted");
        const record =
          await (await lotse.fetch(`/v1/transfers/${id}`, { headers: bearer(consumer) }))
            .json();
        assert.equal(record.outcome, "refused");
      });

      await t.step("navigation problems carry through: 404, 409, 400", async () => {
        for (
          const [query, status] of [
            ["ags=99999999", 404],
            ["plz=85000", 409],
            ["ags=1", 400],
            ["", 400],
            ["providerId=nobody", 404],
          ] as const
        ) {
          const res = await transfer(query, {});
          assert.equal(res.status, status, query);
          assert.equal(res.headers.get("content-type"), "application/problem+json");
          await res.body?.cancel();
        }
        const missing = await lotse.fetch("/v1/evidence/fahrzeugzulassung?ags=08111000", {
          method: "POST",
          headers: bearer(consumer),
          body: "{}",
        });
        assert.equal(missing.status, 400);
        await missing.body?.cancel();
      });

      await t.step("an oversized request body is a 413", async () => {
        const res = await transfer("ags=08111000", "x".repeat(70_000));
        assert.equal(res.status, 413);
        await res.body?.cancel();
        // Streamed without Content-Length: five chunks of 16 KiB pass the 64 KiB limit on the
        // fifth; Lotse counts while it forwards and answers 413 itself.
        const chunks = Array.from({ length: 5 }, () => new Uint8Array(16_384).fill(0x20));
        const streamed = await lotse.fetch("/v1/evidence/fahrzeugzulassung?ags=08111000", {
          method: "POST",
          headers: headers(),
          body: ReadableStream.from(chunks),
        });
        assert.equal(streamed.status, 413);
        assert.equal(streamed.headers.get("content-type"), "application/problem+json");
        assert.equal((await streamed.json()).type, "https://lotse.dev/problems/payload-too-large");
      });

      await t.step("a provider 5xx is a 502 recorded as failed; a 4xx passes through", async () => {
        const five = await transfer("ags=08111000", { demo: { fault: "status-5xx" } });
        assert.equal(five.status, 502);
        const problem = await five.json();
        assert.equal(problem.type, "https://lotse.dev/problems/provider-failed");
        const fiveId = five.headers.get("lotse-transfer-id")!;
        // A provider's own 4xx passes through as it is: status and problem.
        const four = await transfer("ags=08111000", { demo: { fault: "status-4xx" } });
        assert.equal(four.status, 404);
        assert.equal(four.headers.get("content-type"), "application/problem+json");
        assert.equal((await four.json()).status, 404);
        const record = await waitFor(async () => {
          const r: Record<string, unknown> =
            await (await lotse.fetch(`/v1/transfers/${fiveId}`, { headers: bearer(consumer) }))
              .json();
          return r.outcome === "in-flight" ? null : r;
        }, "the outcome of the failed transfer");
        assert.equal(record.outcome, "failed");
        assert.equal(record.status, 502);
      });

      await t.step("a wrong provider digest aborts the consumer's stream", async () => {
        const res = await transfer("ags=08111000", {
          demo: { bytes: 4 * 1024 * 1024, fault: "wrong-digest" },
        });
        assert.equal(res.status, 200);
        await assert.rejects(() => res.arrayBuffer());
      });
    } finally {
      await recorder.server.shutdown();
      await lotse.close();
    }
  },
});

Deno.test({
  name: "a provider that sends no headers within the provider timeout is a 504, recorded as failed",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // Only the stalled transfer runs on this instance, so the short timeout cannot hit a
    // good transfer on a loaded machine.
    const lotse = await startTestLotse({ env: { LOTSE_PROVIDER_TIMEOUT_MS: "400" } });
    try {
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      const res = await lotse.fetch("/v1/evidence/fahrzeugzulassung?ags=08111000", {
        method: "POST",
        headers: bearer(consumer, {
          "lotse-purpose": purpose,
          "lotse-legal-basis": legalBasis,
          "content-type": "application/json",
        }),
        body: JSON.stringify({ demo: { fault: "no-headers" } }),
      });
      assert.equal(res.status, 504);
      assert.equal((await res.json()).type, "https://lotse.dev/problems/provider-timeout");
      const id = res.headers.get("lotse-transfer-id")!;
      const record = await waitFor(async () => {
        const r: Record<string, unknown> =
          await (await lotse.fetch(`/v1/transfers/${id}`, { headers: bearer(consumer) })).json();
        return r.outcome === "in-flight" ? null : r;
      }, "the outcome of the stalled transfer");
      assert.equal(record.outcome, "failed");
      assert.equal(record.status, 504);
    } finally {
      await lotse.close();
    }
  },
});

Deno.test({
  name: "a decision that cannot be recorded lets no evidence and no token out: 503",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // Both stores of the protocol fail for real: PostgreSQL refuses every protocol entry (a
    // trigger), and the spool's segment is /dev/full, where every write fails with ENOSPC.
    const spoolDir = await Deno.makeTempDir({ prefix: "lotse-full-spool-" });
    await Deno.symlink("/dev/full", `${spoolDir}/protocol-0000000000000001.spool`);
    const lotse = await startTestLotse({ env: { LOTSE_SPOOL_DIR: spoolDir } });
    const db = lotse.lotse.db;
    try {
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      await db.exec(`
        create function lotse_test_refuse() returns trigger language plpgsql as $$
          begin raise exception 'test: protocol entries refused'; end $$;
        create trigger lotse_test_refuse before insert on protocol_entries
          for each row execute function lotse_test_refuse();`);

      const res = await lotse.fetch("/v1/evidence/fahrzeugzulassung?ags=08111000", {
        method: "POST",
        headers: bearer(consumer, {
          "lotse-purpose": purpose,
          "lotse-legal-basis": legalBasis,
          "lotse-idnr": IDNR,
          "content-type": "application/json",
        }),
        body: '{"kennzeichen":"S-LO 1234"}',
      });
      const text = await res.text();
      assert.equal(res.status, 503, text);
      assert.equal(res.headers.get("content-type"), "application/problem+json");
      assert.equal(res.headers.get("retry-after"), "1");
      assert.equal(JSON.parse(text).type, "https://lotse.dev/problems/unavailable");
      assert.equal(res.headers.get("repr-digest"), null, "no evidence headers");
      assert.ok(!text.includes("S-LO 1234") && !text.includes("fahrzeug"), text);
      const transferId = res.headers.get("lotse-transfer-id")!;
      assert.match(transferId, /^[0-9a-f-]{36}$/);

      const auth = await lotse.fetch("/v1/authorizations", {
        method: "POST",
        headers: bearer(consumer, { "content-type": "application/json" }),
        body: JSON.stringify({
          evidenceType: "fahrzeugzulassung",
          providerId: "kba-zfzr",
          purpose,
          legalBasis,
          idnrUsed: true,
        }),
      });
      const authText = await auth.text();
      assert.equal(auth.status, 503, authText);
      assert.equal(auth.headers.get("content-type"), "application/problem+json");
      assert.equal(JSON.parse(authText).type, "https://lotse.dev/problems/unavailable");
      assert.ok(!/"token"|eyJ/.test(authText), `no token in ${authText}`);

      // PostgreSQL takes entries again: the failed transfer's outcome lands, its decision and
      // the grant never existed.
      await db.exec(`drop trigger lotse_test_refuse on protocol_entries;
        drop function lotse_test_refuse();`);
      await lotse.lotse.protocol.drain();
      const rows = await db.sql<{ kind: string; outcome: string; status: number }>`
        select kind, outcome, status from protocol_entries where transfer_id = ${transferId}`;
      assert.deepEqual(rows, [{ kind: "outcome", outcome: "failed", status: 503 }]);
      const grants = await db.sql<{ n: number }>`
        select count(*)::int as n from protocol_entries where outcome = 'granted'`;
      assert.equal(grants[0]!.n, 0);
    } finally {
      await db.exec(`drop trigger if exists lotse_test_refuse on protocol_entries;`)
        .catch(() => {});
      await lotse.close();
      await Deno.remove(spoolDir, { recursive: true });
    }
  },
});
