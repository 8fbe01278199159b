/**
 * The demo tables: a handful of real places and the registers behind the two NOOTS pilot
 * use cases, small enough to read in one sitting.
 *
 * - **Bewohnerparkausweis**: vehicle registration data (`fahrzeugzulassung`) from KBA's
 *   Zentrales Fahrzeugregister, one provider for all of Germany.
 * - **Gewerbeanmeldung**: the Gemeinde's Gewerberegister (`gewerberegisterauszug`) and the
 *   register courts' Handelsregister (`handelsregisterauszug`).
 * - Also `meldebescheinigung` (Melderegister) with a Kreis-level example.
 * - **Identitätsdatenabruf**: `identitaetsdaten` from the Registermodernisierungsbehörde,
 *   one provider for all of Germany.
 *
 * AGS, ARS and PLZ are real Destatis keys and Post codes, except where a comment says
 * "invented"; an ARS we could not confirm is left `null`. Routes are simplified where a
 * comment says so. The providers are demo stand-ins served by the demo provider server at
 * `${providerBaseUrl}/providers/<providerId>`.
 *
 * @example
 * ```ts
 * const tables = demoTables("http://127.0.0.1:8081");
 * const index = buildNavIndex(tables);
 * index.resolve(DEMO_EVIDENCE_TYPES.fahrzeugzulassung, DEMO_PLACES.stuttgart.ags);
 * ```
 *
 * @module
 */

import type { NavTables, Provider, Route } from "../src/model.ts";

/** The demo catalogue's evidence type ids. */
export const DEMO_EVIDENCE_TYPES = {
  fahrzeugzulassung: "fahrzeugzulassung",
  gewerberegisterauszug: "gewerberegisterauszug",
  handelsregisterauszug: "handelsregisterauszug",
  meldebescheinigung: "meldebescheinigung",
  identitaetsdaten: "identitaetsdaten",
} as const;

/**
 * The demo evidence types' EU Semantic Repository classifications (XNachweis
 * `EvidenceTypeClassification`). Invented for the demo: real ones are assigned by the EU.
 */
export const DEMO_CLASSIFICATIONS = {
  fahrzeugzulassung:
    "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/lotse-demo-fahrzeugzulassung",
  gewerberegisterauszug:
    "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/lotse-demo-gewerberegisterauszug",
  handelsregisterauszug:
    "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/lotse-demo-handelsregisterauszug",
  meldebescheinigung:
    "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/lotse-demo-meldebescheinigung",
} as const;

/** A demo Gemeinde with its keys, one of its PLZ and the Ort the Post uses for it. */
export interface DemoPlace {
  readonly ags: string;
  /** `null` where the ARS could not be confirmed. */
  readonly ars: string | null;
  readonly name: string;
  readonly plz: string;
  readonly ort: string;
}

/** The demo Gemeinden. */
export const DEMO_PLACES = {
  stuttgart: {
    ags: "08111000",
    ars: "081110000000",
    name: "Stuttgart",
    plz: "70173",
    ort: "Stuttgart",
  },
  ludwigsburg: {
    ags: "08118048",
    ars: null,
    name: "Ludwigsburg",
    plz: "71634",
    ort: "Ludwigsburg",
  },
  freiburg: {
    ags: "08311000",
    ars: "083110000000",
    name: "Freiburg im Breisgau",
    plz: "79098",
    ort: "Freiburg im Breisgau",
  },
  muenchen: { ags: "09162000", ars: "091620000000", name: "München", plz: "80331", ort: "München" },
  // Two Gemeinden of Landkreis München (09184): one with its own Melderegister route, one
  // that falls back to the Kreis route.
  garching: {
    ags: "09184119",
    ars: "091840119119",
    name: "Garching b. München",
    plz: "85748",
    ort: "Garching b. München",
  },
  taufkirchen: {
    ags: "09184145",
    ars: null,
    name: "Taufkirchen",
    plz: "82024",
    ort: "Taufkirchen",
  },
  koeln: { ags: "05315000", ars: "053150000000", name: "Köln", plz: "50667", ort: "Köln" },
  frankfurt: {
    ags: "06412000",
    ars: "064120000000",
    name: "Frankfurt am Main",
    plz: "60311",
    ort: "Frankfurt am Main",
  },
  badHomburg: {
    ags: "06434001",
    ars: "064340001001",
    name: "Bad Homburg v. d. Höhe",
    plz: "61343",
    ort: "Bad Homburg v. d. Höhe",
  },
  berlin: { ags: "11000000", ars: "110000000000", name: "Berlin", plz: "10115", ort: "Berlin" },
  hamburg: { ags: "02000000", ars: "020000000000", name: "Hamburg", plz: "20095", ort: "Hamburg" },
} as const satisfies Record<string, DemoPlace>;

/**
 * Invented for the demo, not a real PLZ assignment: one PLZ covering Garching b. München and
 * Taufkirchen, to show the 409 answer and its resolution with `ort`.
 */
export const DEMO_AMBIGUOUS_PLZ = "85000";

/** Provider ids the walk-through refers to. */
export const DEMO_PROVIDER_IDS = {
  kba: "kba-zfzr",
  gewerberegisterStuttgart: "gewerberegister-08111000",
  handelsregisterStuttgart: "handelsregister-ag-stuttgart",
  handelsregisterBayern: "handelsregister-by",
  melderegisterLandkreisMuenchen: "melderegister-lk-muenchen",
  melderegisterGarching: "melderegister-09184119",
  registermodernisierung: "bzst-registermodernisierung",
} as const;

const { stuttgart, ludwigsburg, freiburg, muenchen, garching, taufkirchen, koeln, frankfurt } =
  DEMO_PLACES;
const { badHomburg, berlin, hamburg } = DEMO_PLACES;

/**
 * Builds the demo tables; provider endpoints are `${providerBaseUrl}/providers/<id>`, and the
 * pilots' registers (KBA, the Gewerberegister) also speak XNachweis at
 * `${providerBaseUrl}/xnachweis/providers/<id>`.
 */
export function demoTables(providerBaseUrl: string): NavTables {
  const base = providerBaseUrl.replace(/\/+$/, "");
  const providers: Provider[] = [];
  const routes: Route[] = [];
  const provide = (id: string, name: string, options: { xnachweis?: boolean } = {}) => {
    providers.push({
      id,
      name,
      endpoint: `${base}/providers/${id}`,
      caCert: null,
      xnachweisEndpoint: options.xnachweis ? `${base}/xnachweis/providers/${id}` : null,
    });
  };
  const route = (evidenceType: string, regionKey: string, providerId: string) => {
    routes.push({
      id: `${evidenceType}-${regionKey === "" ? "bund" : regionKey}`,
      evidenceType,
      regionKey,
      providerId,
    });
  };

  // Bewohnerparkausweis: one federal register answers for every Gemeinde.
  provide(DEMO_PROVIDER_IDS.kba, "Kraftfahrt-Bundesamt, Zentrales Fahrzeugregister (Demo)", {
    xnachweis: true,
  });
  route(DEMO_EVIDENCE_TYPES.fahrzeugzulassung, "", DEMO_PROVIDER_IDS.kba);

  // Identitätsdatenabruf: the Registermodernisierungsbehörde (at the Bundeszentralamt für
  // Steuern) answers for all of Germany, from the demo population (demo/population.ts).
  provide(
    DEMO_PROVIDER_IDS.registermodernisierung,
    "Bundeszentralamt für Steuern, Registermodernisierungsbehörde (Demo)",
  );
  route(DEMO_EVIDENCE_TYPES.identitaetsdaten, "", DEMO_PROVIDER_IDS.registermodernisierung);

  // Gewerbeanmeldung, part 1: each Gemeinde keeps its own Gewerberegister. Taufkirchen,
  // Freiburg and Bad Homburg have none in the demo, to show the 404 answer.
  for (
    const place of [stuttgart, ludwigsburg, muenchen, garching, koeln, frankfurt, berlin, hamburg]
  ) {
    provide(`gewerberegister-${place.ags}`, `Gewerberegister ${place.name} (Demo)`, {
      xnachweis: true,
    });
    route(DEMO_EVIDENCE_TYPES.gewerberegisterauszug, place.ags, `gewerberegister-${place.ags}`);
  }

  // Gewerbeanmeldung, part 2: the Handelsregister is kept by register courts. Simplified to
  // whole Länder, except Baden-Württemberg, where the court districts are approximated by
  // Regierungsbezirke so that a Regierungsbezirk-level match shows.
  const courts: readonly [string, string, string][] = [
    ["081", DEMO_PROVIDER_IDS.handelsregisterStuttgart, "Amtsgericht Stuttgart, Registergericht"],
    ["083", "handelsregister-ag-freiburg", "Amtsgericht Freiburg, Registergericht"],
    ["09", DEMO_PROVIDER_IDS.handelsregisterBayern, "Registergerichte Bayern"],
    ["05", "handelsregister-nw", "Registergerichte Nordrhein-Westfalen"],
    ["06", "handelsregister-he", "Registergerichte Hessen"],
    ["11", "handelsregister-ag-charlottenburg", "Amtsgericht Charlottenburg, Registergericht"],
    ["02", "handelsregister-ag-hamburg", "Amtsgericht Hamburg, Registergericht"],
  ];
  for (const [key, id, name] of courts) {
    provide(id, `${name} (Demo)`);
    route(DEMO_EVIDENCE_TYPES.handelsregisterauszug, key, id);
  }

  // Melderegister per Gemeinde. Invented for the demo: a shared Melderegister of Landkreis
  // München (09184) answering for its Gemeinden without a route of their own (Taufkirchen),
  // while Garching's own route wins as the longer prefix.
  for (const place of [stuttgart, ludwigsburg, freiburg, muenchen, garching, koeln, frankfurt]) {
    provide(`melderegister-${place.ags}`, `Melderegister ${place.name} (Demo)`);
    route(DEMO_EVIDENCE_TYPES.meldebescheinigung, place.ags, `melderegister-${place.ags}`);
  }
  for (const place of [badHomburg, berlin, hamburg]) {
    provide(`melderegister-${place.ags}`, `Melderegister ${place.name} (Demo)`);
    route(DEMO_EVIDENCE_TYPES.meldebescheinigung, place.ags, `melderegister-${place.ags}`);
  }
  provide(
    DEMO_PROVIDER_IDS.melderegisterLandkreisMuenchen,
    "Melderegister Landkreis München (Demo)",
  );
  route(
    DEMO_EVIDENCE_TYPES.meldebescheinigung,
    "09184",
    DEMO_PROVIDER_IDS.melderegisterLandkreisMuenchen,
  );

  const places = Object.values(DEMO_PLACES);
  return {
    regions: places.map(({ ags, ars, name }) => ({ ags, ars, name })),
    postcodes: [
      ...places.map(({ plz, ags, ort }) => ({ plz, places: [{ ags, ort }] })),
      // More real PLZ of the big cities: a Gemeinde has several PLZ.
      { plz: "70174", places: [{ ags: stuttgart.ags, ort: stuttgart.ort }] },
      { plz: "80333", places: [{ ags: muenchen.ags, ort: muenchen.ort }] },
      { plz: "10117", places: [{ ags: berlin.ags, ort: berlin.ort }] },
      {
        plz: DEMO_AMBIGUOUS_PLZ,
        places: [
          { ags: garching.ags, ort: garching.ort },
          { ags: taufkirchen.ags, ort: taufkirchen.ort },
        ],
      },
    ],
    evidenceTypes: [
      {
        id: DEMO_EVIDENCE_TYPES.fahrzeugzulassung,
        classification: DEMO_CLASSIFICATIONS.fahrzeugzulassung,
        name: "Fahrzeugzulassungsdaten (Zulassungsbescheinigung Teil I)",
        description:
          "Vehicle registration data of a vehicle from KBA's Zentrales Fahrzeugregister; pilot use case Bewohnerparkausweis",
      },
      {
        id: DEMO_EVIDENCE_TYPES.gewerberegisterauszug,
        classification: DEMO_CLASSIFICATIONS.gewerberegisterauszug,
        name: "Auszug aus dem Gewerberegister",
        description: "Trade register extract of the Gemeinde; pilot use case Gewerbeanmeldung",
      },
      {
        id: DEMO_EVIDENCE_TYPES.handelsregisterauszug,
        classification: DEMO_CLASSIFICATIONS.handelsregisterauszug,
        name: "Handelsregisterauszug",
        description:
          "Commercial register extract from the register court; pilot use case Gewerbeanmeldung",
      },
      {
        id: DEMO_EVIDENCE_TYPES.meldebescheinigung,
        classification: DEMO_CLASSIFICATIONS.meldebescheinigung,
        name: "Meldebescheinigung",
        description: "Registration certificate from the Gemeinde's Melderegister",
      },
      {
        id: DEMO_EVIDENCE_TYPES.identitaetsdaten,
        name: "Identitätsdaten (IDNr und Basisdaten)",
        description:
          "A person's IDNr and Basisdaten from the Registermodernisierungsbehörde (Identitätsdatenabruf, § 6 IDNrG)",
      },
    ],
    providers,
    routes,
  };
}
