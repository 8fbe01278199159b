/**
 * The readiness check through the API (docs/api.md §3.3): against a demo register every check
 * passes; against the deliberately broken register (demo/broken_register.ts) the report fails
 * check by check, each with its reason. Only registered endpoints are called; a provider may
 * check itself only.
 */
import assert from "node:assert/strict";
import { bearer } from "./_app.ts";
import {
  ADMIN_TOKEN,
  ALL_CHECKS,
  BROKEN_REGISTER_FAILS,
  demoEndpoint,
  newKeyPair,
  providerRegistration,
  READINESS_TIMEOUT_MS,
  register,
  startWithBrokenRegister,
  tokenWithKey,
} from "./_onboarding.ts";

const admin = bearer(ADMIN_TOKEN, { "content-type": "application/json" });

Deno.test({
  name: "the readiness check passes a demo register and fails the broken one check by check",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const { lotse, broken, close } = await startWithBrokenRegister();
    const run = (providerId: string, headers: Record<string, string> = admin, extra = {}) =>
      lotse.fetch("/v1/readiness-checks", {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({ providerId, ...extra }),
      });
    try {
      await t.step("the demo register with XNachweis passes every check", async () => {
        const res = await run("kba-zfzr");
        assert.equal(res.status, 201);
        const report = await res.json();
        assert.equal(report.providerId, "kba-zfzr");
        assert.deepEqual(
          report.checks.filter((c: { passed: boolean }) => !c.passed),
          [],
          "no failed check",
        );
        assert.equal(report.passed, true);
        assert.deepEqual(report.checks.map((c: { id: string }) => c.id), ALL_CHECKS);
        const stored = await lotse.fetch(`/v1/readiness-checks/${report.id}`, { headers: admin });
        assert.equal(stored.status, 200);
        assert.deepEqual(await stored.json(), report);
      });

      await t.step("a pending registration of the broken register fails item by item", async () => {
        const created = await register(
          lotse,
          providerRegistration("kaputtes-register", await newKeyPair(), broken.endpoint("k"), {
            xnachweisEndpoint: broken.xnachweisEndpoint("k"),
          }),
        );
        assert.equal(created.status, 201);
        const res = await run("kaputtes-register");
        assert.equal(res.status, 201);
        const report = await res.json();
        assert.equal(report.passed, false);
        const byId = Object.fromEntries(
          report.checks.map((c: { id: string; passed: boolean; detail: string }) => [c.id, c]),
        );
        const failed = report.checks.filter((c: { passed: boolean }) => !c.passed).map((
          c: { id: string },
        ) => c.id);
        assert.deepEqual(failed, BROKEN_REGISTER_FAILS);
        assert.match(byId["repr-digest"].detail, /passt nicht zum Inhalt/);
        assert.match(byId["timeout"].detail, new RegExp(`Grenze ${READINESS_TIMEOUT_MS} ms`));
        assert.match(byId["alg-none"].detail, /Antwort 200 statt 401 oder 403/);
        assert.match(byId["problem-json"].detail, /text\/html/);
        assert.match(byId["xnachweis-response"].detail, /DE\.EvidenceResponse\.0102/);
        const list = await lotse.fetch("/admin/v1/registrations?status=pending", {
          headers: admin,
        });
        const [shown] = (await list.json()).registrations;
        assert.equal(shown.readiness.id, report.id);
        assert.equal(shown.readiness.passed, false);
      });

      await t.step("deno task readiness prints the report and exits by the result", async () => {
        const task = (providerId: string) =>
          new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "--allow-net",
              "--allow-env=LOTSE_ADMIN_TOKEN",
              "--allow-read",
              new URL("../tools/readiness.ts", import.meta.url).pathname,
              providerId,
              lotse.base,
            ],
            env: { LOTSE_ADMIN_TOKEN: ADMIN_TOKEN },
            stdout: "piped",
            stderr: "piped",
          }).output();
        const good = await task("kba-zfzr");
        const goodText = new TextDecoder().decode(good.stdout);
        assert.equal(good.code, 0, new TextDecoder().decode(good.stderr));
        assert.match(goodText, /✓ Unsigniertes Token \(alg: none\) wird abgelehnt/);
        assert.match(goodText, /Bestanden\./);
        const bad = await task("kaputtes-register");
        const badText = new TextDecoder().decode(bad.stdout);
        assert.equal(bad.code, 1);
        assert.match(badText, /✗ Repr-Digest passt zum Inhalt/);
        assert.match(badText, /Nicht bestanden\./);
      });

      await t.step("a provider checks its own entry only", async () => {
        const key = await newKeyPair();
        const created = await register(
          lotse,
          providerRegistration("fr-gw", key, demoEndpoint(lotse, "fr-gw")),
        );
        const { id } = await created.json();
        const approved = await lotse.fetch(`/admin/v1/registrations/${id}/approve`, {
          method: "POST",
          headers: admin,
        });
        assert.equal(approved.status, 200);
        const token = await tokenWithKey(lotse, "fr-gw", key);
        const own = bearer(token.token!);
        const res = await run("fr-gw", own);
        assert.equal(res.status, 201);
        const report = await res.json();
        assert.equal(report.passed, true, JSON.stringify(report.checks));
        assert.equal(
          report.checks.some((c: { id: string }) => c.id.startsWith("xnachweis")),
          false,
          "no XNachweis endpoint registered, none checked",
        );
        assert.equal((await run("kba-zfzr", own)).status, 403);
        const theirs = await (await run("kba-zfzr")).json();
        const other = await lotse.fetch(`/v1/readiness-checks/${theirs.id}`, { headers: own });
        assert.equal(other.status, 404);
        const mine = await lotse.fetch(`/v1/readiness-checks/${report.id}`, { headers: own });
        assert.equal(mine.status, 200);
        await mine.body?.cancel();
      });

      await t.step("no URL from the request, no unknown provider, no consumer", async () => {
        const withUrl = await run("kba-zfzr", admin, { endpoint: broken.endpoint("x") });
        assert.equal(withUrl.status, 400);
        assert.match((await withUrl.json()).detail, /endpoint/);
        const unknown = await run("gibt-es-nicht");
        assert.equal(unknown.status, 404);
        await unknown.body?.cancel();
        const consumer = bearer(await lotse.token("stuttgart-bewohnerparken"));
        const refused = await run("kba-zfzr", consumer);
        assert.equal(refused.status, 403);
        await refused.body?.cancel();
        const none = await lotse.fetch("/v1/readiness-checks", { method: "POST" });
        assert.equal(none.status, 401);
        await none.body?.cancel();
        const bad = await lotse.fetch("/v1/readiness-checks/nope", { headers: admin });
        assert.equal(bad.status, 400);
        await bad.body?.cancel();
      });
    } finally {
      await close();
    }
  },
});
