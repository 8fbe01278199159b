/**
 * XNachweis 1.2.0 machinery shared by the XML faces (`/xnachweis/v1`, later the EU bridge's
 * `DE.EvidenceRequest.0301`) and the demo registers: safe parsing and schema validation
 * against the vendored schemas, message reading and building, the request hash and the
 * provider kit.
 *
 * @example
 * ```ts
 * import { parseXml, readEvidenceRequest, requestDigest, validateXml } from "./mod.ts";
 * const doc = parseXml(bytes, { maxBytes: 1 << 20 });
 * try {
 *   validateXml(doc);
 *   const request = readEvidenceRequest(doc);
 *   const digest = requestDigest(doc);
 * } finally {
 *   doc.dispose();
 * }
 * ```
 *
 * @module
 */
export {
  parseXml,
  type ParseXmlOptions,
  schemaErrors,
  type SchemaSet,
  schemaValidator,
  validateXml,
  XmlRefusal,
  type XmlRefusalKind,
  xnachweisValidator,
} from "./parse.ts";
export {
  type Agent,
  AGENT_SCHEME,
  buildErrorResponse,
  buildEvidenceRequest,
  buildEvidenceResponse,
  type ErrorResponseInput,
  type ErrorResponseSummary,
  type EvidenceRequest,
  type EvidenceRequestInput,
  type EvidenceResponseInput,
  INTERMEDIARY_CLASSIFICATION,
  NS,
  PROVIDER_CLASSIFICATION,
  readErrorResponse,
  readEvidenceRequest,
  REQUESTER_CLASSIFICATION,
  type RequestMessageType,
  rootName,
  SPECIFICATION_IDENTIFIER,
  type Subject,
  XML_CONTENT_TYPE,
  xmlText,
} from "./messages.ts";
export { deferredWatch } from "./deferred.ts";
export { loadSchemaFiles, XNACHWEIS_SCHEMAS } from "./_schemas.ts";
export {
  type CanonicalRequest,
  canonicalRequest,
  issuedTokenElement,
  requestDigest,
  sealedMessage,
  setIssuedToken,
} from "./request_hash.ts";
export { errorResponse, type ErrorResponseOptions, LOTSE_AGENT } from "./errors.ts";
export {
  type CheckedRequest,
  checkEvidenceRequest,
  type CheckEvidenceRequestOptions,
  refusalResponse,
  type RefusedRequest,
  xnachweisRegister,
  type XnachweisRegisterOptions,
} from "./provider_kit.ts";
