import assert from "node:assert/strict";
import { RouteList } from "./route_list.ts";
import type { Route } from "./model.ts";
import { Rng } from "../tools/rng.ts";

const route = (n: number, providerId = "p"): Route => ({
  id: `r-${n}`,
  evidenceType: "e",
  regionKey: String(n).padStart(8, "0"),
  providerId,
});

Deno.test("RouteList reads like the array it was made from", () => {
  const rows = Array.from({ length: 10_000 }, (_, i) => route(i));
  const list = RouteList.from(rows);
  assert.equal(list.length, rows.length);
  assert.deepEqual([...list], rows);
  assert.equal(list.find((r) => r.id === "r-9000"), rows[9000]);
  assert.equal(list.some((r) => r.id === "r-10000"), false);
  assert.deepEqual(list.map((r) => r.id), rows.map((r) => r.id));
  assert.deepEqual(list.filter((r) => r.id.endsWith("7")), rows.filter((r) => r.id.endsWith("7")));
  assert.equal(RouteList.from(list), list);
});

Deno.test("RouteList.withChanges() replaces, adds and deletes like a rebuilt list, old list intact", () => {
  // Random changes across chunk borders; the result must hold exactly the expected routes,
  // and a later change must still find every route (the id hashes kept in step).
  const rng = new Rng(7);
  let expected = new Map<string, Route>();
  for (let i = 0; i < 9000; i++) expected.set(route(i).id, route(i));
  let list = RouteList.from([...expected.values()]);
  let next = 9000;
  for (let round = 0; round < 40; round++) {
    const before = [...list];
    const ids: string[] = [];
    const rows: Route[] = [];
    const present = [...expected.keys()];
    for (let k = rng.int(6); k > 0; k--) ids.push(rng.pick(present)); // deleted
    for (let k = rng.int(6); k > 0; k--) {
      const id = rng.pick(present);
      ids.push(id);
      rows.push({ ...expected.get(id)!, providerId: `p-${round}` }); // changed
    }
    for (let k = rng.int(5000); k > 0; k--) {
      const added = route(next++);
      ids.push(added.id);
      rows.push(added);
    }
    const changed = list.withChanges(ids, rows);
    const gone = new Set(ids);
    assert.deepEqual(
      changed.removed.map((r) => r.id).sort(),
      before.filter((r) => gone.has(r.id)).map((r) => r.id).sort(),
    );
    const now = new Map(expected);
    for (const id of ids) now.delete(id);
    for (const row of rows) now.set(row.id, row);
    const key = (r: Route) => `${r.id}|${r.providerId}`;
    assert.deepEqual([...changed.list].map(key).sort(), [...now.values()].map(key).sort());
    assert.equal(changed.list.length, now.size);
    assert.deepEqual([...list], before, "the old list is unchanged");
    expected = now;
    list = changed.list;
  }
});
