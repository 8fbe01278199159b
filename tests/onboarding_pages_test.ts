/**
 * The onboarding pages in a real headless Chromium (tests/_browser.ts; driven by
 * playwright-core), each checked with axe-core: a provider registers through the page (key
 * generated in the browser, private key downloaded, never sent), the operator runs the
 * readiness check (passes against a demo register, fails check by check against the broken
 * one), approves and rejects; a consumer registers in the test environment and fetches demo
 * evidence; bad input stays on the page with the error next to its field and stores nothing.
 *
 * With `ONBOARDING_SCREENSHOTS=<dir>` the pages are saved as PNG there (docs/screenshots/).
 */
import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { startTestLotse } from "./_app.ts";
import { axeViolations, CHROMIUM_ARGS, chromiumPath } from "./_browser.ts";
import {
  ADMIN_TOKEN,
  BROKEN_REGISTER_FAILS,
  demoEndpoint,
  fetchParkingEvidence,
  newKeyPair,
  providerRegistration,
  register,
  startWithBrokenRegister,
  storedCounts,
  tokenWithKey,
} from "./_onboarding.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";

const SHOTS = Deno.env.get("ONBOARDING_SCREENSHOTS");

async function accessible(page: Page, what: string): Promise<void> {
  assert.deepEqual(await axeViolations(page), [], `${what}: no serious accessibility violation`);
}

async function shot(page: Page, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/onboarding-${name}.png`, fullPage: true });
}

async function withBrowser(fn: (browser: Browser) => Promise<void>): Promise<void> {
  const browser = await chromium.launch({
    executablePath: await chromiumPath(),
    args: [...CHROMIUM_ARGS],
  });
  try {
    await fn(browser);
  } finally {
    await browser.close();
  }
}

Deno.test({
  name: "a provider registers through the page, the operator checks readiness and decides",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const { lotse, broken, close } = await startWithBrokenRegister();
    try {
      await withBrowser(async (browser) => {
        const page = await browser.newPage();
        let registrationId = "";

        await t.step("the provider fills the form, with a key made in the browser", async () => {
          await page.goto(`${lotse.base}/onboarding`);
          assert.equal(await page.locator("h1").textContent(), "Anschluss an Lotse");
          assert.equal(await page.locator("#testumgebung").count(), 0, "no test banner");
          await accessible(page, "/onboarding");
          await shot(page, "form");
          const form = page.locator("#form-provider");
          await page.fill("#provider-organisation", "Stadt Freiburg im Breisgau – Gewerberegister");
          await page.fill("#provider-contactName", "Max Mustermann");
          await page.fill("#provider-contactEmail", "gewerberegister@freiburg.example");
          await page.fill("#provider-clientId", "freiburg-gewerbe");
          const download = page.waitForEvent("download");
          await form.locator("button[data-keygen]").click();
          const file = await download;
          const privateKey = JSON.parse(await Deno.readTextFile((await file.path())!));
          assert.equal(typeof privateKey.d, "string", "the private key is downloaded");
          const jwks = JSON.parse(await page.inputValue("#provider-jwks"));
          assert.equal(jwks.keys[0].x, privateKey.x);
          assert.equal(jwks.keys[0].d, undefined, "only the public key is in the form");
          await form.locator('input[value="gewerberegisterauszug"]').check();
          await page.fill("#provider-endpoint", demoEndpoint(lotse, "freiburg-gewerbe"));
          await page.fill("#provider-jurisdictions", "Freiburg im Breisgau");
          await form.locator("button[type=submit]").click();
          await page.locator("#bestaetigung").waitFor({ timeout: 30_000 });
          assert.match(
            await page.locator("#bestaetigung").textContent() ?? "",
            /wartet auf die Freigabe/,
          );
          await accessible(page, "confirmation");
          await shot(page, "confirmation");
          registrationId = (await page.locator("#vorgang").textContent())!;
          const [stored] = await lotse.lotse.db.sql<{ body: unknown }>`
            select body from registrations where id = ${registrationId}::uuid`;
          const body = typeof stored!.body === "string" ? JSON.parse(stored!.body) : stored!.body;
          assert.deepEqual(body.jurisdictions, ["08311000"], "the name resolved to its AGS");
          assert.equal(JSON.stringify(body).includes(privateKey.d), false, "never sent");
        });

        const created = await register(
          lotse,
          providerRegistration("kaputtes-register", await newKeyPair(), broken.endpoint("k"), {
            organisation: "Kaputtes Register (Test)",
            jurisdictions: ["06434001"],
            xnachweisEndpoint: broken.xnachweisEndpoint("k"),
          }),
        );
        assert.equal(created.status, 201);
        await created.body?.cancel();

        const card = (clientId: string) =>
          page.locator("section.card", { has: page.locator(`code:text-is("${clientId}")`) });

        await t.step("the operator sees both with what approval would create", async () => {
          await page.goto(`${lotse.base}/onboarding/betrieb`);
          await accessible(page, "operator sign-in");
          await page.fill("#token", "kein-token");
          await page.click("button[type=submit]");
          await page.locator("#token-fehler").waitFor({ timeout: 30_000 });
          await page.fill("#token", ADMIN_TOKEN);
          await page.click("button[type=submit]");
          await page.locator("section.card").first().waitFor({ timeout: 30_000 });
          assert.equal(await page.locator("section.card").count(), 2);
          const diff = await card("freiburg-gewerbe").locator(".diff").textContent();
          assert.match(diff ?? "", /Client freiburg-gewerbe mit Rolle provider/);
          assert.match(diff ?? "", /Route: .* in Freiburg im Breisgau \(Gemeinde 08311000\)/);
          await accessible(page, "operator list");
        });

        await t.step("readiness passes the demo register, fails the broken one", async () => {
          await card("freiburg-gewerbe").locator('button[value="readiness"]').click();
          await page.locator("#meldung", { hasText: /freiburg-gewerbe.*bestanden/ }).waitFor({
            timeout: 60_000,
          });
          await card("kaputtes-register").locator('button[value="readiness"]').click();
          await page.locator("#meldung", { hasText: /nicht bestanden/ }).waitFor({
            timeout: 60_000,
          });
          assert.match(
            await card("kaputtes-register").textContent() ?? "",
            /nicht bestanden \(9 Prüfung\(en\) fehlgeschlagen\)/,
          );
          assert.match(await card("freiburg-gewerbe").textContent() ?? "", /bestanden/);
          await shot(page, "operator");
          const report = await card("kaputtes-register").locator("a", { hasText: "Bericht" })
            .getAttribute("href");
          const reportPage = await browser.newPage();
          await reportPage.goto(`${lotse.base}${report}`);
          await accessible(reportPage, "readiness report");
          await shot(reportPage, "readiness-failed");
          const row = (id: string) => reportPage.locator(`tr[data-check="${id}"] td`).first();
          for (const id of BROKEN_REGISTER_FAILS) {
            assert.equal(await row(id).textContent(), "✗ fehlgeschlagen", id);
          }
          assert.equal(await row("valid-token").textContent(), "✓ bestanden");
          const good = await card("freiburg-gewerbe").locator("a", { hasText: "Bericht" })
            .getAttribute("href");
          await reportPage.goto(`${lotse.base}${good}`);
          assert.match(await reportPage.locator("#ergebnis").textContent() ?? "", /bestanden/);
          assert.equal(await reportPage.locator("td.fail").count(), 0);
          await accessible(reportPage, "passed readiness report");
          await shot(reportPage, "readiness-passed");
          await reportPage.close();
        });

        await t.step("approve one, reject the other; navigation follows", async () => {
          await card("freiburg-gewerbe").locator('button[value="approve"]').click();
          await page.locator("#meldung", { hasText: /freigegeben/ }).waitFor({ timeout: 30_000 });
          await card("kaputtes-register").locator('input[name="reason"]').fill("Readiness");
          await card("kaputtes-register").locator('button[value="reject"]').click();
          await page.locator("#meldung", { hasText: /abgelehnt/ }).waitFor({ timeout: 30_000 });
          assert.equal(await page.locator("#keine").count(), 1);
          const operator = await lotse.token("lotse-operator");
          const nav = await lotse.fetch(
            "/v1/navigation?evidenceType=gewerberegisterauszug&ags=08311000",
            { headers: { authorization: `Bearer ${operator}` } },
          );
          assert.equal((await nav.json()).provider.id, "freiburg-gewerbe");
          const audit = await lotse.fetch("/admin/v1/audit?table=registrations", {
            headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
          });
          const actions = (await audit.json()).entries.map((e: { action: string }) => e.action);
          assert.deepEqual(actions.sort(), ["approve", "reject"]);
        });
      });
    } finally {
      await close();
    }
  },
});

Deno.test({
  name: "in the test environment a consumer registers through the page and fetches demo evidence",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lotse = await startTestLotse({ env: { LOTSE_ENVIRONMENT: "test" } });
    try {
      await withBrowser(async (browser) => {
        const page = await browser.newPage();
        await page.goto(`${lotse.base}/onboarding`);
        assert.match(await page.locator("#testumgebung").textContent() ?? "", /Testumgebung/);
        await accessible(page, "/onboarding in the test environment");
        await shot(page, "test-environment");
        const key = await newKeyPair();
        const form = page.locator("#form-consumer");
        await page.fill("#consumer-organisation", "Gemeinde Testhausen – Bewohnerparken");
        await page.fill("#consumer-contactName", "Erika Mustermann");
        await page.fill("#consumer-contactEmail", "erika@testhausen.example");
        await page.fill("#consumer-clientId", "testhausen-parken");
        await page.fill("#consumer-jwks", JSON.stringify({ keys: [key.publicJwk] }));
        await form.locator('input[value="fahrzeugzulassung"]').check();
        await page.fill("#consumer-purposes", DEMO_PURPOSES.bewohnerparken.purpose);
        await page.fill("#consumer-legalBases", DEMO_PURPOSES.bewohnerparken.legalBasis);
        await form.locator("button[type=submit]").click();
        await page.locator("#bestaetigung").waitFor({ timeout: 30_000 });
        assert.match(await page.locator("#bestaetigung").textContent() ?? "", /freigeschaltet/);
        await accessible(page, "confirmation in the test environment");
        const token = await tokenWithKey(lotse, "testhausen-parken", key);
        assert.equal(token.status, 200, JSON.stringify(token.body));
        const evidence = await fetchParkingEvidence(lotse, token.token!);
        assert.equal(evidence.status, 200);
        assert.equal((await evidence.json()).fahrzeug.kennzeichen, "S-LO 1234");
      });
    } finally {
      await lotse.close();
    }
  },
});

Deno.test({
  name: "bad input on the page stays on the page, next to its field, and stores nothing",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const lotse = await startTestLotse({ env: { LOTSE_RATE_LIMIT_REGISTRATION: "0" } });
    try {
      await withBrowser(async (browser) => {
        const page = await browser.newPage();
        const before = await storedCounts(lotse);
        const key = await newKeyPair();
        const fillConsumer = async (values: Record<string, string>) => {
          await page.goto(`${lotse.base}/onboarding`);
          const form = page.locator("#form-consumer");
          const good: Record<string, string> = {
            organisation: "Stadt Musterstadt",
            contactName: "Erika Mustermann",
            contactEmail: "erika@musterstadt.example",
            clientId: "musterstadt-neu",
            jwks: JSON.stringify({ keys: [key.publicJwk] }),
            purposes: "bewohnerparkausweis",
            legalBases: "§ 45 StVO",
          };
          for (const [name, value] of Object.entries({ ...good, ...values })) {
            await page.fill(`#consumer-${name}`, value);
          }
          await form.locator('input[value="fahrzeugzulassung"]').check();
          await form.locator("button[type=submit]").click();
          await page.locator("#fehler").waitFor({ timeout: 30_000 });
        };
        const errorOf = (id: string) => page.locator(`#${id}-fehler`).textContent();
        const cases: [string, Record<string, string>, string, RegExp][] = [
          ["empty organisation", { organisation: "" }, "consumer-organisation", /ausfüllen/],
          ["bad e-mail", { contactEmail: "kein-at" }, "consumer-contactEmail", /E-Mail/],
          [
            "bad client id",
            { clientId: "Gross Schreibung" },
            "consumer-clientId",
            /Kleinbuchstaben/,
          ],
          [
            "another client's id",
            { clientId: "stuttgart-bewohnerparken" },
            "consumer-clientId",
            /Bereits vergeben/,
          ],
          ["the operator's id", { clientId: "lotse-operator" }, "consumer-clientId", /vergeben/],
          ["no JSON key", { jwks: "kein json" }, "consumer-jwks", /Kein gültiges JSON/],
          [
            "a private key",
            { jwks: JSON.stringify({ keys: [key.privateJwk] }) },
            "consumer-jwks",
            /private member/,
          ],
          ["no purpose", { purposes: "" }, "consumer-purposes", /mindestens einen/],
          ["no legal basis", { legalBases: "" }, "consumer-legalBases", /mindestens einen/],
        ];
        for (const [what, values, field, message] of cases) {
          await t.step(what, async () => {
            await fillConsumer(values);
            assert.match(await errorOf(field) ?? "", message);
            assert.equal(await page.getAttribute(`#${field}`, "aria-invalid"), "true");
          });
        }
        await t.step("the error page is accessible", async () => {
          await fillConsumer({ organisation: "", contactEmail: "x" });
          await accessible(page, "form with errors");
          await shot(page, "errors");
        });
        await t.step("a provider's unknown jurisdiction is named", async () => {
          await page.goto(`${lotse.base}/onboarding`);
          const form = page.locator("#form-provider");
          await page.fill("#provider-organisation", "Register");
          await page.fill("#provider-contactName", "A");
          await page.fill("#provider-contactEmail", "a@b.example");
          await page.fill("#provider-clientId", "register-neu");
          await page.fill("#provider-jwks", JSON.stringify(key.publicJwk));
          await form.locator('input[value="meldebescheinigung"]').check();
          await page.fill("#provider-endpoint", "https://register.example/nachweise");
          await page.fill("#provider-jurisdictions", "Nirgendwo");
          await form.locator("button[type=submit]").click();
          await page.locator("#fehler").waitFor({ timeout: 30_000 });
          assert.match(await errorOf("provider-jurisdictions") ?? "", /„Nirgendwo“/);
        });
        await t.step("a crafted form claiming the operator role is refused", async () => {
          const res = await lotse.fetch("/onboarding", {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({
              kind: "consumer",
              clientId: "rollen-dieb",
              organisation: "X",
              contactName: "X",
              contactEmail: "x@x.example",
              jwks: JSON.stringify({ keys: [key.publicJwk] }),
              evidenceTypes: "fahrzeugzulassung",
              purposes: "p",
              legalBases: "l",
              roles: "operator",
            }),
          });
          assert.equal(res.status, 400);
          assert.match(await res.text(), /Unbekannte Felder: [^<]*roles/);
        });
        await t.step("an oversize form is refused", async () => {
          const res = await lotse.fetch("/onboarding", {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: `kind=consumer&organisation=${"x".repeat(200 * 1024)}`,
          });
          assert.equal(res.status, 413);
          await res.body?.cancel();
        });
        await t.step("nothing was stored", async () => {
          assert.deepEqual(await storedCounts(lotse), before);
        });
      });
    } finally {
      await lotse.close();
    }
  },
});
