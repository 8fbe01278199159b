/**
 * The national side of an EU request: the `DE.EvidenceRequest.0301` the Intermediäre
 * Plattform sends to a German provider for an EDM request (XNachweis 1.2.0, use case 3 of
 * the NOOTS high-level architecture), checked against the vendored XNachweis schemas before
 * it leaves. The provider's answer is read by `national_evidence.ts`.
 *
 * @example
 * ```ts
 * const doc = nationalRequest(edm, { provider, evidenceTitle, gateway: "eu-access-point" });
 * try {
 *   const digest = requestDigest(doc); // sealed into the IssuedToken as req_digest
 * } finally {
 *   doc.dispose();
 * }
 * ```
 *
 * @module
 */
import type { XmlDocument } from "libxml2-wasm";
import {
  buildEvidenceRequest,
  INTERMEDIARY_CLASSIFICATION,
  parseXml,
  PROVIDER_CLASSIFICATION,
  REQUESTER_CLASSIFICATION,
  type Subject,
  validateXml,
} from "../xnachweis/mod.ts";
import type { EdmRequest, EdmSubject } from "./edm.ts";

/** Options for {@linkcode nationalRequest}. */
export interface NationalRequestOptions {
  readonly provider: { readonly id: string; readonly name: string };
  readonly evidenceTitle: string;
  /** The gateway client the request came through (named as the Intermediäre Plattform). */
  readonly gateway: string;
}

/** The EDM subject as XNachweis names it (eIDAS attributes; never an IDNr). */
export function nationalSubject(subject: EdmSubject): Subject {
  return subject.kind === "natural"
    ? {
      kind: "natural",
      familyName: subject.familyName,
      givenName: subject.givenName,
      dateOfBirth: subject.dateOfBirth,
    }
    : { kind: "legal", legalName: subject.legalName };
}

/**
 * The 0301 for an EDM request, with an empty `IssuedToken`, parsed and schema-checked.
 * Throws `XmlRefusal("schema-invalid", …)` when the request's values do not fit XNachweis.
 * The caller disposes the document.
 */
export function nationalRequest(request: EdmRequest, options: NationalRequestOptions): XmlDocument {
  const xml = buildEvidenceRequest({
    type: "DE.EvidenceRequest.0301",
    requesters: [
      {
        id: request.requester.id,
        name: request.requester.name || request.requester.id,
        classification: REQUESTER_CLASSIFICATION,
      },
      { id: options.gateway, name: options.gateway, classification: INTERMEDIARY_CLASSIFICATION },
    ],
    provider: {
      id: options.provider.id,
      name: options.provider.name,
      classification: PROVIDER_CLASSIFICATION,
    },
    classification: request.classification,
    evidenceTitle: options.evidenceTitle,
    subject: nationalSubject(request.subject),
  });
  const bytes = new TextEncoder().encode(xml);
  const doc = parseXml(bytes, { maxBytes: bytes.byteLength });
  try {
    validateXml(doc);
  } catch (error) {
    doc.dispose();
    throw error;
  }
  return doc;
}
