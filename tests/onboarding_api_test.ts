/**
 * Self-service onboarding through the JSON API (docs/api.md §3.3): registrations are stored
 * pending, an operator approves (client, provider, routes, permissions in one transaction,
 * audited) or rejects; in the test environment a consumer is approved at once and fetches
 * demo evidence. Every field's bad values are refused with the field named, and nothing is
 * stored.
 */
import assert from "node:assert/strict";
import { bearer, startTestLotse, type TestLotse } from "./_app.ts";
import {
  ADMIN_TOKEN,
  consumerRegistration,
  demoEndpoint,
  fetchParkingEvidence,
  type KeyPair,
  newKeyPair,
  providerRegistration,
  register,
  storedCounts,
  tokenWithKey,
} from "./_onboarding.ts";

const admin = bearer(ADMIN_TOKEN);

async function adminPost(lotse: TestLotse, path: string, token: string, body?: unknown) {
  return await lotse.fetch(path, {
    method: "POST",
    headers: bearer(token, body === undefined ? {} : { "content-type": "application/json" }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function audit(lotse: TestLotse, query: string) {
  const res = await lotse.fetch(`/admin/v1/audit?${query}`, { headers: admin });
  assert.equal(res.status, 200);
  return (await res.json()).entries as Record<string, unknown>[];
}

Deno.test({
  name: "an operator approves or rejects registrations; approval writes every row at once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lotse = await startTestLotse({ env: { LOTSE_RATE_LIMIT_REGISTRATION: "0" } });
    try {
      const operator = await lotse.token("lotse-operator");
      const key = await newKeyPair();
      let consumerId = "";

      await t.step("a consumer's registration is pending and grants nothing yet", async () => {
        const before = await storedCounts(lotse);
        const res = await register(lotse, consumerRegistration("musterstadt-parken", key));
        assert.equal(res.status, 201);
        const created = await res.json();
        assert.equal(created.status, "pending");
        assert.match(created.id, /^[0-9a-f-]{36}$/);
        consumerId = created.id;
        const after = await storedCounts(lotse);
        assert.deepEqual(after, { ...before, registrations: before.registrations! + 1 });
        const token = await tokenWithKey(lotse, "musterstadt-parken", key);
        assert.equal(token.status, 401, "no client exists before approval");
      });

      await t.step("the list shows what approval would create", async () => {
        assert.equal((await lotse.fetch("/admin/v1/registrations")).status, 401);
        const consumer = await lotse.token("stuttgart-bewohnerparken");
        const forbidden = await lotse.fetch("/admin/v1/registrations", {
          headers: bearer(consumer),
        });
        assert.equal(forbidden.status, 403);
        const res = await lotse.fetch("/admin/v1/registrations?status=pending", {
          headers: bearer(operator),
        });
        assert.equal(res.status, 200);
        const { registrations } = await res.json();
        assert.equal(registrations.length, 1);
        const [r] = registrations;
        assert.equal(r.id, consumerId);
        assert.equal(r.organisation, "Stadt Musterstadt – Bewohnerparken");
        assert.deepEqual(r.wouldCreate.clients.map((c: { roles: string[] }) => c.roles), [[
          "consumer",
        ]]);
        assert.equal(r.wouldCreate.permissions.length, 1);
        const permission = r.wouldCreate.permissions[0];
        assert.equal(permission.evidenceType, "fahrzeugzulassung");
        assert.equal(permission.providerId, null);
        assert.equal(permission.idnrAllowed, false, "no registration grants itself the IDNr");
        const bad = await lotse.fetch("/admin/v1/registrations?status=open", { headers: admin });
        assert.equal(bad.status, 400);
      });

      await t.step("approval creates client and permission, propagated and audited", async () => {
        const tables = async () =>
          (await (await lotse.fetch("/admin/v1/tables", { headers: admin })).json()).tables as {
            name: string;
            version: number;
          }[];
        const versionOf = (list: { name: string; version: number }[], name: string) =>
          list.find((x) => x.name === name)!.version;
        const before = await tables();
        const res = await adminPost(
          lotse,
          `/admin/v1/registrations/${consumerId}/approve`,
          operator,
        );
        assert.equal(res.status, 200);
        const approved = await res.json();
        assert.equal(approved.status, "approved");
        assert.equal(approved.created.clients[0].id, "musterstadt-parken");
        const after = await tables();
        assert.ok(versionOf(after, "clients") > versionOf(before, "clients"));
        assert.ok(versionOf(after, "permissions") > versionOf(before, "permissions"));
        const token = await tokenWithKey(lotse, "musterstadt-parken", key);
        assert.equal(token.status, 200, JSON.stringify(token.body));
        const res2 = await fetchParkingEvidence(lotse, token.token!);
        assert.equal(res2.status, 200);
        await res2.arrayBuffer();
        const [entry] = await audit(lotse, `table=registrations&action=approve&key=${consumerId}`);
        assert.equal(entry!.actor, "lotse-operator");
        assert.deepEqual(entry!.after, { status: "approved" });
        const detail = entry!.detail as { created: { clients: string[] } };
        assert.deepEqual(detail.created.clients, ["musterstadt-parken"]);
        const [client] = await audit(lotse, "table=clients&key=musterstadt-parken");
        assert.equal(client!.actor, "lotse-operator");
      });

      await t.step("a decided registration cannot be decided again", async () => {
        const again = await adminPost(
          lotse,
          `/admin/v1/registrations/${consumerId}/approve`,
          operator,
        );
        assert.equal(again.status, 409);
        const reject = await adminPost(
          lotse,
          `/admin/v1/registrations/${consumerId}/reject`,
          operator,
        );
        assert.equal(reject.status, 409);
        const missing = await adminPost(
          lotse,
          `/admin/v1/registrations/${crypto.randomUUID()}/approve`,
          operator,
        );
        assert.equal(missing.status, 404);
        const malformed = await adminPost(lotse, "/admin/v1/registrations/nope/approve", operator);
        assert.equal(malformed.status, 400);
      });

      await t.step("a rejection is audited with its reason and writes no rows", async () => {
        const other = await newKeyPair();
        const res = await register(lotse, consumerRegistration("abgelehnt-parken", other));
        const { id } = await res.json();
        const before = await storedCounts(lotse);
        const reject = await adminPost(lotse, `/admin/v1/registrations/${id}/reject`, operator, {
          reason: "Kein Nachweis der Zuständigkeit",
        });
        assert.equal(reject.status, 200);
        assert.equal((await reject.json()).status, "rejected");
        const after = await storedCounts(lotse);
        assert.deepEqual(after, { ...before, audit: before.audit! + 1 });
        const [entry] = await audit(lotse, `table=registrations&action=reject&key=${id}`);
        assert.equal(entry!.actor, "lotse-operator");
        assert.equal(
          (entry!.detail as { reason: string }).reason,
          "Kein Nachweis der Zuständigkeit",
        );
        const again = await register(lotse, consumerRegistration("abgelehnt-parken", other));
        assert.equal(again.status, 201, "a rejected id may be asked for again");
      });

      await t.step("a provider's approval creates provider, client and routes", async () => {
        const providerKey = await newKeyPair();
        const endpoint = `http://127.0.0.1:${
          lotse.lotse.demoProvider!.port
        }/providers/freiburg-gewerbe`;
        const res = await register(
          lotse,
          providerRegistration("freiburg-gewerbe", providerKey, endpoint),
        );
        assert.equal(res.status, 201);
        const { id } = await res.json();
        const nav = () =>
          lotse.fetch("/v1/navigation?evidenceType=gewerberegisterauszug&ags=08311000", {
            headers: bearer(operator),
          });
        assert.equal((await nav()).status, 404);
        const approve = await adminPost(lotse, `/admin/v1/registrations/${id}/approve`, operator);
        assert.equal(approve.status, 200);
        const created = (await approve.json()).created;
        assert.equal(created.providers[0].endpoint, endpoint);
        assert.equal(created.routes.length, 1);
        const found = await nav();
        assert.equal(found.status, 200);
        assert.equal((await found.json()).provider.id, "freiburg-gewerbe");
        const token = await tokenWithKey(lotse, "freiburg-gewerbe", providerKey);
        assert.equal(token.status, 200);
      });
    } finally {
      await lotse.close();
    }
  },
});

Deno.test({
  name: "bad registrations are refused naming the field, and nothing is stored",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lotse = await startTestLotse({ env: { LOTSE_RATE_LIMIT_REGISTRATION: "0" } });
    try {
      const key = await newKeyPair();
      const endpoint = demoEndpoint(lotse, "neu-register");
      const consumer = (o: Record<string, unknown>) =>
        consumerRegistration("neu-verfahren", key, o);
      const provider = (o: Record<string, unknown>) =>
        providerRegistration("neu-register", key, endpoint, o);
      const without = (body: Record<string, unknown>, field: string) => {
        const copy = { ...body };
        delete copy[field];
        return copy;
      };
      const snapshot = lotse.lotse.store.snapshot!;
      const demoProviderOnly = snapshot.tables.providers.find((p) => !snapshot.clients.has(p.id))!
        .id;
      const before = await storedCounts(lotse);

      const cases: [string, unknown, number, RegExp][] = [
        ["kind operator", consumer({ kind: "operator" }), 400, /kind/],
        ["a roles claim", consumer({ roles: ["operator"] }), 400, /roles/],
        ["a permissions claim", consumer({ permissions: [{ id: "x" }] }), 400, /permissions/],
        ["an idnrAllowed claim", consumer({ idnrAllowed: true }), 400, /idnrAllowed/],
        ["empty organisation", consumer({ organisation: "" }), 400, /organisation/],
        ["organisation over 200", consumer({ organisation: "x".repeat(201) }), 400, /organisation/],
        ["control character", consumer({ organisation: "Stadt\u0007" }), 400, /organisation/],
        ["no contact", without(consumer({}), "contact"), 400, /contact/],
        ["bad e-mail", consumer({ contact: { name: "A", email: "nope" } }), 400, /contact\.email/],
        ["empty contact name", consumer({ contact: { name: "", email: "a@b.de" } }), 400, /name/],
        ["bad clientId", consumer({ clientId: "Bad_Id" }), 400, /clientId/],
        ["clientId over 63", consumer({ clientId: "a".repeat(64) }), 400, /clientId/],
        [
          "another client's id",
          consumer({ clientId: "stuttgart-bewohnerparken" }),
          409,
          /clientId/,
        ],
        ["the operator's id", consumer({ clientId: "lotse-operator" }), 409, /clientId/],
        ["a provider's id", consumer({ clientId: demoProviderOnly }), 409, /clientId/],
        ["no keys", consumer({ jwks: { keys: [] } }), 400, /jwks\.keys/],
        ["a private key", consumer({ jwks: { keys: [key.privateJwk] } }), 400, /jwks\.keys\.0/],
        [
          "a symmetric key",
          consumer({ jwks: { keys: [{ kty: "oct", k: "c2VjcmV0" }] } }),
          400,
          /jwks\.keys\.0/,
        ],
        ["no jwks", without(consumer({}), "jwks"), 400, /jwks/],
        ["no evidence types", consumer({ evidenceTypes: [] }), 400, /evidenceTypes/],
        [
          "unknown evidence type",
          consumer({ evidenceTypes: ["unbekannt"] }),
          400,
          /evidenceTypes\.0/,
        ],
        [
          "malformed evidence type",
          consumer({ evidenceTypes: ["Bad Type"] }),
          400,
          /evidenceTypes\.0/,
        ],
        ["no purposes", without(consumer({}), "purposes"), 400, /purposes/],
        ["empty purpose", consumer({ purposes: [""] }), 400, /purposes\.0/],
        ["no legal bases", without(consumer({}), "legalBases"), 400, /legalBases/],
        ["a consumer's endpoint", consumer({ endpoint }), 400, /endpoint/],
        ["a consumer's jurisdictions", consumer({ jurisdictions: ["08"] }), 400, /jurisdictions/],
        ["no endpoint", without(provider({}), "endpoint"), 400, /endpoint/],
        ["ftp endpoint", provider({ endpoint: "ftp://register.example/x" }), 400, /endpoint/],
        ["private endpoint", provider({ endpoint: "https://10.1.2.3/x" }), 400, /endpoint/],
        [
          "plain http endpoint",
          provider({ endpoint: "http://register.example/x" }),
          400,
          /endpoint/,
        ],
        ["endpoint with query", provider({ endpoint: "https://r.example/x?a=1" }), 400, /endpoint/],
        [
          "xnachweis credentials",
          provider({ xnachweisEndpoint: "https://u:p@r.example/x" }),
          400,
          /xnachweisEndpoint/,
        ],
        ["bad caCert", provider({ caCert: "garbage" }), 400, /caCert/],
        [
          "unparseable caCert",
          provider({ caCert: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" }),
          400,
          /caCert/,
        ],
        ["no jurisdictions", without(provider({}), "jurisdictions"), 400, /jurisdictions/],
        ["malformed key", provider({ jurisdictions: ["1234"] }), 400, /jurisdictions\.0/],
        ["no such Land", provider({ jurisdictions: ["99"] }), 400, /jurisdictions\.0/],
        ["unknown Gemeinde", provider({ jurisdictions: ["08999999"] }), 400, /jurisdictions\.0/],
        ["a provider's purposes", provider({ purposes: ["x"] }), 400, /purposes/],
        [
          "a route another provider holds",
          provider({ evidenceTypes: ["meldebescheinigung"], jurisdictions: ["08311000"] }),
          409,
          /jurisdictions\.0/,
        ],
        ["not an object", [], 400, /registration/],
        ["broken JSON", "{", 400, /JSON/],
      ];
      for (const [what, body, status, field] of cases) {
        await t.step(`${what}: ${status}`, async () => {
          const res = await register(lotse, body);
          assert.equal(res.status, status, `${what}: ${res.status}`);
          assert.equal(res.headers.get("content-type"), "application/problem+json");
          const problem = await res.json();
          assert.match(problem.detail, field, `${what}: ${problem.detail}`);
        });
      }

      await t.step("oversize body: 413", async () => {
        const res = await register(lotse, consumer({ organisation: "x".repeat(200 * 1024) }));
        assert.equal(res.status, 413);
        await res.body?.cancel();
      });
      await t.step("not JSON: 415", async () => {
        const res = await register(lotse, "kind=consumer", {
          headers: { "content-type": "text/plain" },
        });
        assert.equal(res.status, 415);
        await res.body?.cancel();
      });
      await t.step("nothing was stored", async () => {
        assert.deepEqual(await storedCounts(lotse), before);
      });
    } finally {
      await lotse.close();
    }
  },
});

Deno.test({
  name: "registrations are rate limited per source address",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lotse = await startTestLotse({ env: { LOTSE_RATE_LIMIT_REGISTRATION: "2" } });
    try {
      const statuses = [];
      for (const id of ["erste", "zweite", "dritte"]) {
        const res = await register(lotse, consumerRegistration(id, await newKeyPair()));
        statuses.push(res.status);
        if (res.status === 429) {
          assert.ok(Number(res.headers.get("retry-after")) >= 1);
          assert.equal(res.headers.get("content-type"), "application/problem+json");
        }
        await res.body?.cancel();
      }
      assert.deepEqual(statuses, [201, 201, 429]);
      assert.equal((await storedCounts(lotse)).registrations, 2);
    } finally {
      await lotse.close();
    }
  },
});

Deno.test({
  name: "in the test environment a consumer is approved at once and fetches demo evidence",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lotse = await startTestLotse({ env: { LOTSE_ENVIRONMENT: "test" } });
    try {
      const key: KeyPair = await newKeyPair();
      const res = await register(lotse, consumerRegistration("testkommune-parken", key));
      assert.equal(res.status, 201);
      const created = await res.json();
      assert.equal(created.status, "approved");
      const [entry] = await audit(lotse, `table=registrations&action=approve&key=${created.id}`);
      assert.equal(entry!.actor, "test-environment");
      const permissions = lotse.lotse.store.snapshot!.tables.permissions.filter((p) =>
        p.consumerId === "testkommune-parken"
      );
      assert.deepEqual(permissions.map((p) => p.providerId), ["kba-zfzr"], "demo providers only");
      const token = await tokenWithKey(lotse, "testkommune-parken", key);
      assert.equal(token.status, 200);
      const evidence = await fetchParkingEvidence(lotse, token.token!);
      assert.equal(evidence.status, 200);
      assert.equal((await evidence.json()).fahrzeug.kennzeichen, "S-LO 1234");
      const refused = await register(
        lotse,
        consumerRegistration("testkommune-zwei", key, { evidenceTypes: ["unbekannt"] }),
      );
      assert.equal(refused.status, 400);
      await refused.body?.cancel();
    } finally {
      await lotse.close();
    }
  },
});
