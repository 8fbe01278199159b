/**
 * Turning the location parameters of a request (`ags`, `ars`, or `plz` with optional `ort`)
 * into one region, or into the problem that says why not. Shared by navigation and
 * evidence transfers, so both answer the same input the same way.
 *
 * @module
 */
import type { NavIndex, RegionLookup, Resolution } from "./nav_index.ts";
import { Problem } from "./problem.ts";
import { AGS, ARS, PLZ, SLUG } from "./schemas.ts";
import type { Region } from "./tables.ts";

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

/** Finds the one region the parameters name; throws a 400/404/409 problem otherwise. */
export function locate(nav: NavIndex, params: LocationParams): Region {
  const { ags, ars, plz, ort } = params;
  const given = (ags !== undefined ? 1 : 0) + (ars !== undefined ? 1 : 0) +
    (plz !== undefined ? 1 : 0);
  if (given !== 1) {
    throw new Problem(
      "invalid-request",
      given === 0
        ? "Missing location: give exactly one of ags, ars or plz"
        : "Conflicting location: give exactly one of ags, ars or plz",
    );
  }
  if (ort !== undefined && plz === undefined) {
    throw new Problem("invalid-request", "Parameter ort goes with plz only");
  }
  let lookup: RegionLookup;
  if (ags !== undefined) {
    if (!AGS.test(ags)) {
      throw new Problem("invalid-request", `Cannot parse AGS ${shown(ags)}: expected 8 digits`);
    }
    lookup = nav.lookupAgs(ags);
  } else if (ars !== undefined) {
    if (!ARS.test(ars)) {
      throw new Problem("invalid-request", `Cannot parse ARS ${shown(ars)}: expected 12 digits`);
    }
    lookup = nav.lookupArs(ars);
  } else {
    if (!PLZ.test(plz!)) {
      throw new Problem("invalid-request", `Cannot parse PLZ ${shown(plz!)}: expected 5 digits`);
    }
    if (ort !== undefined && (ort.length === 0 || ort.length > 200)) {
      throw new Problem("invalid-request", "Parameter ort must have 1 to 200 characters");
    }
    lookup = nav.lookupPlz(plz!, ort);
  }
  switch (lookup.kind) {
    case "found":
      return lookup.region;
    case "ambiguous":
      throw new Problem(
        "ambiguous-region",
        `PLZ "${plz}"${
          ort === undefined ? "" : ` with Ort ${shown(ort)}`
        } covers ${lookup.candidates.length} Gemeinden: add or correct ort`,
        { extra: { candidates: lookup.candidates } },
      );
    case "invalid":
      throw new Problem("invalid-request", lookup.detail);
    case "unknown":
      throw new Problem(
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

/** The responsible provider for `evidenceType` in `region`; throws 400/404 otherwise. */
export function responsible(nav: NavIndex, evidenceType: string, region: Region): Resolution {
  if (!SLUG.test(evidenceType)) {
    throw new Problem(
      "invalid-request",
      `Cannot parse evidence type ${shown(evidenceType)}: expected a slug`,
    );
  }
  const result = nav.resolve(evidenceType, region.ags);
  switch (result.kind) {
    case "resolved":
      return result;
    case "unknown-evidence-type":
      throw new Problem("not-found", `Unknown evidence type "${evidenceType}"`);
    case "no-responsible-provider":
      throw new Problem(
        "no-responsible-provider",
        `No provider is responsible for "${evidenceType}" in ${region.name} (AGS "${region.ags}")`,
      );
    case "invalid":
      throw new Problem("invalid-request", result.detail);
  }
}
