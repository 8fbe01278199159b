/**
 * The Datenschutzcockpit page in a real headless Chromium (tests/_browser.ts finds it; driven
 * by playwright-core): a dsc operator enters an IDNr and reads the transfers about that person.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { bearer, startTestLotse } from "./_app.ts";
import { axeViolations, CHROMIUM_ARGS, chromiumPath } from "./_browser.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";
import { waitFor } from "./_wait.ts";

const IDNR = "86095742719";

Deno.test({
  name: "the cockpit page shows a person's transfers in a browser",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const lotse = await startTestLotse();
    const browser = await chromium.launch({
      executablePath: await chromiumPath(),
      args: [...CHROMIUM_ARGS],
    });
    try {
      const consumer = await lotse.token("stuttgart-bewohnerparken");
      const res = await lotse.fetch("/v1/evidence/fahrzeugzulassung?ags=08111000", {
        method: "POST",
        headers: bearer(consumer, {
          "lotse-purpose": DEMO_PURPOSES.bewohnerparken.purpose,
          "lotse-legal-basis": DEMO_PURPOSES.bewohnerparken.legalBasis,
          "lotse-idnr": IDNR,
          "content-type": "application/json",
        }),
        body: '{"kennzeichen":"S-LO 1234"}',
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      // The outcome is written once the last byte left: wait for that event, so the page can
      // show exactly "übermittelt".
      const transferId = res.headers.get("lotse-transfer-id");
      await waitFor(async () => {
        const r = await lotse.fetch(`/v1/transfers/${transferId}`, { headers: bearer(consumer) });
        return (await r.json()).outcome === "delivered";
      }, "the transfer's outcome");
      const dscToken = await lotse.token("dsc-cockpit");

      const page = await browser.newPage();
      await page.goto(`${lotse.base}/cockpit`);
      assert.equal(await page.locator("h1").textContent(), "Datenschutzcockpit");
      assert.deepEqual(await axeViolations(page), [], "no serious accessibility violation");

      await page.fill("#idnr", IDNR);
      await page.fill("#token", "not-a-token");
      await page.click("button[type=submit]");
      // The message appears once the page's fetch answered: wait for it.
      await page.locator("#error", { hasText: /ungültig/ }).waitFor({ timeout: 30_000 });

      await page.fill("#idnr", "86095742718");
      await page.fill("#token", dscToken);
      await page.click("button[type=submit]");
      await page.locator("#error", { hasText: /nicht gültig/ }).waitFor({ timeout: 30_000 });

      await page.fill("#idnr", IDNR);
      await page.fill("#token", dscToken);
      await page.click("button[type=submit]");
      const rows = page.locator("#result tbody tr");
      // The table is filled by the page's fetch: wait for its first row, then count.
      await rows.first().waitFor({ timeout: 30_000 });
      assert.equal(await rows.count(), 1);
      const cells = await rows.first().locator("td").allTextContents();
      assert.match(cells[1] ?? "", /Stuttgart.*\(stuttgart-bewohnerparken\)/);
      assert.match(cells[2] ?? "", /Kraftfahrt-Bundesamt/);
      assert.ok((cells[3] ?? "").length > 0);
      assert.equal(cells[4], DEMO_PURPOSES.bewohnerparken.purpose);
      assert.equal(cells[5], DEMO_PURPOSES.bewohnerparken.legalBasis);
      assert.equal(cells[6], "übermittelt");
      assert.ok(!page.url().includes(IDNR), "the IDNr never appears in the URL");
      const shot = Deno.env.get("COCKPIT_SCREENSHOT");
      if (shot) await page.screenshot({ path: shot, fullPage: true });
    } finally {
      await browser.close();
      await lotse.close();
    }
  },
});
