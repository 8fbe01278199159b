/**
 * XNachweis 1.2.0 messages as plain values: the namespaces, a reader for
 * `DE.EvidenceRequest.0101` and builders for 0101, 0102 and 0103 on libxml2's DOM, so no
 * untrusted value is ever concatenated into XML (libxml2 escapes text and attributes).
 *
 * @example
 * ```ts
 * import { buildErrorResponse, readEvidenceRequest } from "./messages.ts";
 * const request = readEvidenceRequest(doc); // doc from parseXml() + validateXml()
 * const xml = buildErrorResponse({ code: "not-permitted", detail: "…", requestId: request.id,
 *   requesters: request.requesters, errorProvider: LOTSE_AGENT });
 * ```
 *
 * @module
 */
import { XmlDocument, type XmlElement } from "libxml2-wasm";
import { nodePointer, rootPointer, TreeReader } from "./_libxml.ts";
import { XmlRefusal } from "./parse.ts";

/** The namespaces of XNachweis 1.2.0 and the XÖV base messages, by their usual prefix. */
export const NS = {
  "xn-de": "urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-de-noots",
  "xn-bk": "urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-baukasten",
  "xn-bdt": "urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-basisdatentypen",
  "xn-eu-edm": "urn:xoev-de:bva:standard:xnachweis:schema:xnachweis-eu-edm",
  "bn-g2g": "http://xoev.de/schemata/basisnachricht/g2g/1_1",
  "bn-beh": "http://xoev.de/schemata/basisnachricht/behoerde/1_1",
} as const;

/** The media type of every XNachweis message Lotse sends or answers. */
export const XML_CONTENT_TYPE = "application/xml; charset=utf-8";

export const SPECIFICATION_IDENTIFIER = "urn:xoev-de:bva:standard:xnachweis_1.2.0";
/** The EAS scheme Lotse writes for its own agent identifiers (client and provider ids). */
export const AGENT_SCHEME = "urn:cef.eu:names:identifier:EAS:0204";
/** Classification of the authority a request is for (EDM: Evidence Requester). */
export const REQUESTER_CLASSIFICATION = "ER";
/** Classification of a service acting for an authority (EDM: Intermediary Platform). */
export const INTERMEDIARY_CLASSIFICATION = "IP";
/** Classification Lotse writes for providers. */
export const PROVIDER_CLASSIFICATION = "EP";
const STATUS_LIST = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType";
const STATUS_SUCCESS = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success";
const STATUS_FAILURE = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure";
const SEVERITY_ERROR = "urn:oasis:names:tc:ebxmlregrep:ErrorSeverityType:Error";

/** An agent (requester, provider, error provider) as XNachweis names it. */
export interface Agent {
  /** `Identifier`: a Lotse client or provider id. */
  readonly id: string;
  readonly name: string;
  /** `Classification/code`, e.g. `ER`, `IP`, `EP`. */
  readonly classification: string;
}

/** The person or company a request is about. */
export type Subject =
  | {
    readonly kind: "natural";
    readonly familyName: string;
    readonly givenName: string;
    /** `YYYY-MM-DD` */
    readonly dateOfBirth: string;
    readonly idnr?: string;
  }
  | { readonly kind: "legal"; readonly legalName: string };

/** The request messages Lotse reads: national (0101) and for EU requests (0301). */
export type RequestMessageType = "DE.EvidenceRequest.0101" | "DE.EvidenceRequest.0301";

/** What Lotse reads from a `DE.EvidenceRequest.0101` (or `.0301`). */
export interface EvidenceRequest {
  /** Which request: a national one (0101) or one from the Intermediäre Plattform (0301). */
  readonly type: RequestMessageType;
  /** The message's `id` attribute (`urn:uuid:…`): the answers' `requestid`. */
  readonly id: string;
  readonly requesters: readonly Agent[];
  readonly provider: Agent;
  /** The content of `IssuedToken`, trimmed; empty when the consumer left it empty. */
  readonly issuedToken: string;
  /** `RequestedEvidenceType/EvidenceTypeClassification`. */
  readonly classification: string;
  readonly subject: Subject;
}

const DE = NS["xn-de"];
const BK = NS["xn-bk"];
const BDT = NS["xn-bdt"];
const EDM = NS["xn-eu-edm"];

function readAgent(tree: TreeReader, element: number): Agent {
  return {
    id: tree.text(tree.child(element, BK, "Identifier")),
    name: tree.text(tree.path(element, [BK, "Name"], [BDT, "value"])),
    classification: tree.text(tree.path(element, [EDM, "Classification"], [null, "code"])),
  };
}

/**
 * Reads a schema-valid `DE.EvidenceRequest.0101` or `.0301` (same content). Throws an
 * `Error` when the document is another message; call it only after `validateXml()`. It walks
 * the few elements it needs (no XPath: this is on every request's path).
 */
export function readEvidenceRequest(doc: XmlDocument): EvidenceRequest {
  // The root by pointer: no wrapper objects on every request's path.
  const tree = new TreeReader();
  const top = rootPointer(doc);
  const type = top === 0 ? "" : tree.name(top);
  if (
    (type !== "DE.EvidenceRequest.0101" && type !== "DE.EvidenceRequest.0301") ||
    tree.namespace(top) !== DE
  ) {
    // A refusal a face answers in its own dialect, not an error that would become a 500.
    throw new XmlRefusal("wrong-message", `Expected DE.EvidenceRequest.0101, got "${type}"`);
  }
  const requesters = tree.children(top, DE, "EvidenceRequester").map((e) => readAgent(tree, e));
  const provider = readAgent(tree, tree.child(top, DE, "EvidenceProvider"));
  const query = tree.child(top, DE, "Query");
  const person = tree.child(query, BK, "LegalOrNaturalPerson");
  const natural = tree.child(person, BK, "NaturalPerson");
  let subject: Subject;
  if (natural !== 0) {
    const idnr = tree.text(tree.child(natural, BK, "IDNr"));
    subject = {
      kind: "natural",
      familyName: tree.text(tree.child(natural, BK, "FamilyName")),
      givenName: tree.text(tree.child(natural, BK, "GivenName")),
      dateOfBirth: tree.text(tree.child(natural, BK, "DateOfBirth")),
      ...(idnr ? { idnr } : {}),
    };
  } else {
    subject = {
      kind: "legal",
      legalName: tree.text(tree.path(person, [BK, "LegalPerson"], [BK, "LegalName"])),
    };
  }
  return {
    type,
    id: tree.attribute(top, "id")?.trim() ?? "",
    requesters,
    provider,
    issuedToken: tree.text(tree.child(top, DE, "IssuedToken")),
    classification: tree.text(
      tree.path(query, [BK, "RequestedEvidenceType"], [BK, "EvidenceTypeClassification"]),
    ),
    subject,
  };
}

/** The local name of `doc`'s root element (`""` when it has none), read by pointer. */
export function rootName(doc: XmlDocument): string {
  const root = rootPointer(doc);
  return root === 0 ? "" : new TreeReader().name(root);
}

/** What Lotse reads from a provider's `DE.EvidenceErrorResponse.0103`/`.0303`. */
export interface ErrorResponseSummary {
  readonly code: string;
  readonly detail: string;
}

/** Reads the first exception of a schema-valid 0103/0303; null for another message. */
export function readErrorResponse(doc: XmlDocument): ErrorResponseSummary | null {
  const root = doc.root;
  if (!root.name.startsWith("DE.EvidenceErrorResponse.") || root.namespaceUri !== NS["xn-de"]) {
    return null;
  }
  const tree = new TreeReader();
  const exception = tree.child(nodePointer(root), DE, "Exception");
  return {
    code: tree.text(tree.path(exception, [BK, "Code"], [null, "code"])),
    detail: tree.text(tree.child(exception, BK, "Detail")),
  };
}

// ---------------------------------------------------------------- building

type Prefix = keyof typeof NS;

/** Characters XML 1.0 cannot carry at all, not even escaped. */
const NOT_XML = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/**
 * `value` with the characters XML cannot carry replaced by U+FFFD (libxml2 escapes the rest):
 * an error detail quoting hostile input must not make Lotse's own answer unparsable.
 */
export function xmlText(value: string): string {
  return value.replace(NOT_XML, "\uFFFD");
}

function add(parent: XmlElement, prefix: Prefix | null, name: string, value?: string): XmlElement {
  const element = prefix === null ? parent.addElement(name) : parent.addElement(name, prefix);
  if (value !== undefined) element.addText(xmlText(value));
  return element;
}

/** An XÖV code: `<name listVersionID><code>value</code></name>`. */
function addCode(
  parent: XmlElement,
  prefix: Prefix,
  name: string,
  code: string,
  options?: { listURI?: string; listVersionID?: string },
): XmlElement {
  const element = add(parent, prefix, name);
  if (options?.listURI) element.setAttr("listURI", options.listURI);
  element.setAttr("listVersionID", options?.listVersionID ?? "1");
  add(element, null, "code", code);
  return element;
}

function addMultilingual(parent: XmlElement, name: string, value: string): void {
  const element = add(parent, "xn-bk", name);
  add(element, "xn-bdt", "value", value);
  addCode(element, "xn-bdt", "lang", "de");
}

function addAgent(parent: XmlElement, name: string, agent: Agent): void {
  const element = add(parent, "xn-de", name);
  add(element, "xn-bk", "Identifier", agent.id).setAttr("schemeID", AGENT_SCHEME);
  addMultilingual(element, "Name", agent.name || agent.id);
  addCode(element, "xn-eu-edm", "Classification", agent.classification);
}

function addAuthority(parent: XmlElement, name: string, agent: Agent): void {
  const element = add(parent, "bn-g2g", name);
  addCode(element, "bn-beh", "verzeichnisdienst", "DVDV");
  add(element, "bn-beh", "kennung", agent.id);
  add(element, "bn-beh", "name", agent.name || agent.id);
}

interface Envelope {
  readonly type: string;
  readonly uuid: string;
  readonly time: string;
  readonly reader: Agent;
  readonly author: Agent;
}

function startMessage(envelope: Envelope): { doc: XmlDocument; root: XmlElement } {
  const doc = XmlDocument.create();
  const root = doc.createRoot(envelope.type, NS["xn-de"], "xn-de");
  for (const [prefix, uri] of Object.entries(NS)) {
    if (prefix !== "xn-de") root.addNsDeclaration(uri, prefix);
  }
  root.setAttr("produkt", "Lotse");
  root.setAttr("produkthersteller", "Lotse contributors");
  root.setAttr("standard", "XNachweis");
  root.setAttr("version", "1.2.0");
  const head = add(root, "xn-bk", "nachrichtenkopf");
  const identification = add(head, "xn-bk", "identifikation.nachricht");
  add(identification, "xn-bk", "nachrichtenUUID", envelope.uuid);
  addCode(identification, "xn-bk", "nachrichtentyp", envelope.type, { listVersionID: "1.2.0" });
  add(identification, "xn-bk", "erstellungszeitpunkt", envelope.time);
  addAuthority(head, "leser", envelope.reader);
  addAuthority(head, "autor", envelope.author);
  return { doc, root };
}

function finish(doc: XmlDocument): string {
  try {
    return doc.toString({ format: false });
  } finally {
    doc.dispose();
  }
}

function isoNow(now: number | undefined): string {
  return new Date(now ?? Date.now()).toISOString();
}

/** Input of {@linkcode buildEvidenceRequest}. */
export interface EvidenceRequestInput {
  /** Default 0101; the Intermediäre Plattform sends 0301. */
  readonly type?: RequestMessageType;
  /** A UUID; the message id becomes `urn:uuid:<uuid>`. Default: random. */
  readonly uuid?: string;
  readonly requesters: readonly Agent[];
  readonly provider: Agent;
  readonly issuedToken?: string;
  readonly classification: string;
  readonly evidenceTitle: string;
  readonly subject: Subject;
  /** Epoch ms of `IssueDateTime`. */
  readonly now?: number;
}

/** A `DE.EvidenceRequest.0101` or `.0301` (consumers, the EU face, demo files, tests). */
export function buildEvidenceRequest(input: EvidenceRequestInput): string {
  const uuid = input.uuid ?? crypto.randomUUID();
  const time = isoNow(input.now);
  const first = input.requesters[0]!;
  const { doc, root } = startMessage({
    type: input.type ?? "DE.EvidenceRequest.0101",
    uuid,
    time,
    reader: input.provider,
    author: first,
  });
  root.setAttr("id", `urn:uuid:${uuid}`);
  addCode(root, "xn-de", "lang", "de");
  add(root, "xn-de", "SpecificationIdentifier", SPECIFICATION_IDENTIFIER);
  add(root, "xn-de", "IssueDateTime", time);
  // 0301 carries the token before the agents, 0101 after them.
  const eu = input.type === "DE.EvidenceRequest.0301";
  if (eu) add(root, "xn-de", "IssuedToken", input.issuedToken ?? "");
  for (const requester of input.requesters) addAgent(root, "EvidenceRequester", requester);
  addAgent(root, "EvidenceProvider", input.provider);
  if (!eu) add(root, "xn-de", "IssuedToken", input.issuedToken ?? "");
  const query = add(root, "xn-de", "Query");
  add(query, "xn-bk", "QueryDefinition", "DocumentQuery");
  const type = add(query, "xn-bk", "RequestedEvidenceType");
  add(type, "xn-bk", "EvidenceTypeClassification", input.classification);
  addMultilingual(type, "Title", input.evidenceTitle);
  add(type, "xn-bk", "Identifier", uuid);
  const distribution = add(type, "xn-bk", "DistributedAs");
  addCode(distribution, "xn-bk", "Format", "application/xml");
  addSubject(add(query, "xn-bk", "LegalOrNaturalPerson"), input.subject);
  return finish(doc);
}

function addSubject(parent: XmlElement, subject: Subject): void {
  if (subject.kind === "natural") {
    const person = add(parent, "xn-bk", "NaturalPerson");
    add(person, "xn-bk", "DateOfBirth", subject.dateOfBirth);
    add(person, "xn-bk", "FamilyName", subject.familyName);
    add(person, "xn-bk", "GivenName", subject.givenName);
    addCode(person, "xn-bk", "LevelOfAssurance", "high");
    if (subject.idnr) add(person, "xn-bk", "IDNr", subject.idnr);
  } else {
    const company = add(parent, "xn-bk", "LegalPerson");
    add(company, "xn-bk", "LegalName", subject.legalName);
    addCode(company, "xn-bk", "LevelOfAssurance", "high");
  }
}

/** Input of {@linkcode buildEvidenceResponse}. */
export interface EvidenceResponseInput {
  /** Default 0102; the answer to a 0301 is a 0302. */
  readonly type?: "DE.EvidenceResponse.0102" | "DE.EvidenceResponse.0302";
  /** The request's `id` (`urn:uuid:…`). */
  readonly requestId: string;
  readonly provider: Agent;
  readonly requesters: readonly Agent[];
  readonly classification: string;
  readonly evidenceTitle: string;
  readonly subject: Subject;
  /** The evidence document (base64 in `RepositoryItem`), or a time when it will be ready. */
  readonly evidence: { readonly bytes: Uint8Array } | { readonly availableAt: string };
  readonly now?: number;
}

/** A `DE.EvidenceResponse.0102` (what a register answers; the demo registers use it). */
export function buildEvidenceResponse(input: EvidenceResponseInput): string {
  const uuid = crypto.randomUUID();
  const time = isoNow(input.now);
  const { doc, root } = startMessage({
    type: input.type ?? "DE.EvidenceResponse.0102",
    uuid,
    time,
    reader: input.requesters[0]!,
    author: input.provider,
  });
  root.setAttr("requestid", input.requestId);
  addCode(root, "xn-de", "status", STATUS_SUCCESS, { listURI: STATUS_LIST, listVersionID: "4.0" });
  add(root, "xn-de", "SpecificationIdentifier", SPECIFICATION_IDENTIFIER);
  add(root, "xn-de", "EvidenceResponseIdentifier", uuid);
  add(root, "xn-de", "IssueDateTime", time);
  addAgent(root, "EvidenceProvider", input.provider);
  for (const requester of input.requesters) addAgent(root, "EvidenceRequester", requester);
  const availability = add(root, "xn-de", "EvidenceAvailability");
  if ("availableAt" in input.evidence) {
    add(availability, "xn-de", "ResponseAvailableDateTime", input.evidence.availableAt);
    return finish(doc);
  }
  const object = add(availability, "xn-de", "RegistryObjectList");
  add(object, "xn-bk", "id", `urn:uuid:${crypto.randomUUID()}`);
  const metadata = add(object, "xn-bk", "EvidenceMetadata");
  add(metadata, "xn-bk", "IssuingDate", time.slice(0, 10));
  const issuer = add(metadata, "xn-bk", "IssuingAuthority");
  add(issuer, "xn-bk", "Identifier", input.provider.id).setAttr("schemeID", AGENT_SCHEME);
  addMultilingual(issuer, "Name", input.provider.name || input.provider.id);
  const distribution = add(metadata, "xn-bk", "Distribution");
  addCode(distribution, "xn-bk", "Format", "application/json");
  const conformant = add(metadata, "xn-bk", "IsConformantTo");
  add(conformant, "xn-bk", "EvidenceTypeClassification", input.classification);
  addMultilingual(conformant, "Title", input.evidenceTitle);
  const item = add(object, "xn-bk", "RepositoryItem");
  add(item, "xn-bk", "RepositoryItem", base64(input.evidence.bytes));
  addSubject(add(object, "xn-bk", "LegalOrNaturalPerson"), input.subject);
  return finish(doc);
}

/** Input of {@linkcode buildErrorResponse}. */
export interface ErrorResponseInput {
  /** Default 0103; the error answer to a 0301 is a 0303. */
  readonly type?: "DE.EvidenceErrorResponse.0103" | "DE.EvidenceErrorResponse.0303";
  /** The error code: for Lotse's own errors, the problem type of docs/api.md §3. */
  readonly code: string;
  readonly detail: string;
  /** The request's `id` when it could be read; otherwise a fresh one is made. */
  readonly requestId?: string;
  /** The requesters named in the request, or the caller when the request was unreadable. */
  readonly requesters: readonly Agent[];
  readonly errorProvider: Agent;
  readonly now?: number;
}

/** A `DE.EvidenceErrorResponse.0103` (or `.0303`). */
export function buildErrorResponse(input: ErrorResponseInput): string {
  const uuid = crypto.randomUUID();
  const time = isoNow(input.now);
  const requesters = input.requesters.length > 0
    ? input.requesters
    : [{ id: "unknown", name: "unknown", classification: REQUESTER_CLASSIFICATION }];
  const { doc, root } = startMessage({
    type: input.type ?? "DE.EvidenceErrorResponse.0103",
    uuid,
    time,
    reader: requesters[0]!,
    author: input.errorProvider,
  });
  root.setAttr("requestid", input.requestId ?? `urn:uuid:${crypto.randomUUID()}`);
  addCode(root, "xn-de", "status", STATUS_FAILURE, { listURI: STATUS_LIST, listVersionID: "4.0" });
  add(root, "xn-de", "SpecificationIdentifier", SPECIFICATION_IDENTIFIER);
  add(root, "xn-de", "EvidenceResponseIdentifier", uuid);
  add(root, "xn-de", "IssueDateTime", time);
  addAgent(root, "ErrorProvider", input.errorProvider);
  for (const requester of requesters) addAgent(root, "EvidenceRequester", requester);
  const exception = add(root, "xn-de", "Exception");
  const code = add(exception, "xn-bk", "Code");
  code.setAttr("listVersionID", "1");
  add(code, null, "code", input.code);
  add(exception, "xn-bk", "Detail", input.detail);
  add(exception, "xn-bk", "Timestamp", time);
  add(exception, "xn-bk", "Severity", SEVERITY_ERROR);
  return finish(doc);
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
