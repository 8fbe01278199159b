/**
 * Reads an NDJSON line that holds a route in its usual form, `{"id":…,"evidenceType":…,
 * "regionKey":…,"providerId":…}` (these keys in this order, blanks allowed between tokens),
 * with one regular expression instead of `JSON.parse` and the zod schema: a million-route
 * import spent most of its own time in those two.
 *
 * The expression is built from the same patterns as `routeBody` and the route id schema
 * (`SLUG`, `REGION_KEY` in `schemas.ts`), so every line it takes the schema takes with the
 * same values (a test holds both to that); such values have no quote or backslash, so no
 * JSON escape can hide in them. Any other line, valid or not, yields null and goes through
 * `JSON.parse` and the schema, which also word its errors.
 *
 * @example
 * ```ts
 * parseRouteLine('{"id":"r-1","evidenceType":"meldebescheinigung","regionKey":"08","providerId":"bw"}');
 * // → { id: "r-1", evidenceType: "meldebescheinigung", regionKey: "08", providerId: "bw" }
 * ```
 *
 * @module
 */
import type { Route } from "./model.ts";
import { REGION_KEY, SLUG } from "./schemas.ts";

/** A pattern's source without its anchors, its groups made non-capturing. */
function inner(pattern: RegExp): string {
  return pattern.source.replace(/^\^|\$$/g, "").replace(/\((?!\?)/g, "(?:");
}

const BLANK = "[ \\t]*";

function member(name: string, pattern: RegExp): string {
  return `${BLANK}"${name}"${BLANK}:${BLANK}"(${inner(pattern)})"${BLANK}`;
}

const ROUTE_LINE = new RegExp(
  `^\\{${member("id", SLUG)},${member("evidenceType", SLUG)},${member("regionKey", REGION_KEY)},${
    member("providerId", SLUG)
  }\\}${BLANK}$`,
);

/** The route on `line` when it has the usual form and valid values; null otherwise. */
export function parseRouteLine(line: string): Route | null {
  const m = ROUTE_LINE.exec(line);
  if (m === null) return null;
  return { id: m[1]!, evidenceType: m[2]!, regionKey: m[3]!, providerId: m[4]! };
}
