/**
 * The demo Registermodernisierungsbehörde's population: a few hundred generated people
 * (tools/rng.ts, seed fixed, so every run has the same people) with valid IDNrs, names with
 * diacritics (all within DIN 91379 data type A) and a few fixed people the walk-through and
 * the tests name:
 *
 * - Jürgen Weiß, born 1984-07-12 in Stuttgart, IDNr 86095742719 (the README's IDNr);
 * - two people named Anna Schmidt born 1990-01-01 (in Köln and in Berlin): name twins, so
 *   the query without a place of birth is ambiguous (409);
 * - Zoë Łukasiewicz-Nguyễn and Ömer Çelik: names outside ASCII;
 * - Max Prüfziffer, born 1970-01-01, whose register entry carries an IDNr with a wrong check
 *   digit: the register error Lotse must catch (§ 5 Abs. 3 IDNrG).
 *
 * `answerIdentityQuery()` is what the demo register answers to a query.
 *
 * @example
 * ```ts
 * const { status, body } = answerIdentityQuery({ familyName: "Weiß", givenNames: "Jürgen", dateOfBirth: "1984-07-12" });
 * // status 200, body.idnr "86095742719"
 * ```
 *
 * @module
 */
import { idnrCheckDigit, isValidIdnr } from "../crypto/mod.ts";
import { Rng } from "../tools/rng.ts";
import type { Basisdaten } from "../src/identity.ts";

/** One person of the demo population. */
export interface DemoPerson {
  readonly idnr: string;
  readonly basisdaten: Basisdaten & { readonly address: NonNullable<Basisdaten["address"]> };
}

/** The people the walk-through and the tests name. */
export const DEMO_PEOPLE = {
  juergen: {
    idnr: "86095742719",
    basisdaten: {
      familyName: "Weiß",
      givenNames: "Jürgen",
      dateOfBirth: "1984-07-12",
      placeOfBirth: "Stuttgart",
      sex: "m",
      nationalities: ["DEU"],
      address: { street: "Königstraße", houseNumber: "1", postalCode: "70173", city: "Stuttgart" },
    },
  },
  annaKoeln: {
    idnr: "47036892816",
    basisdaten: {
      familyName: "Schmidt",
      givenNames: "Anna",
      dateOfBirth: "1990-01-01",
      placeOfBirth: "Köln",
      sex: "w",
      nationalities: ["DEU"],
      address: { street: "Hohe Straße", houseNumber: "52", postalCode: "50667", city: "Köln" },
    },
  },
  annaBerlin: {
    idnr: "65929970489",
    basisdaten: {
      familyName: "Schmidt",
      givenNames: "Anna",
      dateOfBirth: "1990-01-01",
      placeOfBirth: "Berlin",
      sex: "w",
      nationalities: ["DEU"],
      address: {
        street: "Invalidenstraße",
        houseNumber: "117",
        postalCode: "10115",
        city: "Berlin",
      },
    },
  },
  zoe: {
    idnr: "12345678911",
    basisdaten: {
      familyName: "Łukasiewicz-Nguyễn",
      givenNames: "Zoë Amélie",
      dateOfBirth: "2001-02-28",
      placeOfBirth: "Freiburg im Breisgau",
      sex: "w",
      nationalities: ["DEU", "POL"],
      address: {
        street: "Kaiser-Joseph-Straße",
        houseNumber: "268",
        postalCode: "79098",
        city: "Freiburg im Breisgau",
      },
    },
  },
  oemer: {
    idnr: "50736498253",
    basisdaten: {
      familyName: "Çelik",
      givenNames: "Ömer",
      dateOfBirth: "1978-11-03",
      placeOfBirth: "İzmir",
      sex: "m",
      nationalities: ["DEU", "TUR"],
      address: {
        street: "Zeil",
        houseNumber: "10",
        postalCode: "60311",
        city: "Frankfurt am Main",
      },
    },
  },
  /** The register error: this entry's IDNr fails its check digit. */
  maxBroken: {
    idnr: "86095742718",
    basisdaten: {
      familyName: "Prüfziffer",
      givenNames: "Max",
      dateOfBirth: "1970-01-01",
      placeOfBirth: "München",
      sex: "m",
      nationalities: ["DEU"],
      address: {
        street: "Marienplatz",
        houseNumber: "8",
        postalCode: "80331",
        city: "München",
      },
    },
  },
} as const satisfies Record<string, DemoPerson>;

const FAMILY_NAMES = [
  "Müller",
  "Schmidt",
  "Schneider",
  "Fischer",
  "Weber",
  "Meyer",
  "Wagner",
  "Becker",
  "Schulz",
  "Hoffmann",
  "Schäfer",
  "Koch",
  "Bauer",
  "Richter",
  "Klein",
  "Wolf",
  "Schröder",
  "Neumann",
  "Schwarz",
  "Zimmermann",
  "Braun",
  "Krüger",
  "Hofmann",
  "Hartmann",
  "Lange",
  "Schmitt",
  "Werner",
  "Krause",
  "Meier",
  "Lehmann",
  "Köhler",
  "Günther",
  "Jäger",
  "Dvořák",
  "Kowalski",
  "Yılmaz",
  "Öztürk",
  "Nguyễn",
  "García Pérez",
  "Ó Briain",
  "D'Angelo",
  "Þórsdóttir",
  "Đorđević",
  "Sørensen",
  "Ångström",
  "Mäkelä",
  "Lefèvre",
  "Szűcs",
  "Ţurcanu",
  "Nowak",
] as const;

const GIVEN_NAMES = [
  "Anna",
  "Jonas",
  "Leonie",
  "Mehmet",
  "Lukas",
  "Sophie",
  "Elias",
  "Marie",
  "Noah",
  "Emilia",
  "Ben",
  "Hannah",
  "Paul",
  "Lea",
  "Finn",
  "Mia",
  "Jürgen",
  "Chloé",
  "Zoë",
  "Björn",
  "Søren",
  "Ayşe",
  "Ümit",
  "Renée",
  "José",
  "Łucja",
  "Miloš",
  "Ines",
  "Hans-Peter",
  "Anne-Kathrin",
  "Mathéo",
  "Dóra",
  "Karl Theodor",
  "Iñigo",
  "Žaneta",
  "Gül",
  "Frédéric",
  "Jörg",
  "Ülkü",
] as const;

const PLACES = [
  { city: "Stuttgart", postalCode: "70173", streets: ["Königstraße", "Calwer Straße"] },
  { city: "Ludwigsburg", postalCode: "71634", streets: ["Marktplatz", "Seestraße"] },
  { city: "Freiburg im Breisgau", postalCode: "79098", streets: ["Bertoldstraße"] },
  { city: "München", postalCode: "80331", streets: ["Sendlinger Straße", "Tal"] },
  { city: "Köln", postalCode: "50667", streets: ["Schildergasse", "Hohe Straße"] },
  { city: "Frankfurt am Main", postalCode: "60311", streets: ["Berliner Straße"] },
  { city: "Berlin", postalCode: "10115", streets: ["Chausseestraße", "Torstraße"] },
  { city: "Hamburg", postalCode: "20095", streets: ["Mönckebergstraße", "Spitalerstraße"] },
] as const;

const BIRTH_PLACES = [
  ...PLACES.map((p) => p.city),
  "Dresden",
  "Leipzig",
  "Gdańsk",
  "Brno",
  "Izmir",
  "Lyon",
  "Zürich",
  "Wien",
  "Göttingen",
] as const;

const SEED = 91379;
const GENERATED = 300;

function generateIdnr(rng: Rng, taken: Set<string>): string {
  for (;;) {
    let digits = String(1 + rng.int(9));
    for (let i = 0; i < 9; i++) digits += String(rng.int(10));
    const idnr = digits + String(idnrCheckDigit(digits));
    if (isValidIdnr(idnr) && !taken.has(idnr)) return idnr;
  }
}

function key(b: { familyName: string; givenNames: string; dateOfBirth: string }): string {
  return [b.familyName, b.givenNames, b.dateOfBirth].map(fold).join("|");
}

function generate(): readonly DemoPerson[] {
  const fixed: DemoPerson[] = Object.values(DEMO_PEOPLE);
  const taken = new Set(fixed.map((p) => p.idnr));
  const fixedKeys = new Set(fixed.map((p) => key(p.basisdaten)));
  const rng = new Rng(SEED);
  const people: DemoPerson[] = [...fixed];
  while (people.length < fixed.length + GENERATED) {
    const place = rng.pick(PLACES);
    const year = 1935 + rng.int(70);
    const dateOfBirth = `${year}-${String(1 + rng.int(12)).padStart(2, "0")}-${
      String(1 + rng.int(28)).padStart(2, "0")
    }`;
    const familyName = rng.pick(FAMILY_NAMES);
    const givenNames = rng.pick(GIVEN_NAMES);
    // The fixed people stay unique (or twins exactly as documented).
    if (fixedKeys.has(key({ familyName, givenNames, dateOfBirth }))) continue;
    const idnr = generateIdnr(rng, taken);
    taken.add(idnr);
    people.push({
      idnr,
      basisdaten: {
        familyName,
        givenNames,
        dateOfBirth,
        placeOfBirth: rng.pick(BIRTH_PLACES),
        sex: rng.pick(["m", "w", "d"] as const),
        nationalities: rng.chance(0.85) ? ["DEU"] : ["DEU", rng.pick(["AUT", "POL", "TUR", "FRA"])],
        address: {
          street: rng.pick(place.streets),
          houseNumber: String(1 + rng.int(180)),
          postalCode: place.postalCode,
          city: place.city,
        },
      },
    });
  }
  return people;
}

/** The whole population: the fixed people, then the generated ones. */
export const DEMO_POPULATION: readonly DemoPerson[] = generate();

/** Case and normalisation folded, so "WEISS" does not match "Weiß" but "weiß" does. */
function fold(s: string): string {
  return s.normalize("NFC").trim().toLocaleLowerCase("de-DE");
}

function text(input: Record<string, unknown>, name: string): string | undefined {
  const v = input[name];
  return typeof v === "string" ? v : undefined;
}

/**
 * The register's answer to an identity query (the body Lotse forwards, already validated by
 * Lotse): 200 with `{idnr, basisdaten}` for exactly one person, 404 for none, 409 for several.
 */
export function answerIdentityQuery(
  input: Record<string, unknown>,
): { status: 200 | 404 | 409; body: Record<string, unknown> } {
  const family = text(input, "familyName");
  const given = text(input, "givenNames");
  const date = text(input, "dateOfBirth");
  const place = text(input, "placeOfBirth");
  const idnr = text(input, "idnr");
  const address =
    (typeof input.address === "object" && input.address !== null ? input.address : {}) as Record<
      string,
      unknown
    >;
  const matches = DEMO_POPULATION.filter(({ idnr: id, basisdaten: b }) =>
    family !== undefined && fold(b.familyName) === fold(family) &&
    given !== undefined && fold(b.givenNames) === fold(given) &&
    b.dateOfBirth === date &&
    (place === undefined || fold(b.placeOfBirth ?? "") === fold(place)) &&
    (idnr === undefined || id === idnr) &&
    (["street", "houseNumber", "postalCode", "city"] as const).every((field) => {
      const wanted = text(address, field);
      return wanted === undefined || fold(b.address[field]) === fold(wanted);
    })
  );
  if (matches.length === 1) {
    const [person] = matches;
    return { status: 200, body: { idnr: person!.idnr, basisdaten: person!.basisdaten } };
  }
  return matches.length === 0
    ? { status: 404, body: { title: "Not found", detail: "No person matches" } }
    : { status: 409, body: { title: "Conflict", detail: `${matches.length} persons match` } };
}
