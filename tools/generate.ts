/**
 * Deterministic generator of navigation tables at Germany's real scale, for benchmarks,
 * load tests and invariant tests. Same options, same seed → identical tables.
 *
 * Real: the 16 Länder and their codes, the Regierungsbezirke where they exist, and the 401
 * Kreise with their keys and names. Synthetic: Gemeinde names and the last 3 AGS digits,
 * Gemeindeverbände, PLZ numbers and their Gemeinden, the catalogue of ~50 evidence types,
 * providers and routes.
 *
 * Kreis keys, names and population come from the npm package `landkreise-deutschland` 3.0.0
 * (https://github.com/mojoaxel/landkreise-deutschland), which republishes the Destatis
 * Gemeindeverzeichnis-Informationssystem GV-ISys, table "Kreisfreie Städte und Landkreise"
 * (https://www.destatis.de/DE/Themen/Laender-Regionen/Regionales/Gemeindeverzeichnis/Administrativ/04-kreise.html),
 * Stand 31.12.2018. Licence: CC BY 4.0, © Statistisches Bundesamt (Destatis), 2019, Daten im
 * Auftrag der Herausgebergemeinschaft Statistische Ämter des Bundes und der Länder.
 *
 * @example
 * ```ts
 * const tables = generateTables({ seed: 1 });              // ~120k routes
 * const big = generateTables({ seed: 1, minRoutes: 1_000_000 });
 * ```
 *
 * @module
 */

import districts from "landkreise-deutschland/data/districts.json" with { type: "json" };
import type {
  EvidenceType,
  Permission,
  Postcode,
  PostcodePlace,
  Provider,
  Region,
  Route,
} from "../src/model.ts";
import type { NavTables } from "../src/model.ts";
import { normalizeOrt } from "../src/ort.ts";
import { Rng } from "./rng.ts";
import { DEMO_PERMISSIONS } from "../demo/clients.ts";

export interface GenerateTablesOptions {
  /** PRNG seed; default 1. */
  readonly seed?: number;
  /**
   * Total route count wanted. When above the base catalogue's (~120k), synthetic
   * per-Gemeinde evidence types are added until the count is met exactly (the last one
   * covering only part of Germany).
   */
  readonly minRoutes?: number;
  /** Provider endpoints are `${providerBaseUrl}/providers/<id>`; default `https://providers.lotse.example`. */
  readonly providerBaseUrl?: string;
}

export type Coverage = "everywhere" | "partial";

/** The generated tables, plus which evidence types reach every Gemeinde. */
export interface GeneratedTables extends NavTables {
  readonly routes: readonly Route[];
  readonly coverage: Readonly<Record<string, Coverage>>;
}

type Level = "bund" | "land" | "regierungsbezirk" | "kreis" | "gemeinde";

interface EvidenceSpec {
  readonly id: string;
  readonly name: string;
  readonly level: Level;
  /** Provider id prefix; the provider id is `${family}-${region key}` (`${family}` for Bund). */
  readonly family: string;
  /** Provider name prefix, followed by the area's name. */
  readonly register: string;
  /** Gemeinde level: share of Gemeinden that have the register at all (no fall-back). */
  readonly share?: number;
  /** Gemeinde level: share of Kreise that run a shared register for their smaller Gemeinden. */
  readonly kreisShare?: number;
}

const LEVELS: readonly Level[] = ["bund", "land", "regierungsbezirk", "kreis", "gemeinde"];

/**
 * The catalogue: level | id | provider family | register | name | Gemeinde options.
 * A table rather than object literals so that fifty entries stay readable on one screen.
 * Options: `share=` (only that share of Gemeinden has the register, no fall-back) and
 * `kreisShare=` (that share of Landkreise runs a shared register for its smaller Gemeinden).
 */
const CATALOGUE_TABLE = `
bund | fahrzeugzulassung | kba-zfzr | Kraftfahrt-Bundesamt, Zentrales Fahrzeugregister | Fahrzeugzulassungsdaten (Zulassungsbescheinigung Teil I)
bund | fahrerlaubnisdaten | kba-zfer | Kraftfahrt-Bundesamt, Zentrales Fahrerlaubnisregister | Fahrerlaubnisdaten
bund | fahreignungsregisterauskunft | kba-faer | Kraftfahrt-Bundesamt, Fahreignungsregister | Auskunft aus dem Fahreignungsregister
bund | fuehrungszeugnis | bfj-bzr | Bundesamt für Justiz, Bundeszentralregister | Führungszeugnis
bund | gewerbezentralregisterauskunft | bfj-gzr | Bundesamt für Justiz, Gewerbezentralregister | Auskunft aus dem Gewerbezentralregister
bund | versicherungsverlauf | drv-bund | Deutsche Rentenversicherung Bund | Versicherungsverlauf der Rentenversicherung
bund | steuer-identifikationsnummer | bzst-idnr | Bundeszentralamt für Steuern | Bestätigung der steuerlichen Identifikationsnummer
bund | aufenthaltsstatus | bamf-azr | Bundesamt für Migration und Flüchtlinge, Ausländerzentralregister | Aufenthaltsstatus aus dem Ausländerzentralregister
bund | kindergeldbescheid | ba-familienkasse | Bundesagentur für Arbeit, Familienkasse | Kindergeldbescheid
bund | arbeitslosengeldbescheid | ba-arbeitsagentur | Bundesagentur für Arbeit | Bescheid über Arbeitslosengeld
bund | unternehmensbasisdaten | destatis-ubr | Statistisches Bundesamt, Basisregister für Unternehmen | Unternehmensbasisdaten
land | handelsregisterauszug | handelsregister | Handelsregister | Handelsregisterauszug
land | vereinsregisterauszug | vereinsregister | Vereinsregister | Vereinsregisterauszug
land | genossenschaftsregisterauszug | genossenschaftsregister | Genossenschaftsregister | Genossenschaftsregisterauszug
land | partnerschaftsregisterauszug | partnerschaftsregister | Partnerschaftsregister | Partnerschaftsregisterauszug
land | schulabschlusszeugnis | zeugnisregister | Zeugnisregister | Schulabschlusszeugnis
land | approbationsurkunde | approbationsbehoerde | Approbationsbehörde | Approbationsurkunde
land | versorgungsbezuege | landesamt-besoldung | Landesamt für Besoldung und Versorgung | Bescheid über Versorgungsbezüge
land | elterngeldbescheid | elterngeldstelle | Elterngeldstelle | Elterngeldbescheid
regierungsbezirk | berufsanerkennung | berufsanerkennung | Anerkennungsstelle | Anerkennung ausländischer Berufsqualifikation
regierungsbezirk | heimaufsicht-erlaubnis | heimaufsicht | Heimaufsicht | Erlaubnis der Heimaufsicht
regierungsbezirk | sprengstofferlaubnis | sprengstoffbehoerde | Sprengstoffbehörde | Sprengstoffrechtliche Erlaubnis
regierungsbezirk | schornsteinfegerbezirk | schornsteinfegerwesen | Schornsteinfegerwesen | Bestellung zum Bezirksschornsteinfeger
regierungsbezirk | stiftungsverzeichnisauszug | stiftungsaufsicht | Stiftungsaufsicht | Auszug aus dem Stiftungsverzeichnis
kreis | fahrerlaubnisakte | fahrerlaubnisbehoerde | Fahrerlaubnisbehörde | Fahrerlaubnisakte
kreis | zulassungsakte | zulassungsbehoerde | Zulassungsbehörde | Zulassungsakte der Zulassungsbehörde
kreis | baugenehmigung | bauaufsicht | Untere Bauaufsicht | Baugenehmigung
kreis | waffenbesitzkarte | waffenbehoerde | Waffenbehörde | Waffenbesitzkarte
kreis | jagdschein | jagdbehoerde | Untere Jagdbehörde | Jagdschein
kreis | aufenthaltstitel | auslaenderbehoerde | Ausländerbehörde | Aufenthaltstitel
kreis | wohngeldbescheid | wohngeldstelle | Wohngeldstelle | Wohngeldbescheid
kreis | schwerbehindertenausweis | versorgungsamt | Versorgungsamt | Schwerbehindertenausweis
kreis | bafoeg-bescheid | ausbildungsfoerderung | Amt für Ausbildungsförderung | BAföG-Bescheid
kreis | gesundheitszeugnis | gesundheitsamt | Gesundheitsamt | Bescheinigung über die Belehrung nach § 43 IfSG
kreis | sozialhilfebescheid | sozialamt | Sozialamt | Sozialhilfebescheid
kreis | unterhaltsvorschussbescheid | jugendamt | Jugendamt | Unterhaltsvorschussbescheid
kreis | lebensmittelbetrieb-registrierung | veterinaeramt | Veterinär- und Lebensmittelüberwachungsamt | Registrierung als Lebensmittelbetrieb
gemeinde | meldebescheinigung | melderegister | Melderegister | Meldebescheinigung | kreisShare=0.08
gemeinde | erweiterte-meldebescheinigung | melderegister | Melderegister | Erweiterte Meldebescheinigung | kreisShare=0.08
gemeinde | gewerberegisterauszug | gewerberegister | Gewerberegister | Auszug aus dem Gewerberegister | kreisShare=0.1
gemeinde | geburtsurkunde | standesamt | Standesamt | Geburtsurkunde
gemeinde | eheurkunde | standesamt | Standesamt | Eheurkunde
gemeinde | lebenspartnerschaftsurkunde | standesamt | Standesamt | Lebenspartnerschaftsurkunde
gemeinde | sterbeurkunde | standesamt | Standesamt | Sterbeurkunde
gemeinde | grundsteuerbescheid | steueramt | Steueramt | Grundsteuerbescheid
gemeinde | hundesteuerbescheid | steueramt | Steueramt | Hundesteuerbescheid
gemeinde | zweitwohnungsteuerbescheid | steueramt | Steueramt | Zweitwohnungsteuerbescheid | share=0.25
gemeinde | fischereischein | ordnungsamt | Ordnungsamt | Fischereischein
gemeinde | sondernutzungserlaubnis | ordnungsamt | Ordnungsamt | Sondernutzungserlaubnis | share=0.4
gemeinde | waehlerverzeichnisauszug | wahlamt | Wahlamt | Auszug aus dem Wählerverzeichnis
`;

function parseCatalogue(table: string): EvidenceSpec[] {
  return table.trim().split("\n").map((line) => {
    const [level, id, family, register, name, extra] = line.split(" | ");
    if (!LEVELS.includes(level as Level) || !id || !family || !register || !name) {
      throw new SyntaxError(`Cannot parse catalogue line "${line}"`);
    }
    const option = (key: string): number | undefined => {
      const match = extra?.match(new RegExp(`${key}=([0-9.]+)`));
      return match ? Number(match[1]) : undefined;
    };
    return {
      id,
      name,
      level: level as Level,
      family,
      register,
      share: option("share"),
      kreisShare: option("kreisShare"),
    };
  });
}

const CATALOGUE: readonly EvidenceSpec[] = parseCatalogue(CATALOGUE_TABLE);

interface Land {
  readonly name: string;
  /** Rough number of Gemeinden (Destatis, rounded); shapes the synthetic distribution only. */
  readonly gemeinden: number;
  /** Share of kreisangehörige Gemeinden in a Gemeindeverband (Amt, Verbandsgemeinde, …). */
  readonly verbandShare: number;
  /** Two-digit PLZ regions this generator gives the Land (roughly real, made disjoint). */
  readonly plzRegions: readonly string[];
  /** Qualifiers for Gemeinde names, as in "Neustadt (Pfalz)". */
  readonly landscapes: readonly string[];
}

/** code | name | ~Gemeinden | Verband share | PLZ regions | landscapes */
const LAENDER_TABLE = `
01 | Schleswig-Holstein | 1106 | 0.9 | 23 24 25 | Holstein Dithmarschen Angeln
02 | Hamburg | 1 | 0 | 20 21 22 |
03 | Niedersachsen | 941 | 0.5 | 26 27 29 30 31 37 38 49 | Harz Aller Weser Ems
04 | Bremen | 2 | 0 | 28 |
05 | Nordrhein-Westfalen | 396 | 0 | 32 33 40 41 42 44 45 46 47 48 50 51 52 53 57 58 59 | Rheinland Westfalen Eifel Sauerland
06 | Hessen | 422 | 0 | 34 35 36 60 61 63 64 65 | Taunus Odenwald Vogelsberg
07 | Rheinland-Pfalz | 2301 | 0.95 | 54 55 56 67 | Pfalz Eifel Hunsrück Westerwald
08 | Baden-Württemberg | 1101 | 0.5 | 68 69 70 71 72 73 74 75 76 77 78 79 88 89 | Schwarzwald Allgäu Alb Kraichgau
09 | Bayern | 2056 | 0.6 | 80 81 82 83 84 85 86 87 90 91 92 93 94 95 96 97 | Oberpfalz Allgäu Rhön Frankenwald
10 | Saarland | 52 | 0 | 66 | Saar
11 | Berlin | 1 | 0 | 10 12 13 |
12 | Brandenburg | 413 | 0.6 | 03 14 15 16 | Mark Spreewald Uckermark
13 | Mecklenburg-Vorpommern | 726 | 0.9 | 17 18 19 | Mecklenburg Vorpommern Rügen
14 | Sachsen | 418 | 0.3 | 01 02 04 08 09 | Erzgebirge Vogtland Lausitz
15 | Sachsen-Anhalt | 218 | 0.5 | 06 39 | Altmark Harz Saale
16 | Thüringen | 605 | 0.6 | 07 98 99 | Thüringen Rhön Eichsfeld
`;

function words(s: string | undefined): string[] {
  return (s ?? "").split(" ").filter((w) => w !== "");
}

const LAENDER: ReadonlyMap<string, Land> = new Map(
  LAENDER_TABLE.trim().split("\n").map((line) => {
    const [code, name, gemeinden, verbandShare, plz, landscapes] = line.split("|").map((c) =>
      c.trim()
    );
    return [code!, {
      name: name!,
      gemeinden: Number(gemeinden),
      verbandShare: Number(verbandShare),
      plzRegions: words(plz),
      landscapes: words(landscapes),
    }];
  }),
);

/** The Regierungsbezirke that exist today (BW, BY, HE, NW); elsewhere the Land stands in. */
const REGIERUNGSBEZIRKE: ReadonlyMap<string, string> = new Map([
  ["051", "Düsseldorf"],
  ["053", "Köln"],
  ["055", "Münster"],
  ["057", "Detmold"],
  ["059", "Arnsberg"],
  ["064", "Darmstadt"],
  ["065", "Gießen"],
  ["066", "Kassel"],
  ["081", "Stuttgart"],
  ["082", "Karlsruhe"],
  ["083", "Freiburg"],
  ["084", "Tübingen"],
  ["091", "Oberbayern"],
  ["092", "Niederbayern"],
  ["093", "Oberpfalz"],
  ["094", "Oberfranken"],
  ["095", "Mittelfranken"],
  ["096", "Unterfranken"],
  ["097", "Schwaben"],
]);

const NAME_PREFIXES = words("Alt Neu Ober Unter Nieder Hohen Groß Klein");
const NAME_STEMS = words(
  "Ahorn Birken Buchen Eichen Erlen Linden Tannen Weiden Eschen Hasel Berg Stein Wald Feld " +
    "Bach Brunn Mühl Kirch Burg Hof Sonnen Rosen Grün Schön Fürsten Königs Wolfs Hirsch Fuchs " +
    "Bären Lauter Roth Weiß Schwarz Dürr Kalten Hoh Lang Breit Möhr Schaf Gänse Bühl Löwen " +
    "Falken Biber Ried Moor Heide Sand Kalk Salz Eisen Gold Espen Holder Krähen Lerchen",
);
const NAME_SUFFIXES = words(
  "heim hausen dorf feld bach berg stadt ingen weiler rode hagen büttel stedt leben born " +
    "kirchen hofen au reuth beuren walde brück furt stetten münster holz wang zell ach see",
);
/** Länder where "Groß X" is written apart. */
const SPACED_PREFIX_LAENDER = new Set(["01", "03", "12", "13", "15"]);

interface Kreis {
  readonly key: string;
  readonly name: string;
  readonly kreisfrei: boolean;
  readonly population: number;
  readonly area: number;
}

interface Gemeinde {
  readonly region: Region;
  /** The Ort the Post would print: the name, or the name without its qualifier. */
  readonly ort: string;
  readonly kreis: Kreis;
}

/** The generator's random numbers in [0, 1), from the repository's one seeded PRNG. */
function createRng(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.float();
}

function pick<T>(rng: () => number, list: readonly T[]): T {
  return list[Math.floor(rng() * list.length)]!;
}

function int(rng: () => number, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

function loadKreise(): Kreis[] {
  const out: Kreis[] = [];
  for (const d of districts) {
    const key = pad(Number(d.AGS), 5);
    out.push({
      key,
      // "Kiel, Landeshauptstadt" → "Kiel": the part after the comma is a title, not the name.
      name: String(d.name).split(",")[0]!.trim(),
      kreisfrei: d.type === "Kreisfreie Stadt" || d.type === "Stadtkreis",
      population: Number(d.population),
      area: Number(d.area_km2),
    });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : 1));
}

function makeName(rng: () => number, land: string): { base: string; name: string } {
  const stem = pick(rng, NAME_STEMS);
  let base = stem + pick(rng, NAME_SUFFIXES);
  const r = rng();
  if (r < 0.06) base = `Bad ${base}`;
  else if (r < 0.3) {
    const prefix = pick(rng, NAME_PREFIXES);
    base = SPACED_PREFIX_LAENDER.has(land) && (prefix === "Groß" || prefix === "Klein")
      ? `${prefix} ${base}`
      : prefix + base.toLowerCase();
  } else if (r < 0.33) {
    base = `${base}-${pick(rng, NAME_STEMS)}${pick(rng, NAME_SUFFIXES)}`;
  }
  const landscapes = LAENDER.get(land)?.landscapes ?? [];
  const name = rng() < 0.06 && landscapes.length > 0 ? `${base} (${pick(rng, landscapes)})` : base;
  return { base, name };
}

function splitCount(total: number, weights: readonly number[], rng: () => number): number[] {
  const sum = weights.reduce((s, w) => s + w, 0);
  return weights.map((w) =>
    Math.max(3, Math.min(400, Math.round(total * w / sum * (0.8 + 0.4 * rng()))))
  );
}

/** Gemeinden of one Kreis: names unique in the Kreis, AGS in name order with gaps, ARS with Verbände. */
function makeGemeinden(kreis: Kreis, count: number, rng: () => number): Gemeinde[] {
  const land = kreis.key.slice(0, 2);
  if (kreis.kreisfrei) {
    const ags = `${kreis.key}000`;
    return [{
      region: { ags, ars: `${kreis.key}0000000`, name: kreis.name },
      ort: kreis.name,
      kreis,
    }];
  }
  const seen = new Set<string>();
  const names: { base: string; name: string }[] = [];
  while (names.length < count) {
    const n = makeName(rng, land);
    // Unique as the index compares them, so an Ort always tells a PLZ's Gemeinden apart.
    const key = normalizeOrt(n.base);
    if (seen.has(key)) continue;
    seen.add(key);
    names.push(n);
  }
  names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const maxGap = Math.max(1, Math.min(3, Math.floor(998 / count)));
  const verbandShare = LAENDER.get(land)?.verbandShare ?? 0;
  const out: Gemeinde[] = [];
  let ggg = 0;
  let verband = 0;
  let verbandLeft = 0;
  for (const n of names) {
    ggg += int(rng, 1, maxGap);
    const g = pad(ggg, 3);
    if (verbandLeft === 0 && rng() < verbandShare / 2) {
      verband++;
      verbandLeft = int(rng, 2, 10);
    }
    // Verbandsfreie Gemeinden carry "0" + their own 3 digits in the Verband part.
    const vvvv = verbandLeft > 0 ? pad(5000 + verband, 4) : `0${g}`;
    if (verbandLeft > 0) verbandLeft--;
    out.push({
      region: { ags: kreis.key + g, ars: kreis.key + vvvv + g, name: n.name },
      ort: n.base,
      kreis,
    });
  }
  return out;
}

/** PLZ groups of one Kreis: each group is the list of places one PLZ covers. */
function makePlzGroups(
  kreis: Kreis,
  gemeinden: readonly Gemeinde[],
  rng: () => number,
): PostcodePlace[][] {
  const place = (g: Gemeinde): PostcodePlace => ({ ags: g.region.ags, ort: g.ort });
  if (kreis.kreisfrei) {
    const g = gemeinden[0]!;
    const n = Math.max(1, Math.round(kreis.population / 20_000));
    return Array.from({ length: n }, () => [place(g)]);
  }
  const groups: PostcodePlace[][] = [];
  const budget = Math.max(1, Math.round(kreis.population / 8_900));
  const seat = Math.floor(rng() * gemeinden.length);
  // The Kreisstadt always has its own PLZ, usually several.
  const seatPlz = 1 + Math.min(6, Math.floor(budget / 12));
  for (let i = 0; i < seatPlz; i++) groups.push([place(gemeinden[seat]!)]);
  const rest = gemeinden.filter((_, i) => i !== seat);
  const left = Math.max(1, budget - seatPlz);
  if (left >= rest.length) {
    const extra = new Array<number>(rest.length).fill(0);
    for (let i = 0; i < left - rest.length; i++) extra[Math.floor(rng() * rest.length)]!++;
    rest.forEach((g, i) => {
      for (let j = 0; j <= extra[i]!; j++) groups.push([place(g)]);
    });
  } else {
    const join = Math.min(0.85, 1 - left / rest.length);
    let current: PostcodePlace[] | null = null;
    for (const g of rest) {
      if (current !== null && current.length < 8 && rng() < join) current.push(place(g));
      else {
        current = [place(g)];
        groups.push(current);
      }
    }
  }
  return groups;
}

/** Spreads a Land's PLZ groups over its PLZ regions, in order, with random gaps. */
function numberPlz(
  land: string,
  groups: readonly PostcodePlace[][],
  rng: () => number,
): Postcode[] {
  const regions = LAENDER.get(land)!.plzRegions;
  const slots = regions.length * 999;
  const step = Math.floor(slots / groups.length);
  if (step < 1) {
    throw new RangeError(`Cannot number ${groups.length} PLZ for Land "${land}": too many`);
  }
  return groups.map((places, j) => {
    const slot = j * step + Math.floor(rng() * step);
    const plz = regions[Math.floor(slot / 999)]! + pad(1 + (slot % 999), 3);
    return { plz, places };
  });
}

/** Generates the navigation tables; see the module documentation. */
export function generateTables(options: GenerateTablesOptions = {}): GeneratedTables {
  const rng = createRng(options.seed ?? 1);
  const base = (options.providerBaseUrl ?? "https://providers.lotse.example").replace(/\/+$/, "");
  const kreise = loadKreise();
  const landKeys = [...LAENDER.keys()].sort();

  // Gemeinden per Kreis: the Land's rough total spread over its Landkreise by area.
  const perKreis = new Map<string, Gemeinde[]>();
  for (const land of landKeys) {
    const inLand = kreise.filter((k) => k.key.startsWith(land));
    const rural = inLand.filter((k) => !k.kreisfrei);
    const counts = splitCount(
      LAENDER.get(land)!.gemeinden - (inLand.length - rural.length),
      rural.map((k) => k.area),
      rng,
    );
    for (const k of inLand) {
      const count = k.kreisfrei ? 1 : counts[rural.indexOf(k)]!;
      perKreis.set(k.key, makeGemeinden(k, count, rng));
    }
  }
  const gemeinden = kreise.flatMap((k) => perKreis.get(k.key)!);
  const regions = gemeinden.map((g) => g.region);

  const postcodes: Postcode[] = [];
  for (const land of landKeys) {
    const groups = kreise.filter((k) => k.key.startsWith(land))
      .flatMap((k) => makePlzGroups(k, perKreis.get(k.key)!, rng));
    postcodes.push(...numberPlz(land, groups, rng));
  }

  const providers = new Map<string, Provider>();
  const routes: Route[] = [];
  const evidenceTypes: EvidenceType[] = [];
  const coverage: Record<string, Coverage> = {};
  const addRoute = (spec: EvidenceSpec, regionKey: string, providerKey: string, area: string) => {
    const providerId = providerKey === "" ? spec.family : `${spec.family}-${providerKey}`;
    if (!providers.has(providerId)) {
      providers.set(providerId, {
        id: providerId,
        name: area === "" ? spec.register : `${spec.register} ${area}`,
        endpoint: `${base}/providers/${providerId}`,
        caCert: null,
      });
    }
    routes.push({
      id: `${spec.id}-${regionKey === "" ? "bund" : regionKey}`,
      evidenceType: spec.id,
      regionKey,
      providerId,
    });
  };

  const gemeindeRoutes = (spec: EvidenceSpec, limit: number): number => {
    let made = 0;
    for (const k of kreise) {
      const shared = !k.kreisfrei && spec.kreisShare !== undefined && rng() < spec.kreisShare;
      if (shared && made < limit) {
        addRoute(spec, k.key, k.key, `Landkreis ${k.name}`);
        made++;
      }
      for (const g of perKreis.get(k.key)!) {
        if (made >= limit) return made;
        if (spec.share !== undefined && rng() >= spec.share) continue;
        if (shared && rng() < 0.5) continue;
        addRoute(spec, g.region.ags, g.region.ags, g.region.name);
        made++;
      }
    }
    return made;
  };

  for (const spec of CATALOGUE) {
    evidenceTypes.push({ id: spec.id, name: spec.name, description: null });
    coverage[spec.id] = spec.share === undefined ? "everywhere" : "partial";
    switch (spec.level) {
      case "bund":
        addRoute(spec, "", "", "");
        break;
      case "land":
        for (const l of landKeys) addRoute(spec, l, l, LAENDER.get(l)!.name);
        break;
      case "regierungsbezirk":
        for (const l of landKeys) {
          const rbs = [...REGIERUNGSBEZIRKE.keys()].filter((rb) => rb.startsWith(l));
          if (rbs.length === 0) addRoute(spec, l, l, LAENDER.get(l)!.name);
          for (const rb of rbs) {
            addRoute(spec, rb, rb, `Regierungsbezirk ${REGIERUNGSBEZIRKE.get(rb)}`);
          }
        }
        break;
      case "kreis":
        for (const k of kreise) addRoute(spec, k.key, k.key, k.name);
        break;
      case "gemeinde":
        gemeindeRoutes(spec, Infinity);
        break;
    }
  }

  // Scale-up: synthetic per-Gemeinde registers until the wanted route count is met exactly.
  const wanted = options.minRoutes ?? 0;
  for (let n = 1; routes.length < wanted; n++) {
    const spec: EvidenceSpec = {
      id: `kommunalregister-${pad(n, 3)}`,
      name: `Kommunales Fachregister ${pad(n, 3)} (synthetisch)`,
      level: "gemeinde",
      family: "kommunalverwaltung",
      register: "Kommunalverwaltung",
    };
    evidenceTypes.push({ id: spec.id, name: spec.name, description: "Synthetic, for load tests" });
    const made = gemeindeRoutes(spec, wanted - routes.length);
    coverage[spec.id] = made === regions.length ? "everywhere" : "partial";
  }

  return {
    regions,
    postcodes,
    evidenceTypes,
    providers: [...providers.values()],
    routes,
    coverage,
  };
}

/**
 * The demo permissions whose evidence type and provider the generated tables hold: the demo
 * also permits evidence types only the demo tables have (e.g. `identitaetsdaten`), which a
 * database seeded with generated tables would refuse.
 */
export function demoPermissionsFor(tables: GeneratedTables): Permission[] {
  const types = new Set(tables.evidenceTypes.map((t) => t.id));
  const providers = new Set(tables.providers.map((p) => p.id));
  return DEMO_PERMISSIONS.filter((p) =>
    types.has(p.evidenceType) && (p.providerId === null || providers.has(p.providerId))
  );
}
