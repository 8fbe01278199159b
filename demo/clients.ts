/**
 * Demo clients and permissions for the two NOOTS pilot use cases. The private keys below are
 * DEMO KEYS, published on purpose so the README walk-through can sign client assertions;
 * they are loaded only with `LOTSE_DEMO=1` and must never be registered in production.
 *
 * @module
 */
import type { Client, Permission } from "../src/model.ts";

/** A demo client's private signing key (ES256, JWK). Public by design: demo only. */
export interface DemoKey {
  readonly kty: "EC";
  readonly crv: "P-256";
  readonly x: string;
  readonly y: string;
  readonly d: string;
}

export const DEMO_KEYS: Readonly<Record<string, DemoKey>> = {
  "stuttgart-bewohnerparken": {
    kty: "EC",
    crv: "P-256",
    x: "dyojgdNzKe2Lit-3G5dwWq1_qlZbufeWPujVy3P24dM",
    y: "VBYj0WU-zegvtgCjgLwh8Ux0D6pcekNsBUY5HnmK0Qg",
    d: "Td2CeARFiOkZ9WhwuLHalF6TaF-uadap4gqXBP85frY",
  },
  "service-bw-gewerbe": {
    kty: "EC",
    crv: "P-256",
    x: "XLrnVaHFxH3BoLuslUsxEnU-X4nlQWRrafY9FtlZJ_I",
    y: "3nmABUmEeq0nqOPYpU45QAjiikUg73mGp5qht4U_ERg",
    d: "wBqvOSnM9Zm92PEbUt0t6N0KoiGoo5rezxqSz_zgGu8",
  },
  "dsc-cockpit": {
    kty: "EC",
    crv: "P-256",
    x: "-8foqntTxN1Nf54vHuKRh5VDRNkCVoUKjok0tOq5uMs",
    y: "CYmsR-G564TsVwIlSNcXV5LtmrRlPvNltUo1X3gSf6M",
    d: "7snv35g0o5chp46rs1BrEIk2c1NANnanv8QOr6NIumQ",
  },
  "lotse-operator": {
    kty: "EC",
    crv: "P-256",
    x: "XVGzib1LkGsgBq-tVqDWUrXpSej0vFWf-xhBLa9VZKM",
    y: "4AM0BnLk9dVIqgzFHyA7tvIcQs_smhZ2vtSavl2CZ50",
    d: "GrYrQkiN48nsr3HPuwmwLyzCqOwfhDKnT8jFAvyRcCY",
  },
  "eu-access-point": {
    kty: "EC",
    crv: "P-256",
    x: "nVW5m_pka_z-35cluDH_FWHR0o8fyoK0XRAowXdYrbw",
    y: "IJEV3ZdCqy8US4F_4AliDQb1o99oZmyixXi1YzfVypQ",
    d: "ZZEaOLfWmfakPLzxilw-EZYtvhR6OecHW6AXKLFrtMU",
  },
  "kba-zfzr": {
    kty: "EC",
    crv: "P-256",
    x: "inZcOIwYvQGoqg2ng9nmxD7g2qQOxwIJQCPnpzaEXeQ",
    y: "CxudlID95s5RkXRdjR43x7boVSimZjsy9b3sKvuQkE8",
    d: "p6fx7ixD7k0P1sTxHXrjeGwaokViCidxx25CMI_d8Sc",
  },
};

function publicJwk(id: string): JsonWebKey {
  const { kty, crv, x, y } = DEMO_KEYS[id]!;
  return { kty, crv, x, y, kid: `${id}-demo`, alg: "ES256", use: "sig" } as JsonWebKey;
}

function client(id: string, name: string, roles: Client["roles"]): Client {
  return { id, name, roles, jwks: { keys: [publicJwk(id)] } };
}

export const DEMO_CLIENTS: readonly Client[] = [
  client("stuttgart-bewohnerparken", "Landeshauptstadt Stuttgart – Bewohnerparkausweis online", [
    "consumer",
  ]),
  client("service-bw-gewerbe", "service-bw – Gewerbeanmeldung", ["consumer"]),
  client("dsc-cockpit", "Datenschutzcockpit", ["dsc"]),
  client("lotse-operator", "Lotse Betrieb", ["operator"]),
  client("eu-access-point", "eDelivery Access Point (Intermediäre Plattform)", ["gateway"]),
  client("kba-zfzr", "Kraftfahrt-Bundesamt – Zentrales Fahrzeugregister", ["provider"]),
];

/** Purposes and legal bases of the pilots, as the README walk-through uses them. */
export const DEMO_PURPOSES = {
  bewohnerparken: {
    purpose: "bewohnerparkausweis",
    legalBasis: "§ 45 Abs. 1b Satz 1 Nr. 2a StVO",
  },
  gewerbe: {
    purpose: "gewerbeanmeldung",
    legalBasis: "§ 14 GewO",
  },
  /**
   * The Identitätsdatenabruf before the Bewohnerparkausweis: the Stadt finds the applicant's
   * IDNr, then asks the KBA by IDNr.
   */
  identitaet: {
    purpose: "bewohnerparkausweis",
    legalBasis: "§ 6 Abs. 1 IDNrG",
  },
  /** An EU request: purpose the EDM procedure, legal basis Art. 14 SDG (set by the EU face). */
  euGewerbe: {
    purpose: "Notification of business activity",
    legalBasis: "Art. 14 VO (EU) 2018/1724",
  },
} as const;

/**
 * The Bewohnerparken pilot's `POST /v1/authorizations` body (client stuttgart-bewohnerparken,
 * granted by the demo permissions): the load test, the benchmark and the API tests send it.
 */
export const DEMO_PARKING_AUTHORIZATION = {
  evidenceType: "fahrzeugzulassung",
  providerId: "kba-zfzr",
  purpose: DEMO_PURPOSES.bewohnerparken.purpose,
  legalBasis: DEMO_PURPOSES.bewohnerparken.legalBasis,
  idnrUsed: true,
} as const;

export const DEMO_PERMISSIONS: readonly Permission[] = [
  {
    id: "stuttgart-parken-fahrzeug",
    consumerId: "stuttgart-bewohnerparken",
    evidenceType: "fahrzeugzulassung",
    providerId: "kba-zfzr",
    purposes: [DEMO_PURPOSES.bewohnerparken.purpose],
    legalBases: [DEMO_PURPOSES.bewohnerparken.legalBasis, "§ 35 Abs. 1 StVG"],
    idnrAllowed: true,
    validFrom: null,
    validUntil: null,
  },
  {
    id: "stuttgart-parken-identitaet",
    consumerId: "stuttgart-bewohnerparken",
    evidenceType: "identitaetsdaten",
    providerId: "bzst-registermodernisierung",
    purposes: [DEMO_PURPOSES.identitaet.purpose],
    legalBases: [DEMO_PURPOSES.identitaet.legalBasis],
    idnrAllowed: true,
    validFrom: null,
    validUntil: null,
  },
  {
    id: "gewerbe-gewerberegister",
    consumerId: "service-bw-gewerbe",
    evidenceType: "gewerberegisterauszug",
    providerId: null,
    purposes: [DEMO_PURPOSES.gewerbe.purpose],
    legalBases: [DEMO_PURPOSES.gewerbe.legalBasis],
    idnrAllowed: true,
    validFrom: null,
    validUntil: null,
  },
  {
    id: "gewerbe-handelsregister",
    consumerId: "service-bw-gewerbe",
    evidenceType: "handelsregisterauszug",
    providerId: null,
    purposes: [DEMO_PURPOSES.gewerbe.purpose],
    legalBases: [DEMO_PURPOSES.gewerbe.legalBasis],
    idnrAllowed: false,
    validFrom: null,
    validUntil: null,
  },
  {
    id: "eu-gewerbe-gewerberegister",
    consumerId: "eu-access-point",
    evidenceType: "gewerberegisterauszug",
    providerId: null,
    purposes: [DEMO_PURPOSES.euGewerbe.purpose],
    legalBases: [DEMO_PURPOSES.euGewerbe.legalBasis],
    idnrAllowed: false,
    validFrom: null,
    validUntil: null,
  },
];
