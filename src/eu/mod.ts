/**
 * The Intermediäre Plattform's EU machinery (docs/api.md §3.2): EDM messages (reading the
 * `query:QueryRequest`, building the response, the exception and the DSD answers), the EDM
 * error table, the national 0301 and the DSD lookup. Validation uses the vendored ebRS 4 /
 * SDG schemas in `schemas/eu-oots/` with the same machinery as XNachweis.
 *
 * @module
 */
export {
  buildDsdException,
  buildDsdResponse,
  buildExceptionResponse,
  type DataServiceEntry,
  type DsdExceptionInput,
  EDM_AGENT_SCHEME,
  EDM_CONTENT_TYPE,
  EDM_NS,
  EDM_SPECIFICATION,
  type EdmAgent,
  type EdmEvidenceFrame,
  type EdmEvidenceInput,
  type EdmExceptionInput,
  EdmReadError,
  type EdmRequest,
  type EdmResponseContext,
  edmSchemaErrors,
  type EdmSubject,
  EU_SCHEMAS,
  evidenceResponseFrame,
  LOTSE_EDM_AGENT,
  readQueryRequest,
  SDG_LEGAL_BASIS,
  validateEdm,
} from "./edm.ts";
export {
  EDM_ERRORS,
  type EdmError,
  type EdmErrorCode,
  type EdmErrorOptions,
  edmErrorResponse,
  FACE_EDM_ERRORS,
  providerEdmError,
  REFUSAL_EDM_ERRORS,
  SEVERITY_ERROR,
  SEVERITY_PREVIEW_REQUIRED,
} from "./errors.ts";
export { nationalRequest, type NationalRequestOptions } from "./national.ts";
export {
  nationalEvidence,
  NationalEvidenceError,
  type NationalEvidenceEvent,
  type NationalEvidenceOptions,
} from "./national_evidence.ts";
export { DSD_QUERY_ID, type DsdLookup, type DsdQuery, findDataServices } from "./dsd.ts";
