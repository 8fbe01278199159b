/**
 * Turning the location parameters of a request (`ags`, `ars`, or `plz` with optional `ort`)
 * into one region, or into the refusal that says why not. Shared by navigation (route and
 * fast path) and evidence transfers, so all answer the same input the same way.
 *
 * @module
 */
import type { NavIndex, RegionLookup, Resolution } from "./nav_index.ts";
import { refusalProblem } from "./problem.ts";
import { type Refusal, refusal } from "./refusal.ts";
import { AGS, ARS, PLZ, SLUG } from "./schemas.ts";
import type { Region } from "./model.ts";

/** The raw location parameters, as read from a query string. */
export interface LocationParams {
  ags?: string | undefined;
  ars?: string | undefined;
  plz?: string | undefined;
  ort?: string | undefined;
}

function shown(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

/** A region found, or the refusal why not. */
export type Located = Extract<RegionLookup, { kind: "found" }> | Refusal;

/**
 * Finds the one region the parameters name, or says why not (`invalid-request`,
 * `unknown-region`, `ambiguous-region`). The rule of exactly one location: the Hono routes
 * and the navigation fast path both ask this function.
 */
export function findRegion(nav: NavIndex, params: LocationParams): Located {
  const { ags, ars, plz, ort } = params;
  const given = (ags !== undefined ? 1 : 0) + (ars !== undefined ? 1 : 0) +
    (plz !== undefined ? 1 : 0);
  if (given !== 1) {
    return refusal(
      "invalid-request",
      given === 0
        ? "Missing location: give exactly one of ags, ars or plz"
        : "Conflicting location: give exactly one of ags, ars or plz",
    );
  }
  if (ort !== undefined && plz === undefined) {
    return refusal("invalid-request", "Parameter ort goes with plz only");
  }
  let lookup: RegionLookup;
  if (ags !== undefined) {
    if (!AGS.test(ags)) {
      return refusal("invalid-request", `Cannot parse AGS ${shown(ags)}: expected 8 digits`);
    }
    lookup = nav.lookupAgs(ags);
  } else if (ars !== undefined) {
    if (!ARS.test(ars)) {
      return refusal("invalid-request", `Cannot parse ARS ${shown(ars)}: expected 12 digits`);
    }
    lookup = nav.lookupArs(ars);
  } else {
    if (!PLZ.test(plz!)) {
      return refusal("invalid-request", `Cannot parse PLZ ${shown(plz!)}: expected 5 digits`);
    }
    if (ort !== undefined && (ort.length === 0 || ort.length > 200)) {
      return refusal("invalid-request", "Parameter ort must have 1 to 200 characters");
    }
    lookup = nav.lookupPlz(plz!, ort);
  }
  switch (lookup.kind) {
    case "found":
      return lookup;
    case "ambiguous":
      return refusal(
        "ambiguous-region",
        `PLZ "${plz}"${
          ort === undefined ? "" : ` with Ort ${shown(ort)}`
        } covers ${lookup.candidates.length} Gemeinden: add or correct ort`,
        { candidates: lookup.candidates },
      );
    case "invalid":
      return refusal("invalid-request", lookup.detail);
    case "unknown":
      return refusal(
        "unknown-region",
        lookup.detail ??
          (ags !== undefined
            ? `Unknown AGS "${ags}"`
            : ars !== undefined
            ? `Unknown ARS "${ars}"`
            : `Unknown PLZ "${plz}"`),
      );
  }
}

/**
 * The responsible provider for `evidenceType` in `region`, or the refusal why not
 * (`invalid-request`, `not-found`, `no-responsible-provider`).
 */
export function findProvider(
  nav: NavIndex,
  evidenceType: string,
  region: Region,
): Resolution | Refusal {
  if (!SLUG.test(evidenceType)) {
    return refusal(
      "invalid-request",
      `Cannot parse evidence type ${shown(evidenceType)}: expected a slug`,
    );
  }
  const result = nav.resolve(evidenceType, region.ags);
  switch (result.kind) {
    case "resolved":
      return result;
    case "unknown-evidence-type":
      return refusal("not-found", `Unknown evidence type "${evidenceType}"`);
    case "no-responsible-provider":
      return refusal(
        "no-responsible-provider",
        `No provider is responsible for "${evidenceType}" in ${region.name} (AGS "${region.ags}")`,
      );
    case "invalid":
      return refusal("invalid-request", result.detail);
  }
}

/** {@linkcode findRegion} for the JSON routes: the region, or a thrown problem. */
export function locate(nav: NavIndex, params: LocationParams): Region {
  const found = findRegion(nav, params);
  if (found.kind !== "found") throw refusalProblem(found);
  return found.region;
}

/** {@linkcode findProvider} for the JSON routes: the resolution, or a thrown problem. */
export function responsible(nav: NavIndex, evidenceType: string, region: Region): Resolution {
  const found = findProvider(nav, evidenceType, region);
  if (found.kind !== "resolved") throw refusalProblem(found);
  return found;
}
