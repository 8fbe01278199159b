import assert from "node:assert/strict";
import { parseRouteLine } from "./route_line.ts";
import { routeBody, TABLE_IDS } from "./schemas.ts";
import type { Route } from "./model.ts";
import { Rng } from "../tools/rng.ts";

/** What `JSON.parse` and the schemas of record make of a line: the route, or null. */
function bySchema(line: string): Route | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const { id, ...rest } = value as Record<string, unknown>;
  const idResult = TABLE_IDS.routes.safeParse(id);
  const body = routeBody.safeParse(rest);
  return idResult.success && body.success ? { id: idResult.data, ...body.data } : null;
}

const ROUTES: readonly Route[] = [
  { id: "r-1", evidenceType: "meldebescheinigung", regionKey: "08111000", providerId: "bw" },
  { id: "bund", evidenceType: "fuehrungszeugnis", regionKey: "", providerId: "bfj" },
  { id: "0", evidenceType: "a", regionKey: "08", providerId: "p-0" },
  { id: "x".repeat(63), evidenceType: "e-1", regionKey: "081", providerId: "q" },
  { id: "k-08115", evidenceType: "kfz", regionKey: "08115", providerId: "kba-zfzr" },
];

Deno.test("parseRouteLine() reads a route in its usual form, as JSON.stringify writes it", () => {
  for (const route of ROUTES) {
    const line = JSON.stringify(route);
    assert.deepEqual(parseRouteLine(line), route);
    assert.deepEqual(parseRouteLine(line), bySchema(line));
  }
  assert.deepEqual(
    parseRouteLine(
      '{ "id" : "r-1",\t"evidenceType": "a", "regionKey": "", "providerId": "p" } ',
    ),
    { id: "r-1", evidenceType: "a", regionKey: "", providerId: "p" },
  );
});

Deno.test("parseRouteLine() leaves every other line to JSON.parse and the schema", () => {
  const lines = [
    // Valid, but not in the usual form: the general path takes them.
    '{"evidenceType":"a","id":"r","regionKey":"08","providerId":"p"}',
    '{"id":"r","evidence\\u0054ype":"a","regionKey":"08","providerId":"p"}',
    '{"id":"\\u0072","evidenceType":"a","regionKey":"08","providerId":"p"}',
    // Invalid: the schema words the error.
    '{"id":"R","evidenceType":"a","regionKey":"08","providerId":"p"}',
    `{"id":"${"x".repeat(64)}","evidenceType":"a","regionKey":"08","providerId":"p"}`,
    '{"id":"r","evidenceType":"a","regionKey":"0811","providerId":"p"}',
    '{"id":"r","evidenceType":"a","regionKey":"08","providerId":"p","extra":1}',
    '{"id":"r","evidenceType":"a","regionKey":"08"}',
    '{"id":"r","evidenceType":"a","regionKey":"08","providerId":"p"}}',
    '{"id":"r","evidenceType":"-a","regionKey":"08","providerId":"p"}',
    '{"id":"r","evidenceType":"a","regionKey":"０８","providerId":"p"}',
    "",
  ];
  for (const line of lines) assert.equal(parseRouteLine(line), null, line);
});

Deno.test("parseRouteLine() takes no line the schema would read differently or refuse", () => {
  // Random edits of usual lines: whatever the fast reader takes, the schema takes alike.
  const rng = new Rng(14);
  const alphabet = ['"', "\\", " ", "\t", "{", "}", ":", ",", "a", "Z", "0", "9", "-", "é", "u"];
  let taken = 0;
  for (let i = 0; i < 20_000; i++) {
    let line = JSON.stringify(rng.pick(ROUTES));
    for (let edits = rng.range(1, 3); edits > 0; edits--) {
      const at = rng.int(line.length + 1);
      const kind = rng.int(3);
      const c = rng.pick(alphabet);
      line = kind === 0
        ? line.slice(0, at) + c + line.slice(at)
        : kind === 1
        ? line.slice(0, at) + line.slice(at + 1)
        : line.slice(0, at) + c + line.slice(at + 1);
    }
    const fast = parseRouteLine(line);
    if (fast === null) continue;
    taken++;
    assert.deepEqual(fast, bySchema(line), line);
  }
  // The property is not empty: many edited lines are still routes (a changed letter).
  assert.ok(taken > 1000, `only ${taken} edited lines were read`);
});
