/**
 * Fixtures shared by the XNachweis unit tests (and benchmarks): the agents and subject of a
 * test 0101, the message itself, and a parse with a generous size limit.
 *
 * @module
 */
import { type Agent, buildEvidenceRequest, parseXml } from "./mod.ts";

const enc = new TextEncoder();

export const CLASSIFICATION =
  "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/test";
export const requester: Agent = { id: "stadt-test", name: "Stadt Test", classification: "ER" };
export const provider: Agent = { id: "kba-zfzr", name: "KBA", classification: "EP" };
export const subject = {
  kind: "natural",
  familyName: "Mustermann",
  givenName: "Erika",
  dateOfBirth: "1980-01-01",
  idnr: "12345678903",
} as const;

/** A valid test 0101 asking for a Fahrzeugzulassung, with `token` as its `IssuedToken`. */
export function testRequest(token = ""): string {
  return buildEvidenceRequest({
    requesters: [requester],
    provider,
    classification: CLASSIFICATION,
    evidenceTitle: "Fahrzeugzulassung",
    subject,
    issuedToken: token,
  });
}

/** Parses a test message (text or bytes) with a 16 MiB limit. */
export function parseTest(xml: string | Uint8Array) {
  return parseXml(typeof xml === "string" ? enc.encode(xml) : xml, { maxBytes: 1 << 24 });
}
