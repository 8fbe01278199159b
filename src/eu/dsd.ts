/**
 * The Data Service Directory query of docs/api.md §3.2
 * (`urn:fdc:oots:dsd:ebxml-regrep:queries:dataservices-by-evidencetype-and-jurisdiction`):
 * the German data services for an evidence type classification, from the navigation index's
 * routes. A federal evidence type lists its Bund provider; a regional one needs the
 * jurisdiction narrowed (`jurisdiction-admin-l2`: a Land, as its 2-digit key or NUTS-1 code;
 * `jurisdiction-admin-l3`: a Kreis (5 digits) or a Gemeinde (8-digit AGS, the German LAU
 * code), checked against the regions table), and answers `DSD:ERR:0005` with the
 * jurisdiction determination when it is not — the EU twin of 409 `ambiguous-region`.
 *
 * @module
 */
import type { Resolution } from "../nav_index.ts";
import type { Snapshot } from "../store.ts";
import { type DataServiceEntry, type DsdExceptionInput, EDM_AGENT_SCHEME } from "./edm.ts";

/** The one DSD query Lotse answers. */
export const DSD_QUERY_ID =
  "urn:fdc:oots:dsd:ebxml-regrep:queries:dataservices-by-evidencetype-and-jurisdiction";

/** The DSD query's parameters as they came (null: absent). */
export interface DsdQuery {
  readonly queryId: string | null;
  readonly classification: string | null;
  readonly countryCode: string | null;
  readonly adminL2: string | null;
  readonly adminL3: string | null;
}

/** The DSD's answer: services, or an exception with its HTTP status. */
export type DsdLookup =
  | { readonly kind: "services"; readonly services: readonly DataServiceEntry[] }
  | { readonly kind: "exception"; readonly status: number; readonly exception: DsdExceptionInput };

/** NUTS-1 code → Land key (AGS prefix). */
const NUTS1_LAND: Readonly<Record<string, string>> = {
  DE1: "08",
  DE2: "09",
  DE3: "11",
  DE4: "12",
  DE5: "04",
  DE6: "02",
  DE7: "06",
  DE8: "13",
  DE9: "03",
  DEA: "05",
  DEB: "07",
  DEC: "10",
  DED: "14",
  DEE: "15",
  DEF: "01",
  DEG: "16",
};

const LAU_LEVEL = "https://sr.ec.europa.eu/codelist/locationLevel/LAU";
const NUTS1_LEVEL = "https://sr.ec.europa.eu/codelist/locationLevel/NUTS1";

function exception(
  status: number,
  code: string,
  type: string,
  message: string,
  detail: string,
  determination?: DsdExceptionInput["determination"],
): DsdLookup {
  return {
    kind: "exception",
    status,
    exception: { code, type, message, detail, ...(determination ? { determination } : {}) },
  };
}

function badQuery(detail: string): DsdLookup {
  return exception(
    400,
    "DSD:ERR:0003",
    "rs:InvalidRequestExceptionType",
    "The query parameters do not follow the query specification",
    detail,
  );
}

/** The region key the query narrows to, or a refusal. */
function narrowedKey(snapshot: Snapshot, query: DsdQuery): string | null | DsdLookup {
  if (query.adminL3 !== null) {
    const key = query.adminL3.trim().replace(/^DE-?/i, "");
    if (/^\d{8}$/.test(key)) {
      if (!snapshot.nav.region(key)) return badQuery(`Unknown Gemeinde "${query.adminL3}"`);
      return key;
    }
    if (/^\d{5}$/.test(key)) return key;
    return badQuery(
      `jurisdiction-admin-l3 must be a Kreis (5 digits) or a Gemeinde (8-digit AGS)`,
    );
  }
  if (query.adminL2 !== null) {
    const raw = query.adminL2.trim().toUpperCase();
    const key = NUTS1_LAND[raw] ?? (/^(DE-?)?\d{2}$/.test(raw) ? raw.slice(-2) : null);
    if (key === null || Number(key) < 1 || Number(key) > 16) {
      return badQuery(`jurisdiction-admin-l2 must be a Land (2 digits or NUTS-1 code)`);
    }
    return key;
  }
  return null;
}

/** Whether a route with region key `routeKey` answers for (part of) region `key`. */
function covers(routeKey: string, key: string): boolean {
  return key.startsWith(routeKey) || routeKey.startsWith(key);
}

function entry(resolution: Resolution, classification: string): DataServiceEntry {
  const key = resolution.route.regionKey;
  return {
    provider: {
      id: resolution.provider.id,
      scheme: EDM_AGENT_SCHEME,
      name: resolution.provider.name,
    },
    classification,
    evidenceTitle: resolution.evidenceType.name,
    jurisdiction: key === "" ? { level1: "DE" } : { level1: "DE", level2: `DE-${key}` },
  };
}

/** Answers one DSD query from the snapshot. */
export function findDataServices(snapshot: Snapshot, query: DsdQuery): DsdLookup {
  if (query.queryId !== DSD_QUERY_ID) {
    return exception(
      400,
      "DSD:ERR:0004",
      "rs:InvalidRequestExceptionType",
      "The requested Query does not exist",
      `Unknown queryId "${query.queryId ?? ""}": expected ${DSD_QUERY_ID}`,
    );
  }
  if (!query.classification) return badQuery("Missing evidence-type-classification");
  if (!query.countryCode) return badQuery("Missing country-code");
  const type = snapshot.nav.evidenceTypeByClassification(query.classification);
  if (query.countryCode.toUpperCase() !== "DE" || !type) {
    return exception(
      404,
      "DSD:ERR:0002",
      "rs:ObjectNotFoundExceptionType",
      "The Evidence requested cannot be found",
      `No evidence type "${query.classification}" in ${query.countryCode}`,
    );
  }
  const routes = snapshot.nav.routes(type.id).filter((r) => r.provider.xnachweisEndpoint);
  const federal = routes.filter((r) => r.route.regionKey === "");
  const narrowed = narrowedKey(snapshot, query);
  if (narrowed !== null && typeof narrowed === "object") return narrowed;
  let chosen: readonly Resolution[];
  if (narrowed === null) {
    if (federal.length > 0 || routes.length === 0) {
      chosen = federal;
    } else {
      const deepest = Math.max(...routes.map((r) => r.route.regionKey.length));
      const level = deepest >= 5 ? "jurisdiction-admin-l3" : "jurisdiction-admin-l2";
      return exception(
        409,
        "DSD:ERR:0005",
        "rs:ObjectNotFoundExceptionType",
        "The query requires the included extra attributes to be provided by the user",
        `"${type.id}" is provided per ${
          deepest >= 8 ? "Gemeinde" : deepest >= 5 ? "Kreis" : "Land"
        }: narrow the query with ${level}`,
        {
          classification: query.classification,
          evidenceTitle: type.name,
          level: deepest >= 5 ? LAU_LEVEL : NUTS1_LEVEL,
          context: level,
        },
      );
    }
  } else if (narrowed.length === 8) {
    const resolved = snapshot.nav.resolve(type.id, narrowed);
    chosen = resolved.kind === "resolved" && resolved.provider.xnachweisEndpoint ? [resolved] : [];
  } else {
    chosen = routes.filter((r) => covers(r.route.regionKey, narrowed));
  }
  const seen = new Set<string>();
  const services = chosen.filter((r) => !seen.has(r.provider.id) && seen.add(r.provider.id));
  if (services.length === 0) {
    return exception(
      404,
      "DSD:ERR:0001",
      "rs:ObjectNotFoundExceptionType",
      "No Data Services were found based on the given parameters",
      `No German data service provides "${type.id}" there`,
    );
  }
  return { kind: "services", services: services.map((r) => entry(r, query.classification!)) };
}
