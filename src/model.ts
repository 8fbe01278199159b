/**
 * Lotse's model: the shapes of the tables it holds in memory, as plain types. Postgres is
 * the truth; these are the rows as the rest of the code sees them (camelCase, nulls
 * explicit). The one file of `src/` that `crypto/` and `db/` may import: it imports nothing.
 *
 * @module
 */

/** A Gemeinde, keyed by its 8-digit AGS. */
export interface Region {
  readonly ags: string;
  /** 12-digit ARS; its first 5 and last 3 digits are the AGS. */
  readonly ars: string | null;
  readonly name: string;
}

/** One (PLZ, Gemeinde, Ort) link; a PLZ can cover several Gemeinden and the reverse. */
export interface PostcodePlace {
  readonly ags: string;
  readonly ort: string;
}

export interface Postcode {
  readonly plz: string;
  readonly places: readonly PostcodePlace[];
}

export interface EvidenceType {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  /** EU Semantic Repository URI (XNachweis `EvidenceTypeClassification`); absent: none. */
  readonly classification?: string | null;
}

export interface Provider {
  readonly id: string;
  readonly name: string;
  /** `https://…`, or `http://` on a loopback address only. */
  readonly endpoint: string;
  /** PEM; trusted for this provider alone. */
  readonly caCert: string | null;
  /** Where XNachweis 0101s go (same URL rules as `endpoint`); absent: no XML face. */
  readonly xnachweisEndpoint?: string | null;
}

/** Evidence type × AGS prefix → provider. */
export interface Route {
  readonly id: string;
  readonly evidenceType: string;
  /** `""` (Bund), 2 (Land), 3 (Regierungsbezirk), 5 (Kreis) or 8 digits (Gemeinde). */
  readonly regionKey: string;
  readonly providerId: string;
}

/**
 * The route table as its readers use it: read-only, counted and iterated like an array. An
 * array is one; the table store holds a `RouteList` (`src/route_list.ts`), which a one-row
 * change does not copy whole.
 */
export interface RouteRows extends Iterable<Route> {
  readonly length: number;
  find(predicate: (route: Route) => boolean): Route | undefined;
  some(predicate: (route: Route) => boolean): boolean;
  map<T>(fn: (route: Route) => T): T[];
  filter(predicate: (route: Route) => boolean): Route[];
}

export type Role = "consumer" | "provider" | "dsc" | "operator" | "gateway";

export interface Client {
  readonly id: string;
  readonly name: string;
  readonly roles: readonly Role[];
  readonly jwks: { readonly keys: readonly JsonWebKey[] };
}

export interface Permission {
  readonly id: string;
  readonly consumerId: string;
  readonly evidenceType: string;
  /** `null`: any provider. */
  readonly providerId: string | null;
  readonly purposes: readonly string[];
  readonly legalBases: readonly string[];
  readonly idnrAllowed: boolean;
  /** ISO 8601 or null (unbounded). */
  readonly validFrom: string | null;
  readonly validUntil: string | null;
  /** Authorities (client ids) the consumer may act for (EfA services); absent: none. */
  readonly onBehalfOf?: readonly string[] | null;
}

/** Every table Lotse keeps in memory, as loaded at one moment. */
export interface Tables {
  readonly regions: readonly Region[];
  readonly postcodes: readonly Postcode[];
  readonly evidenceTypes: readonly EvidenceType[];
  readonly providers: readonly Provider[];
  readonly routes: RouteRows;
  readonly clients: readonly Client[];
  readonly permissions: readonly Permission[];
}

/** The tables navigation needs. */
export type NavTables = Pick<
  Tables,
  "regions" | "postcodes" | "routes" | "providers" | "evidenceTypes"
>;

export const TABLE_NAMES = [
  "regions",
  "postcodes",
  "evidence-types",
  "providers",
  "routes",
  "clients",
  "permissions",
] as const;

export type TableName = typeof TABLE_NAMES[number];
