/**
 * The body of a navigation answer, assembled from per-row JSON fragments that are made once
 * per table version: on the hottest route, serialising the same region and provider again
 * is most of the work.
 *
 * @module
 */
import type { Resolution } from "./nav_index.ts";
import type { Provider, Region } from "./model.ts";

/**
 * `Content-Type: application/json`, shared by every navigation answer. A plain object: Deno
 * reads it about three times faster than a list of pairs or a `Headers`.
 */
export const JSON_HEADERS: HeadersInit = { "content-type": "application/json" };

// Keyed by the rows themselves: a table reload makes new rows, and the old fragments go with
// the old rows.
const regionJson = new WeakMap<Region, string>();
const providerJson = new WeakMap<Provider, string>();

function fragment<T extends object>(cache: WeakMap<T, string>, row: T, make: (row: T) => string) {
  let json = cache.get(row);
  if (json === undefined) cache.set(row, json = make(row));
  return json;
}

function regionFragment(r: Region): string {
  return JSON.stringify({ ags: r.ags, ars: r.ars, name: r.name });
}

function providerFragment(p: Provider): string {
  return JSON.stringify({ id: p.id, name: p.name, endpoint: p.endpoint });
}

/**
 * `{"evidenceType","region":{"ags","ars","name"},"provider":{"id","name","endpoint"},"matchedLevel"}`
 * as docs/api.md §3 fixes it. The evidence type id is a slug, safe to embed as it is.
 */
export function navigationBody(found: Resolution, region: Region): string {
  return `{"evidenceType":"${found.evidenceType.id}","region":${
    fragment(regionJson, region, regionFragment)
  },"provider":${
    fragment(providerJson, found.provider, providerFragment)
  },"matchedLevel":"${found.matchedLevel}"}`;
}
