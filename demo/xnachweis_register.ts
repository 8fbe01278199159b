/**
 * A demo register that speaks XNachweis 1.2.0: it takes a `DE.EvidenceRequest.0101` that
 * Lotse forwards (or a `.0301` from the Intermediäre Plattform, for an EU request), checks it
 * with the provider kit (the `IssuedToken` against Lotse's JWKS, `aud`, expiry, evidence
 * type classification and the request hash) and answers with a schema-valid
 * `DE.EvidenceResponse.0102`/`.0302` built from the demo data, or a 0103/0303 refusal. For an
 * EU request whose user may preview (`edm_preview` claim `requested`), a register with a
 * preview space answers a 0303 with code `EDM:ERR:0002` and the preview URL as its detail.
 *
 * @example
 * ```ts
 * const register = xnachweisRegister({ jwks: () => fetchJwks(), classifications, evidence });
 * // in the demo provider server, for POST /xnachweis/providers/<id>:
 * return await register(request, { id, name });
 * ```
 *
 * @module
 */
import type { Jwks } from "../crypto/mod.ts";
import { DEMO_CLASSIFICATIONS } from "./tables.ts";
import {
  buildErrorResponse,
  buildEvidenceResponse,
  checkEvidenceRequest,
  PROVIDER_CLASSIFICATION,
  refusalResponse,
  type Subject,
  XML_CONTENT_TYPE,
} from "../src/xnachweis/mod.ts";

/** Options for {@linkcode xnachweisRegister}. */
export interface XnachweisRegisterOptions {
  /** Lotse's current JWKS (fetched from `/.well-known/jwks.json`, or in-process). */
  jwks: () => Promise<Jwks> | Jwks;
  /** Lotse's issuer URL, when the register knows it. */
  issuer?: string;
  /** Evidence type id → EU classification, as in Lotse's catalogue. */
  classifications: Readonly<Record<string, string>>;
  /** The register's data for a subject: a JSON document, carried base64 in the 0102. */
  evidence: (evidenceType: string, subject: Subject, transferId: string | null) => unknown;
  /** Largest accepted request; default 1 MiB. */
  maxBytes?: number;
  /**
   * The register's preview space for an EU request, by evidence type: when set and the
   * request's user may preview but has not, the register asks for the preview first.
   */
  previewUrl?: (evidenceType: string, requestId: string) => string | null;
}

/** Builds the handler of one demo register's XNachweis endpoint. */
export function xnachweisRegister(
  options: XnachweisRegisterOptions,
): (request: Request, provider: { id: string; name: string }) => Promise<Response> {
  return async (request, provider) => {
    const me = { id: provider.id, name: provider.name, classification: PROVIDER_CLASSIFICATION };
    const bytes = new Uint8Array(await request.arrayBuffer());
    const bearer = /^Bearer (\S+)$/.exec(request.headers.get("authorization") ?? "")?.[1] ?? null;
    const checked = await checkEvidenceRequest(bytes, {
      jwks: await options.jwks(),
      provider: me,
      issuer: options.issuer,
      classifications: options.classifications,
      bearer,
      maxBytes: options.maxBytes,
    });
    if (!checked.ok) return refusalResponse(checked);
    const { request: message, claims } = checked;
    const eu = message.type === "DE.EvidenceRequest.0301";
    const preview =
      eu && (claims as unknown as Record<string, unknown>)["edm_preview"] === "requested"
        ? options.previewUrl?.(claims.evidence_type, message.id) ?? null
        : null;
    if (preview !== null) {
      const body = buildErrorResponse({
        type: "DE.EvidenceErrorResponse.0303",
        code: "EDM:ERR:0002",
        detail: preview,
        requestId: message.id,
        requesters: message.requesters,
        errorProvider: me,
      });
      return new Response(body, { status: 403, headers: { "content-type": XML_CONTENT_TYPE } });
    }
    const document = options.evidence(
      claims.evidence_type,
      message.subject,
      request.headers.get("lotse-transfer-id"),
    );
    const body = buildEvidenceResponse({
      type: eu ? "DE.EvidenceResponse.0302" : "DE.EvidenceResponse.0102",
      requestId: message.id,
      provider: me,
      requesters: message.requesters,
      classification: message.classification,
      evidenceTitle: claims.evidence_type,
      subject: message.subject,
      evidence: { bytes: new TextEncoder().encode(JSON.stringify(document)) },
    });
    return new Response(body, { headers: { "content-type": XML_CONTENT_TYPE } });
  };
}

/** The demo data generator's input for a subject (it keys on German field names). */
export function demoInput(subject: Subject): Record<string, unknown> {
  return subject.kind === "natural"
    ? { familienname: subject.familyName, vornamen: subject.givenName }
    : { betrieb: subject.legalName, firma: subject.legalName };
}

/**
 * The demo registers' XNachweis endpoint for `deno task start --demo` (demo/mod.ts gives it
 * into the demo provider): every demo register answers 0101/0301 with the subject's demo data.
 */
export function demoXnachweis(
  jwks: () => Promise<Jwks>,
  issuer: string,
): (request: Request, providerId: string) => Promise<Response> {
  const register = xnachweisRegister({
    jwks,
    issuer,
    classifications: DEMO_CLASSIFICATIONS,
    evidence: (evidenceType, subject, transferId) => ({
      evidenceType,
      transferId,
      ...demoInput(subject),
    }),
  });
  return (request, providerId) => register(request, { id: providerId, name: providerId });
}
