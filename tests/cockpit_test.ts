/**
 * The citizens' Datenschutzcockpit (docs/api.md §3.5) in a real headless Chromium (driven by
 * playwright-core, tests/_browser.ts finds it): login at the demo identity provider, the
 * person's own transfers and no one else's, filters, CSV export, print view, logout, and
 * axe-core on every page. Then what an attacker would try: a cross-site form (CSRF), a
 * planted session id (fixation), a tampered or expired session. And the demo identity
 * provider never stands in outside demo mode.
 */
import assert from "node:assert/strict";
import { type Browser, chromium } from "playwright-core";
import { bearer, startTestLotse, type TestLotse } from "./_app.ts";
import { axeViolations, CHROMIUM_ARGS, chromiumPath } from "./_browser.ts";
import { loginWithFetch, setCookieLine } from "./_cockpit.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";
import { DEMO_PEOPLE } from "../demo/population.ts";
import { waitFor } from "./_wait.ts";

const JUERGEN = DEMO_PEOPLE.juergen;
const ANNA = DEMO_PEOPLE.annaKoeln;
const STUTTGART = "Landeshauptstadt Stuttgart – Bewohnerparkausweis online";

/** Fetches vehicle data about `idnr`; waits until the transfer's outcome is recorded. */
async function fetchEvidence(
  lotse: TestLotse,
  idnr: string,
  options: { client?: string; evidence?: string; purpose?: string } = {},
): Promise<string> {
  const client = options.client ?? "stuttgart-bewohnerparken";
  const token = await lotse.token(client);
  const evidence = options.evidence ?? "fahrzeugzulassung";
  const res = await lotse.fetch(`/v1/evidence/${evidence}?ags=08111000`, {
    method: "POST",
    headers: bearer(token, {
      "lotse-purpose": options.purpose ?? DEMO_PURPOSES.bewohnerparken.purpose,
      "lotse-legal-basis": DEMO_PURPOSES.bewohnerparken.legalBasis,
      "lotse-idnr": idnr,
      "content-type": "application/json",
    }),
    body: '{"kennzeichen":"S-LO 1234"}',
  });
  await res.arrayBuffer();
  const transferId = res.headers.get("lotse-transfer-id")!;
  await waitFor(async () => {
    const r = await lotse.fetch(`/v1/transfers/${transferId}`, { headers: bearer(token) });
    const outcome = (await r.json()).outcome;
    return outcome !== undefined && outcome !== "in-flight";
  }, "the transfer's outcome");
  return transferId;
}

/** The Identitätsdatenabruf for Jürgen Weiß; waits for its outcome (it names him). */
async function queryIdentity(lotse: TestLotse): Promise<string> {
  const token = await lotse.token("stuttgart-bewohnerparken");
  const res = await lotse.fetch("/v1/identity-queries", {
    method: "POST",
    headers: bearer(token, {
      "content-type": "application/json",
      "lotse-purpose": DEMO_PURPOSES.identitaet.purpose,
      "lotse-legal-basis": DEMO_PURPOSES.identitaet.legalBasis,
    }),
    body: JSON.stringify({ familyName: "Weiß", givenNames: "Jürgen", dateOfBirth: "1984-07-12" }),
  });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const transferId = res.headers.get("lotse-transfer-id")!;
  await waitFor(async () => {
    const r = await lotse.fetch(`/v1/transfers/${transferId}`, { headers: bearer(token) });
    return (await r.json()).outcome === "delivered";
  }, "the identity query's outcome");
  return transferId;
}

async function launch(): Promise<Browser> {
  return await chromium.launch({ executablePath: await chromiumPath(), args: [...CHROMIUM_ARGS] });
}

Deno.test({
  name: "a person logs in at the identity provider and sees their own transfers, and only those",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    let offset = 0;
    const lotse = await startTestLotse({ now: () => Date.now() + offset });
    const browser = await launch();
    // An attacker's site: another site than 127.0.0.1 (127.0.0.2), with a form at the cockpit.
    const attacker = Deno.serve(
      { hostname: "127.0.0.2", port: 0, onListen() {} },
      () =>
        new Response(
          `<!DOCTYPE html><html lang="en"><title>Win a prize</title><main>
        <form method="post" action="${lotse.base}/cockpit/logout">
        <input type="hidden" name="csrf" value="guessed"><button id="go">Claim</button></form>
        </main></html>`,
          { headers: { "content-type": "text/html" } },
        ),
    );
    try {
      const mine = [
        await fetchEvidence(lotse, JUERGEN.idnr),
        await queryIdentity(lotse),
        // Refused: the Gewerbe service has no permission for vehicle data.
        await fetchEvidence(lotse, JUERGEN.idnr, {
          client: "service-bw-gewerbe",
          purpose: DEMO_PURPOSES.gewerbe.purpose,
        }),
      ];
      const annas = await fetchEvidence(lotse, ANNA.idnr);

      const context = await browser.newContext({ acceptDownloads: true });
      const page = await context.newPage();

      await t.step("without login the cockpit shows nothing but the login", async () => {
        const res = await page.goto(`${lotse.base}/cockpit`);
        assert.equal(res?.status(), 200);
        assert.equal(await page.locator("h1").textContent(), "Datenschutzcockpit");
        assert.equal(await page.locator("#login").count(), 1);
        assert.equal(await page.locator("table, form").count(), 0);
        assert.equal(
          await page.locator("body").textContent().then((s) => s!.includes(STUTTGART)),
          false,
        );
        assert.deepEqual(await axeViolations(page), []);
        for (const path of ["/cockpit/export.csv", "/cockpit/druck"]) {
          const r = await page.request.get(`${lotse.base}${path}`);
          assert.equal(r.status(), 401, path);
          assert.ok(!(await r.text()).includes(STUTTGART));
        }
      });

      await t.step("login at the demo identity provider, by keyboard", async () => {
        await page.focus("#login");
        await page.keyboard.press("Enter");
        await page.waitForURL(/\/idp\/authorize\?/);
        assert.match(await page.locator("h1").textContent() ?? "", /Person/);
        assert.deepEqual(await axeViolations(page), [], "the identity provider's page");
        await page.getByRole("button", { name: /Jürgen Weiß/ }).click();
        await page.locator("#uebermittlungen tbody tr").first().waitFor({ timeout: 30_000 });
        assert.equal(new URL(page.url()).pathname, "/cockpit");
        const cookie = (await context.cookies()).find((c) => c.name === "lotse_cockpit")!;
        assert.equal(cookie.httpOnly, true);
        assert.equal(cookie.sameSite, "Strict");
        assert.ok(!page.url().includes(JUERGEN.idnr), "the IDNr never appears in a URL");
      });

      await t.step("the person's own transfers in plain German, no one else's", async () => {
        const rows = page.locator("#uebermittlungen tbody tr");
        assert.equal(await rows.count(), 3);
        const text = await page.locator("#uebermittlungen").textContent() ?? "";
        assert.match(text, /Landeshauptstadt Stuttgart/);
        assert.match(text, /Fahrzeugzulassungsdaten/);
        assert.match(text, /Kraftfahrt-Bundesamt/);
        assert.match(text, /Identitätsdaten \(IDNr und Basisdaten\)/);
        assert.match(text, /Registermodernisierungsbehörde/);
        assert.match(text, /§ 6 Abs\. 1 IDNrG/);
        assert.match(text, /abgelehnt – die Behörde durfte diese Daten nicht abrufen/);
        assert.equal((text.match(/übermittelt/g) ?? []).length, 2);
        const times = await page.locator("#uebermittlungen time").evaluateAll((els) =>
          els.map((e) => e.getAttribute("datetime"))
        );
        assert.equal(times.length, 3);
        assert.deepEqual(await axeViolations(page), []);
        const shot = Deno.env.get("COCKPIT_SCREENSHOT");
        if (shot) await page.screenshot({ path: shot, fullPage: true });
      });

      await t.step("filter by authority and by time", async () => {
        await page.selectOption("#behoerde", "service-bw-gewerbe");
        await page.getByRole("button", { name: "Filter anwenden" }).click();
        await page.waitForURL(/behoerde=service-bw-gewerbe/);
        const rows = page.locator("#uebermittlungen tbody tr");
        assert.equal(await rows.count(), 1);
        assert.match(await rows.first().textContent() ?? "", /abgelehnt/);
        const tomorrow = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
        await page.fill("#von", tomorrow);
        await page.selectOption("#behoerde", "");
        await page.getByRole("button", { name: "Filter anwenden" }).click();
        await page.locator("#keine").waitFor();
        assert.equal(await page.locator("#uebermittlungen").count(), 0);
        const today = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
        await page.fill("#von", today);
        await page.getByRole("button", { name: "Filter anwenden" }).click();
        await page.locator("#uebermittlungen").waitFor();
        assert.equal(await page.locator("#uebermittlungen tbody tr").count(), 3);
        assert.deepEqual(await axeViolations(page), []);
      });

      await t.step("CSV export: the person's rows, safe for spreadsheets", async () => {
        const [download] = await Promise.all([
          page.waitForEvent("download"),
          page.click("#export"),
        ]);
        const csv = await Deno.readTextFile((await download.path())!);
        const lines = csv.replace(/^\uFEFF/, "").trim().split(/\r\n/);
        assert.match(lines[0]!, /^Zeitpunkt;Behörde;/);
        assert.equal(lines.length, 1 + 3);
        for (const id of mine) assert.ok(csv.includes(id), `transfer ${id} exported`);
        assert.ok(!csv.includes(annas), "another person's transfer is not exported");
      });

      await t.step("print view", async () => {
        await page.click("#druck");
        await page.waitForURL(/\/cockpit\/druck/);
        assert.equal(await page.locator("h1").textContent(), "Auszug aus dem Datenschutzcockpit");
        assert.equal(await page.locator("#uebermittlungen tbody tr").count(), 3);
        assert.equal(await page.locator("form").count(), 0);
        assert.deepEqual(await axeViolations(page), []);
      });

      await t.step("a cross-site form cannot log the person out (CSRF)", async () => {
        const evil = await context.newPage();
        // 127.0.0.2 is another site than 127.0.0.1: the SameSite=Strict cookie stays home.
        await evil.goto(`http://127.0.0.2:${attacker.addr.port}/`);
        const [answer] = await Promise.all([
          evil.waitForResponse((r) => r.url().endsWith("/cockpit/logout")),
          evil.click("#go"),
        ]);
        assert.equal(answer.status(), 403);
        // The refusal page commits after its response arrived; a close racing that commit can
        // hang for good (Chromium drops the close: crbug.com/536385539, playwright#42366), so
        // the page is closed once the refusal is shown.
        await evil.waitForURL(/\/cockpit\/logout$/);
        assert.match(await evil.locator("[role=alert]").textContent() ?? "", /abgelehnt/);
        await evil.close();
        // A forged form with the session but without its token is refused as well.
        const cookie = (await context.cookies()).find((c) => c.name === "lotse_cockpit")!;
        const forged = await fetch(`${lotse.base}/cockpit/logout`, {
          method: "POST",
          redirect: "manual",
          headers: {
            cookie: `lotse_cockpit=${cookie.value}`,
            "content-type": "application/x-www-form-urlencoded",
          },
          body: "csrf=guessed",
        });
        assert.equal(forged.status, 403);
        await forged.body?.cancel();
        await page.goto(`${lotse.base}/cockpit`);
        assert.equal(await page.locator("#uebermittlungen tbody tr").count(), 3, "still in");
      });

      await t.step("logout ends the session, also for a copy of the cookie", async () => {
        const before = (await context.cookies()).find((c) => c.name === "lotse_cockpit")!;
        await page.getByRole("button", { name: "Abmelden" }).click();
        await page.locator("#login").waitFor();
        assert.match(await page.locator("[role=status]").textContent() ?? "", /abgemeldet/);
        assert.deepEqual(await axeViolations(page), []);
        const replay = await fetch(`${lotse.base}/cockpit`, {
          headers: { cookie: `lotse_cockpit=${before.value}` },
        });
        const html = await replay.text();
        assert.ok(!html.includes(STUTTGART) && html.includes('id="login"'));
      });

      await t.step("a planted session id is never adopted (fixation)", async () => {
        const planted = "attacker-chosen-session-id-0123456789abcdefghijklmnopq";
        const session = await loginWithFetch(lotse.base, JUERGEN.idnr, {
          cookie: `lotse_cockpit=${planted}`,
        });
        assert.notEqual(session.id, planted);
        const withPlanted = await fetch(`${lotse.base}/cockpit`, {
          headers: { cookie: `lotse_cockpit=${planted}` },
        });
        assert.ok((await withPlanted.text()).includes('id="login"'));
        // A second login in the same browser rotates the id and ends the first session.
        const second = await loginWithFetch(lotse.base, JUERGEN.idnr, { cookie: session.cookie });
        assert.notEqual(second.id, session.id);
        const old = await fetch(`${lotse.base}/cockpit/export.csv`, {
          headers: { cookie: session.cookie },
        });
        assert.equal(old.status, 401);
        await old.body?.cancel();
      });

      await t.step("a tampered session is refused", async () => {
        const session = await loginWithFetch(lotse.base, JUERGEN.idnr);
        const flip = session.id.at(-1) === "A" ? "B" : "A";
        const tampered = `lotse_cockpit=${session.id.slice(0, -1)}${flip}`;
        const res = await fetch(`${lotse.base}/cockpit/export.csv`, {
          headers: { cookie: tampered },
        });
        assert.equal(res.status, 401);
        await res.body?.cancel();
        const ok = await fetch(`${lotse.base}/cockpit/export.csv`, {
          headers: { cookie: session.cookie },
        });
        assert.equal(ok.status, 200, "the untouched one still works");
        await ok.body?.cancel();
      });

      await t.step("the login cookie is Lax and short, the session cookie Strict", async () => {
        const start = await fetch(`${lotse.base}/cockpit/login`, { redirect: "manual" });
        await start.body?.cancel();
        const line = setCookieLine(start, "lotse_cockpit_login")!;
        assert.match(line, /HttpOnly/i);
        assert.match(line, /SameSite=Lax/i);
        assert.match(line, /Max-Age=600/i);
        assert.match(line, /Path=\/cockpit\/callback/);
        // A callback without the login cookie (a forged or replayed code) opens no session.
        const url = new URL(start.headers.get("location")!);
        const forged = await fetch(
          `${lotse.base}/cockpit/callback?code=stolen&state=${url.searchParams.get("state")}`,
          { redirect: "manual" },
        );
        assert.equal(forged.status, 400);
        assert.equal(setCookieLine(forged, "lotse_cockpit"), null);
        await forged.body?.cancel();
      });

      await t.step("an expired session is refused", async () => {
        const session = await loginWithFetch(lotse.base, JUERGEN.idnr);
        offset += 31 * 60 * 1000;
        const res = await fetch(`${lotse.base}/cockpit`, { headers: { cookie: session.cookie } });
        const html = await res.text();
        assert.ok(html.includes('id="login"') && !html.includes(STUTTGART));
        const csv = await fetch(`${lotse.base}/cockpit/export.csv`, {
          headers: { cookie: session.cookie },
        });
        assert.equal(csv.status, 401);
        await csv.body?.cancel();
      });
      await context.close();
    } finally {
      await attacker.shutdown();
      await browser.close();
      await lotse.close();
    }
  },
});

Deno.test({
  name: "the demo identity provider never stands in outside demo mode",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const plain = await startTestLotse({ env: { LOTSE_DEMO: "0" } });
    try {
      assert.equal(plain.lotse.demoProvider, null);
      const page = await (await plain.fetch("/cockpit")).text();
      assert.ok(!page.includes('id="login"'));
      assert.match(page, /nicht eingerichtet/);
      const start = await plain.fetch("/cockpit/login", { redirect: "manual" });
      assert.equal(start.status, 503);
      await start.body?.cancel();
    } finally {
      await plain.close();
    }
    // A configured identity provider wins over the demo's, even in demo mode.
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (closed.addr as Deno.NetAddr).port;
    closed.close();
    const configured = await startTestLotse({
      env: {
        LOTSE_DSC_OIDC_ISSUER: `http://127.0.0.1:${port}/realm`,
        LOTSE_DSC_OIDC_CLIENT_ID: "cockpit",
      },
    });
    try {
      const start = await configured.fetch("/cockpit/login", { redirect: "manual" });
      assert.equal(start.status, 503, "the configured (unreachable) provider, not the demo's");
      await start.body?.cancel();
    } finally {
      await configured.close();
    }
  },
});

Deno.test({
  name: "under HTTPS the cockpit's cookies are Secure",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // In-process behind a TLS-terminating proxy: the public URL is https.
    const lotse = await startTestLotse({
      serve: false,
      env: { LOTSE_PUBLIC_URL: "https://lotse.test" },
    });
    try {
      const send = (url: string, init?: RequestInit) =>
        Promise.resolve(lotse.lotse.fetch(new Request(url, init)));
      const start = await send(`${lotse.publicUrl}/cockpit/login`, { redirect: "manual" });
      await start.body?.cancel();
      assert.match(setCookieLine(start, "lotse_cockpit_login")!, /;\s*Secure/i);
      let sessionLine: string | null = null;
      await loginWithFetch(lotse.publicUrl, JUERGEN.idnr, {
        send,
        inspect: (_url, res) => {
          sessionLine = setCookieLine(res, "lotse_cockpit");
          return Promise.resolve();
        },
      });
      assert.match(sessionLine!, /;\s*Secure/i);
      assert.match(sessionLine!, /;\s*HttpOnly/i);
      assert.match(sessionLine!, /;\s*SameSite=Strict/i);
    } finally {
      await lotse.close();
    }
  },
});
