import assert from "node:assert/strict";
import { type AccessRequest, PermissionIndex } from "./permissions.ts";
import type { Permission } from "./model.ts";

const base: Permission = {
  id: "p1",
  consumerId: "stuttgart-parken",
  evidenceType: "fahrzeugzulassung",
  providerId: "kba-zfzr",
  purposes: ["bewohnerparkausweis"],
  legalBases: ["StVO §45 Abs. 1b"],
  idnrAllowed: false,
  validFrom: "2026-01-01T00:00:00Z",
  validUntil: "2027-01-01T00:00:00Z",
};
const request: AccessRequest = {
  consumerId: "stuttgart-parken",
  evidenceType: "fahrzeugzulassung",
  providerId: "kba-zfzr",
  purpose: "bewohnerparkausweis",
  legalBasis: "StVO §45 Abs. 1b",
  idnrUsed: false,
};
const now = Date.parse("2026-06-01T00:00:00Z");

Deno.test("PermissionIndex.decide() grants what a permission covers", () => {
  const decision = new PermissionIndex([base]).decide(request, now);
  assert.equal(decision.granted, true);
});

for (
  const [what, change, at] of [
    ["another consumer", { consumerId: "muenchen-parken" }, now],
    ["another evidence type", { evidenceType: "meldebescheinigung" }, now],
    ["another provider", { providerId: "other" }, now],
    ["another purpose", { purpose: "werbung" }, now],
    ["another legal basis", { legalBasis: "§ 1 Nichts" }, now],
    ["the IDNr when not allowed", { idnrUsed: true }, now],
    ["a time before the window", {}, Date.parse("2025-12-31T23:59:59Z")],
    ["the first instant after the window", {}, Date.parse("2027-01-01T00:00:00Z")],
  ] as const
) {
  Deno.test(`PermissionIndex.decide() refuses ${what}`, () => {
    const decision = new PermissionIndex([base]).decide({ ...request, ...change }, at);
    assert.equal(decision.granted, false);
    assert.ok(!decision.granted && decision.reason.length > 0);
  });
}

Deno.test("PermissionIndex.decide() lets a null provider stand for any provider", () => {
  const index = new PermissionIndex([{ ...base, providerId: null, idnrAllowed: true }]);
  assert.equal(index.decide({ ...request, providerId: "x", idnrUsed: true }, now).granted, true);
});

Deno.test("PermissionIndex.decide() finds the one covering permission among several", () => {
  const index = new PermissionIndex([
    { ...base, id: "a", purposes: ["other"] },
    { ...base, id: "b", validFrom: null, validUntil: null },
  ]);
  const decision = index.decide(request, now);
  assert.ok(decision.granted && decision.permission.id === "b");
});
