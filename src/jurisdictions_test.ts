import assert from "node:assert/strict";
import { resolveJurisdiction } from "./jurisdictions.ts";
import { buildNavIndex } from "./nav_index.ts";
import { demoTables } from "../demo/tables.ts";

const nav = buildNavIndex(demoTables("http://127.0.0.1:1"));

Deno.test("resolveJurisdiction() takes keys, Bund, Länder and Gemeinden by name", () => {
  assert.deepEqual(resolveJurisdiction("08311000", nav), { key: "08311000" });
  assert.deepEqual(resolveJurisdiction("bundesweit", nav), { key: "" });
  assert.deepEqual(resolveJurisdiction("Baden-Württemberg", nav), { key: "08" });
  assert.deepEqual(resolveJurisdiction("bayern", nav), { key: "09" });
  assert.deepEqual(resolveJurisdiction(" Freiburg im Breisgau ", nav), { key: "08311000" });
  assert.deepEqual(resolveJurisdiction("Freiburg", nav), { key: "08311000" }, "a unique prefix");
});

Deno.test("resolveJurisdiction() refuses an unknown or ambiguous name, naming the candidates", () => {
  const unknown = resolveJurisdiction("Nirgendwo", nav);
  assert.ok("error" in unknown && /Nirgendwo/.test(unknown.error));
  const ambiguous = resolveJurisdiction("Stuttgart", {
    searchRegions: () => [
      { ags: "08111000", ars: null, name: "Stuttgart" },
      { ags: "08111001", ars: null, name: "Stuttgart" },
    ],
  });
  assert.ok("error" in ambiguous);
  assert.match(ambiguous.error, /mehrdeutig: Stuttgart \(08111000\), Stuttgart \(08111001\)/);
});
