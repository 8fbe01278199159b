/**
 * OOTS Evidence Exchange Data Model (EDM) messages as plain values: the vendored ebRS 4 / SDG
 * schema set, a reader for the EDM `query:QueryRequest` (EDM 1.0–2.0: the 1.2/2.0 elements the
 * vendored profile does not know are removed before validation) and builders for the
 * `query:QueryResponse` with the evidence, the EDM exception and the DSD answers, all on
 * libxml2's DOM, so no untrusted value is ever concatenated into XML. What Lotse builds
 * validates against the vendored (EDM 1.0) schemas.
 *
 * @example
 * ```ts
 * import { parseXml } from "../xnachweis/mod.ts";
 * import { readQueryRequest, validateEdm } from "./edm.ts";
 * const doc = parseXml(bytes, { maxBytes: 1 << 20 });
 * try {
 *   validateEdm(doc);
 *   const request = readQueryRequest(doc); // throws EdmReadError for what the XSD lets pass
 * } finally {
 *   doc.dispose();
 * }
 * ```
 *
 * @module
 */
import { XmlDocument, type XmlElement, XmlXPath } from "libxml2-wasm";
import { schemaErrors, type SchemaSet, validateXml, xmlText } from "../xnachweis/mod.ts";

/** The vendored ebRS 4 + SDG profile schemas (`schemas/eu-oots/`). */
export const EU_SCHEMAS: SchemaSet = {
  dir: new URL("../../schemas/eu-oots/", import.meta.url),
  local: "lotse-schemas:///eu-oots/",
  entry: "xsd/sdg-v0.99-governikus/oots_driver_v0.99.xsd",
};

/** The namespaces of EDM messages, by their usual prefix. */
export const EDM_NS = {
  query: "urn:oasis:names:tc:ebxml-regrep:xsd:query:4.0",
  rim: "urn:oasis:names:tc:ebxml-regrep:xsd:rim:4.0",
  rs: "urn:oasis:names:tc:ebxml-regrep:xsd:rs:4.0",
  sdg: "http://data.europa.eu/p4s",
  xsi: "http://www.w3.org/2001/XMLSchema-instance",
  xlink: "http://www.w3.org/1999/xlink",
} as const;

/** The media type of every EDM message Lotse answers. */
export const EDM_CONTENT_TYPE = "application/xml; charset=utf-8";
/** `SpecificationIdentifier` of what Lotse writes. */
export const EDM_SPECIFICATION = "oots-edm:v1.0";
/** The legal basis of every EU transfer: the once-only principle of the SDG regulation. */
export const SDG_LEGAL_BASIS = "Art. 14 VO (EU) 2018/1724";
/** Lotse's agent scheme in EDM (EAS code 0204, as XNachweis writes it). */
export const EDM_AGENT_SCHEME = "urn:cef.eu:names:identifier:EAS:0204";

const STATUS_SUCCESS = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success";
const STATUS_FAILURE = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure";

/**
 * The elements EDM 1.2 and 2.0 added that the vendored (1.0-era) profile does not know. They
 * are optional wherever the profile has them, and Lotse reads none of them.
 */
const LATER_EDM_ELEMENTS = "//sdg:Nationality | //sdg:Language | //sdg:Description";

/**
 * Validates against the vendored EDM schemas; throws `XmlRefusal("schema-invalid", …)`. With
 * `acceptLater`, the elements of EDM 1.2/2.0 the schemas do not know are first removed from
 * the document (the profile validates them strictly where it declares the parent), so 1.0 to
 * 2.0 requests are accepted.
 */
export function validateEdm(doc: XmlDocument, options: { acceptLater?: boolean } = {}): void {
  if (options.acceptLater) {
    for (const node of doc.find(xpath(LATER_EDM_ELEMENTS))) node.remove();
  }
  validateXml(doc, EU_SCHEMAS, "ebRS 4 / OOTS EDM");
}

/** The EDM schema errors of a document, empty when valid (tests, tools). */
export function edmSchemaErrors(doc: XmlDocument): string[] {
  return schemaErrors(doc, EU_SCHEMAS);
}

/** An agent as EDM names it. */
export interface EdmAgent {
  readonly id: string;
  /** `Identifier/@schemeID`, e.g. `0190`. */
  readonly scheme: string;
  readonly name: string;
}

/** The person or company an EDM request is about: eIDAS attributes, never an IDNr. */
export type EdmSubject =
  | {
    readonly kind: "natural";
    /** The eIDAS person identifier (`DK/DE/123456`), when given. */
    readonly identifier: string;
    readonly familyName: string;
    readonly givenName: string;
    /** `YYYY-MM-DD` */
    readonly dateOfBirth: string;
  }
  | { readonly kind: "legal"; readonly identifier: string; readonly legalName: string };

/** What Lotse reads from an EDM `query:QueryRequest`. */
export interface EdmRequest {
  /** The request's `id`: the answer's `requestId`. */
  readonly id: string;
  readonly specification: string;
  /** The procedure: a localized text (EDM 1.0) or a code (EDM 2.0). */
  readonly procedure: string;
  readonly possibilityForPreview: boolean;
  readonly explicitRequestGiven: boolean;
  /** Set on the request that follows a preview. */
  readonly previewLocation: string | null;
  readonly requester: EdmAgent;
  readonly provider: EdmAgent;
  readonly classification: string;
  readonly evidenceTitle: string;
  readonly subject: EdmSubject;
}

/** A schema-valid request that still lacks what Lotse needs (the XSDs check slots laxly). */
export class EdmReadError extends Error {
  override name = "EdmReadError";
}

const compiled = new Map<string, XmlXPath>();

function xpath(path: string): XmlXPath {
  let found = compiled.get(path);
  if (found === undefined) {
    found = XmlXPath.compile(path, EDM_NS as unknown as Record<string, string>);
    compiled.set(path, found);
  }
  return found;
}

function text(node: XmlElement | XmlDocument, path: string): string {
  return (node.get(xpath(path))?.content ?? "").trim();
}

function slot(name: string): string {
  return `rim:Slot[@name='${name}']/rim:SlotValue`;
}

function readAgent(element: XmlElement | null, what: string): EdmAgent {
  const id = element ? text(element, "sdg:Identifier") : "";
  if (!element || id === "") throw new EdmReadError(`The request names no ${what}`);
  return {
    id,
    scheme: element.get(xpath("sdg:Identifier/@schemeID"))?.content.trim() ?? "",
    name: text(element, "sdg:Name[1]"),
  };
}

function flag(root: XmlElement, name: string): boolean {
  const value = text(root, `${slot(name)}/rim:Value`);
  if (value === "") return false;
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new EdmReadError(`Slot ${name} must be a boolean`);
}

/**
 * Reads a schema-valid EDM `query:QueryRequest`. Throws {@linkcode EdmReadError} for a
 * request without requester, provider, evidence type or exactly one subject.
 */
export function readQueryRequest(doc: XmlDocument): EdmRequest {
  const root = doc.root;
  if (root.name !== "QueryRequest" || root.namespaceUri !== EDM_NS.query) {
    throw new EdmReadError(`Expected query:QueryRequest, got "${root.name}"`);
  }
  const id = root.attr("id")?.value.trim() ?? "";
  if (id === "") throw new EdmReadError("The request has no id");
  const query = root.get(xpath("query:Query")) as XmlElement | null;
  if (!query || query.attr("queryDefinition")?.value !== "DocumentQuery") {
    throw new EdmReadError('Expected a query with queryDefinition "DocumentQuery"');
  }
  const procedure = text(root, `${slot("Procedure")}/rim:Value/rim:LocalizedString[1]/@value`) ||
    text(root, `${slot("Procedure")}/rim:Value`);
  if (procedure === "") throw new EdmReadError("The request names no procedure");
  if (procedure.length > 200) throw new EdmReadError("The procedure exceeds 200 characters");
  const requester = readAgent(
    root.get(xpath(`${slot("EvidenceRequester")}//sdg:Agent`)) as XmlElement | null,
    "evidence requester",
  );
  const provider = readAgent(
    root.get(xpath(`${slot("EvidenceProvider")}//sdg:Agent`)) as XmlElement | null,
    "evidence provider",
  );
  const evidenceType = query.get(xpath(`${slot("EvidenceRequest")}/sdg:DataServiceEvidenceType`));
  const classification = evidenceType
    ? text(evidenceType as XmlElement, "sdg:EvidenceTypeClassification")
    : "";
  if (classification === "") throw new EdmReadError("The request names no evidence type");
  const person = query.get(xpath(`${slot("NaturalPerson")}/sdg:Person`)) as XmlElement | null;
  const legal = query.get(xpath(`${slot("LegalPerson")}/sdg:LegalPerson`)) as XmlElement | null;
  if ((person === null) === (legal === null)) {
    throw new EdmReadError("The request must name exactly one natural or legal person");
  }
  const subject: EdmSubject = person
    ? {
      kind: "natural",
      identifier: text(person, "sdg:Identifier"),
      familyName: text(person, "sdg:FamilyName"),
      givenName: text(person, "sdg:GivenName"),
      dateOfBirth: text(person, "sdg:DateOfBirth"),
    }
    : {
      kind: "legal",
      identifier: text(legal!, "sdg:LegalPersonIdentifier") || text(legal!, "sdg:Identifier"),
      legalName: text(legal!, "sdg:LegalName"),
    };
  const previewLocation = text(root, `${slot("PreviewLocation")}/rim:Value`);
  return {
    id,
    specification: text(root, `${slot("SpecificationIdentifier")}/rim:Value`),
    procedure,
    possibilityForPreview: flag(root, "PossibilityForPreview"),
    explicitRequestGiven: flag(root, "ExplicitRequestGiven"),
    previewLocation: previewLocation === "" ? null : previewLocation,
    requester,
    provider,
    classification,
    evidenceTitle: evidenceType ? text(evidenceType as XmlElement, "sdg:Title[1]") : "",
    subject,
  };
}

// ---------------------------------------------------------------- building

type Prefix = keyof typeof EDM_NS;

function add(parent: XmlElement, prefix: Prefix, name: string, value?: string): XmlElement {
  const element = parent.addElement(name, prefix);
  if (value !== undefined) element.addText(xmlText(value));
  return element;
}

function setAttr(element: XmlElement, name: string, value: string, prefix?: Prefix): void {
  element.setAttr(name, xmlText(value), prefix);
}

/** `<rim:Slot name><rim:SlotValue xsi:type>`; returns the SlotValue. */
function addSlot(parent: XmlElement, name: string, type: string): XmlElement {
  const element = add(parent, "rim", "Slot");
  setAttr(element, "name", name);
  const value = add(element, "rim", "SlotValue");
  setAttr(value, "type", type, "xsi");
  return value;
}

function addValueSlot(parent: XmlElement, name: string, type: string, value: string): void {
  add(addSlot(parent, name, type), "rim", "Value", value);
}

function addAgent(parent: XmlElement, agent: EdmAgent, classification?: string): void {
  const element = add(parent, "sdg", "Agent");
  setAttr(add(element, "sdg", "Identifier", agent.id), "schemeID", agent.scheme || "0204");
  add(element, "sdg", "Name", agent.name || agent.id);
  if (classification) add(element, "sdg", "Classification", classification);
}

function startDocument(root: string, prefix: Prefix): { doc: XmlDocument; root: XmlElement } {
  const doc = XmlDocument.create();
  const element = doc.createRoot(root, EDM_NS[prefix], prefix);
  for (const [p, uri] of Object.entries(EDM_NS)) {
    if (p !== prefix) element.addNsDeclaration(uri, p);
  }
  return { doc, root: element };
}

function serialize(doc: XmlDocument): string {
  try {
    return doc.toString({ format: false });
  } finally {
    doc.dispose();
  }
}

/** What an EDM response names: the request it answers and its agents. */
export interface EdmResponseContext {
  /** The request's `id`; absent when it could not be read. */
  readonly requestId?: string;
  /** The requester named in the request, when it could be read. */
  readonly requester?: EdmAgent;
  readonly now?: number;
}

function startResponse(
  status: string,
  context: EdmResponseContext,
): { doc: XmlDocument; root: XmlElement; time: string } {
  const { doc, root } = startDocument("QueryResponse", "query");
  setAttr(root, "status", status);
  if (context.requestId) setAttr(root, "requestId", context.requestId);
  const time = new Date(context.now ?? Date.now()).toISOString();
  addValueSlot(root, "SpecificationIdentifier", "rim:StringValueType", EDM_SPECIFICATION);
  addValueSlot(root, "EvidenceResponseIdentifier", "rim:StringValueType", crypto.randomUUID());
  return { doc, root, time };
}

/** Lotse as the EDM agent of its own answers (the Intermediäre Plattform). */
export const LOTSE_EDM_AGENT: EdmAgent = {
  id: "lotse",
  scheme: EDM_AGENT_SCHEME,
  name: "Lotse Intermediäre Plattform",
};

/** Input of {@linkcode buildExceptionResponse}. */
export interface EdmExceptionInput extends EdmResponseContext {
  /** `EDM:ERR:0001`–`0008`. */
  readonly code: string;
  /** `rs:…ExceptionType` (or `query:QueryExceptionType`). */
  readonly type: string;
  readonly message: string;
  readonly detail: string;
  readonly severity: string;
  /** For `EDM:ERR:0002`: where the user previews the evidence. */
  readonly previewLocation?: string;
}

/** An EDM `query:QueryResponse` with status Failure and one `rs:Exception`. */
export function buildExceptionResponse(input: EdmExceptionInput): string {
  const { doc, root, time } = startResponse(STATUS_FAILURE, input);
  addAgent(
    addSlot(root, "ErrorProvider", "rim:AnyValueType"),
    LOTSE_EDM_AGENT,
    "IntermediaryPlatform",
  );
  if (input.requester) {
    addAgent(addSlot(root, "EvidenceRequester", "rim:AnyValueType"), input.requester);
  }
  const exception = add(root, "rs", "Exception");
  setAttr(exception, "type", input.type, "xsi");
  setAttr(exception, "severity", input.severity);
  setAttr(exception, "message", input.message);
  setAttr(exception, "detail", input.detail);
  setAttr(exception, "code", input.code);
  addValueSlot(exception, "Timestamp", "rim:DateTimeValueType", time);
  if (input.previewLocation) {
    addValueSlot(exception, "PreviewLocation", "rim:StringValueType", input.previewLocation);
  }
  return serialize(doc);
}

/** Input of {@linkcode evidenceResponseFrame}. */
export interface EdmEvidenceInput extends EdmResponseContext {
  readonly requestId: string;
  readonly requester: EdmAgent;
  /** The national provider (the data service's publisher). */
  readonly provider: EdmAgent;
  readonly classification: string;
  readonly evidenceTitle: string;
  readonly subject: EdmSubject;
}

/** The evidence `query:QueryResponse` in pieces, from {@linkcode evidenceResponseFrame}. */
export interface EdmEvidenceFrame {
  /** Everything before the first `rim:RegistryObject`. */
  readonly head: string;
  /**
   * One `rim:RegistryObject` (fresh ids) for an evidence document of media type `format`,
   * split around the base64 content of its `rim:RepositoryItem`.
   */
  object(format: string): { readonly head: string; readonly tail: string };
  /** Everything after the last `rim:RegistryObject`. */
  readonly tail: string;
}

/**
 * The evidence `query:QueryResponse` split around its registry objects: the face sends
 * `head`, then for each evidence document `object(format).head`, the document base64, and
 * `object(format).tail`, then `tail`. The split points are random markers, so no value in the
 * message can move them.
 */
export function evidenceResponseFrame(input: EdmEvidenceInput): EdmEvidenceFrame {
  const { doc, root, time } = startResponse(STATUS_SUCCESS, input);
  addValueSlot(root, "IssueDateTime", "rim:DateTimeValueType", time);
  const providers = addSlot(root, "EvidenceProvider", "rim:CollectionValueType");
  const element = add(providers, "rim", "Element");
  setAttr(element, "type", "rim:AnyValueType", "xsi");
  addAgent(element, input.provider, "EvidenceProvider");
  addAgent(addSlot(root, "EvidenceRequester", "rim:AnyValueType"), input.requester);
  const list = add(root, "rim", "RegistryObjectList");
  const marker = `lotse-${crypto.randomUUID()}`;
  const mark = { id: `${marker}-id`, format: `${marker}-format`, item: `${marker}-item` };
  const object = add(list, "rim", "RegistryObject");
  setAttr(object, "type", "rim:ExtrinsicObjectType", "xsi");
  setAttr(object, "id", `urn:uuid:${mark.id}`);
  const evidence = add(addSlot(object, "EvidenceMetadata", "rim:AnyValueType"), "sdg", "Evidence");
  add(evidence, "sdg", "Identifier", mark.id);
  const about = add(evidence, "sdg", "IsAbout");
  const subject = input.subject;
  if (subject.kind === "natural") {
    const person = add(about, "sdg", "NaturalPerson");
    if (subject.identifier) {
      setAttr(add(person, "sdg", "Identifier", subject.identifier), "schemeID", "eidas");
    }
    add(person, "sdg", "FamilyName", subject.familyName);
    add(person, "sdg", "GivenName", subject.givenName);
    add(person, "sdg", "DateOfBirth", subject.dateOfBirth);
  } else {
    const company = add(about, "sdg", "LegalPerson");
    if (subject.identifier) {
      setAttr(
        add(company, "sdg", "LegalPersonIdentifier", subject.identifier),
        "schemeID",
        "eidas",
      );
    }
    add(company, "sdg", "LegalName", subject.legalName);
  }
  const issuer = add(evidence, "sdg", "IssuingAuthority");
  setAttr(add(issuer, "sdg", "Identifier", input.provider.id), "schemeID", input.provider.scheme);
  add(issuer, "sdg", "Name", input.provider.name || input.provider.id);
  const conformant = add(evidence, "sdg", "IsConformantTo");
  add(conformant, "sdg", "EvidenceTypeClassification", input.classification);
  add(conformant, "sdg", "Title", input.evidenceTitle || input.classification);
  add(evidence, "sdg", "IssuingDate", time.slice(0, 10));
  add(add(evidence, "sdg", "Distribution"), "sdg", "Format", mark.format);
  add(object, "rim", "RepositoryItem", mark.item);
  const xml = serialize(doc);
  const start = xml.lastIndexOf("<", xml.indexOf(`urn:uuid:${mark.id}`));
  const closing = "</rim:RegistryObject>";
  const end = xml.indexOf(closing, xml.indexOf(mark.item)) + closing.length;
  const template = xml.slice(start, end);
  return {
    head: xml.slice(0, start),
    object: (format) => {
      const id = crypto.randomUUID();
      const filled = template.replaceAll(mark.id, id).replace(mark.format, escapeText(format));
      const at = filled.indexOf(mark.item);
      return { head: filled.slice(0, at), tail: filled.slice(at + mark.item.length) };
    },
    tail: xml.slice(end),
  };
}

/** A value as XML character data. */
function escapeText(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** Input of {@linkcode buildDsdResponse}. */
export interface DataServiceEntry {
  readonly provider: EdmAgent;
  readonly classification: string;
  readonly evidenceTitle: string;
  /** What the service covers: `DE`, or a NUTS/LAU-like key (e.g. `DE-08111000`). */
  readonly jurisdiction: { readonly level1: string; readonly level2?: string };
}

/** The DSD answer: an ebRS `QueryResponse` listing the German data services. */
export function buildDsdResponse(services: readonly DataServiceEntry[]): string {
  const { doc, root } = startDocument("QueryResponse", "query");
  setAttr(root, "status", STATUS_SUCCESS);
  setAttr(root, "totalResultCount", String(services.length));
  setAttr(root, "startIndex", "0");
  const list = add(root, "rim", "RegistryObjectList");
  for (const service of services) {
    const object = add(list, "rim", "RegistryObject");
    setAttr(object, "id", `urn:uuid:${crypto.randomUUID()}`);
    const type = add(
      addSlot(object, "DataServiceEvidenceType", "rim:AnyValueType"),
      "sdg",
      "DataServiceEvidenceType",
    );
    add(type, "sdg", "Identifier", `${service.provider.id}:${service.classification}`);
    add(type, "sdg", "EvidenceTypeClassification", service.classification);
    add(type, "sdg", "Title", service.evidenceTitle || service.classification);
    add(add(type, "sdg", "DistributedAs"), "sdg", "Format", "application/xml");
    const access = add(type, "sdg", "AccessService");
    setAttr(
      add(access, "sdg", "Identifier", service.provider.id),
      "schemeID",
      service.provider.scheme,
    );
    add(access, "sdg", "ConformsTo", "oots:edm");
    const publisher = add(access, "sdg", "Publisher");
    setAttr(
      add(publisher, "sdg", "Identifier", service.provider.id),
      "schemeID",
      service.provider.scheme,
    );
    add(publisher, "sdg", "Name", service.provider.name || service.provider.id);
    add(add(publisher, "sdg", "Address"), "sdg", "AdminUnitLevel1", "DE");
    const jurisdiction = add(publisher, "sdg", "Jurisdiction");
    add(jurisdiction, "sdg", "AdminUnitLevel1", service.jurisdiction.level1);
    if (service.jurisdiction.level2) {
      add(jurisdiction, "sdg", "AdminUnitLevel2", service.jurisdiction.level2);
    }
  }
  return serialize(doc);
}

/** Input of {@linkcode buildDsdException}. */
export interface DsdExceptionInput {
  /** `DSD:ERR:0001` (nothing found), `DSD:ERR:0005` (additional parameters required) … */
  readonly code: string;
  readonly type: string;
  readonly message: string;
  readonly detail: string;
  /** For `DSD:ERR:0005`: the evidence type and the level its jurisdiction is decided at. */
  readonly determination?: {
    readonly classification: string;
    readonly evidenceTitle: string;
    /** `jurisdiction-admin-l2` or `-l3`. */
    readonly level: string;
    readonly context: string;
  };
}

/** A DSD `QueryResponse` with status Failure and one `rs:Exception`. */
export function buildDsdException(input: DsdExceptionInput): string {
  const { doc, root } = startDocument("QueryResponse", "query");
  setAttr(root, "status", STATUS_FAILURE);
  const exception = add(root, "rs", "Exception");
  setAttr(exception, "type", input.type, "xsi");
  setAttr(exception, "severity", "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error");
  setAttr(exception, "message", input.message);
  setAttr(exception, "detail", input.detail);
  setAttr(exception, "code", input.code);
  const determination = input.determination;
  if (determination) {
    const type = add(
      addSlot(exception, "DataServiceEvidenceType", "rim:AnyValueType"),
      "sdg",
      "DataServiceEvidenceType",
    );
    add(type, "sdg", "Identifier", determination.classification);
    add(type, "sdg", "EvidenceTypeClassification", determination.classification);
    add(type, "sdg", "Title", determination.evidenceTitle || determination.classification);
    add(add(type, "sdg", "DistributedAs"), "sdg", "Format", "application/xml");
    const found = add(
      addSlot(exception, "JurisdictionDetermination", "rim:AnyValueType"),
      "sdg",
      "EvidenceProviderJurisdictionDetermination",
    );
    add(found, "sdg", "JurisdictionContextId", determination.context);
    add(found, "sdg", "JurisdictionContext", determination.context);
    add(found, "sdg", "JurisdictionLevel", determination.level);
  }
  return serialize(doc);
}
