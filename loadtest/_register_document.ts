/**
 * The benchmark register's evidence document, one place for the register
 * (loadtest/xnachweis_provider.ts) and for the P6 front that answers most requests in its stead
 * (loadtest/_https_front.ts), so the answers checked in full and the others cannot drift apart.
 *
 * @module
 */

/** The document the benchmark register answers for `evidenceType` and a holder's family name. */
export function registerDocument(evidenceType: string, familyName: string) {
  return {
    evidenceType,
    register: "Zentrales Fahrzeugregister (KBA) — Benchmark",
    halter: { familienname: familyName, vornamen: "Anna" },
    fahrzeug: { kennzeichen: "S-LT 1234", marke: "VOLKSWAGEN", fin: "WVWZZZ1KZ123456AB" },
  };
}
