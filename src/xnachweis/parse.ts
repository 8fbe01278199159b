/**
 * Reading untrusted XNachweis XML safely: bounded size, UTF-8 only, no document type
 * declaration at all (so no external entities, no entity expansion: XXE and "billion laughs"
 * cannot start), no network, parsed by libxml2 (compiled to WebAssembly, one parser context
 * reused: `_libxml.ts`) and validated against the vendored XNachweis 1.2.0 schemas with one
 * schema compiled once per process.
 *
 * @example
 * ```ts
 * import { parseXml, validateXml } from "./parse.ts";
 * const doc = parseXml(bytes, { maxBytes: 1 << 20 });
 * try {
 *   validateXml(doc); // throws XmlRefusal("schema-invalid", …)
 * } finally {
 *   doc.dispose();
 * }
 * ```
 *
 * @module
 */
import { isUtf8 } from "node:buffer";
import { ParseOption, XmlDocument, XmlLibError, XsdValidator } from "libxml2-wasm";
import { parseDocument } from "./_libxml.ts";
import { registerSchemas, type SchemaSet, XNACHWEIS_SCHEMAS } from "./_schemas.ts";

export type { SchemaSet } from "./_schemas.ts";

/** Why a message was not accepted; every kind is a 4xx at the edge. */
export type XmlRefusalKind =
  | "too-large"
  | "not-utf8"
  | "doctype"
  | "malformed"
  | "schema-invalid"
  | "wrong-message";

/** A message Lotse will not read, with a detail safe to show the sender. */
export class XmlRefusal extends Error {
  override name = "XmlRefusal";
  readonly kind: XmlRefusalKind;
  constructor(kind: XmlRefusalKind, detail: string) {
    super(detail);
    this.kind = kind;
  }

  /** The problem it is answered as: too large, or an invalid request. */
  get problemType(): "payload-too-large" | "invalid-request" {
    return this.kind === "too-large" ? "payload-too-large" : "invalid-request";
  }
}

/** Options for {@linkcode parseXml}. */
export interface ParseXmlOptions {
  /** Refuse documents larger than this many bytes. */
  maxBytes: number;
}

// NONET: never fetch; NO_XXE: never load external entities even if a DTD slipped through;
// no NOENT, no DTDLOAD, no XINCLUDE; HUGE stays off, so libxml2's own limits hold too.
// COMPACT keeps short texts inside their nodes (fewer allocations; the tree is the same).
export const PARSE_OPTIONS = ParseOption.XML_PARSE_NONET | ParseOption.XML_PARSE_NO_XXE |
  ParseOption.XML_PARSE_COMPACT;

const head = new TextDecoder("utf-8", { ignoreBOM: false });
const DECLARED_ENCODING = /^\uFEFF?<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/;
const DOCTYPE = new TextEncoder().encode("DOCTYPE");

/** Whether `bytes` hold `<!DOCTYPE` (any case), searched on the bytes, not a decoded copy. */
function hasDoctype(bytes: Uint8Array): boolean {
  for (let at = bytes.indexOf(0x21); at !== -1; at = bytes.indexOf(0x21, at + 1)) {
    if (at === 0 || bytes[at - 1] !== 0x3c) continue; // "<!"
    let i = 0;
    // ASCII letters only: OR 0x20 lowers the case.
    while (i < DOCTYPE.length && ((bytes[at + 1 + i] ?? 0) | 0x20) === (DOCTYPE[i]! | 0x20)) i++;
    if (i === DOCTYPE.length) return true;
  }
  return false;
}

/**
 * Parses one XML document. Refuses (throws {@linkcode XmlRefusal}) what is too large, not
 * UTF-8, carries a document type declaration, or is not well-formed. The caller disposes the
 * returned document.
 */
export function parseXml(bytes: Uint8Array, options: ParseXmlOptions): XmlDocument {
  if (bytes.byteLength > options.maxBytes) {
    throw new XmlRefusal("too-large", `The message exceeds ${options.maxBytes} bytes`);
  }
  if (!isUtf8(bytes)) throw new XmlRefusal("not-utf8", "The message is not valid UTF-8");
  const declared = DECLARED_ENCODING.exec(head.decode(bytes.subarray(0, 200)))?.[1];
  if (declared !== undefined && !/^utf-?8$/i.test(declared)) {
    throw new XmlRefusal("not-utf8", `Cannot read encoding "${declared}": expected UTF-8`);
  }
  // A DTD has no place in an XNachweis message: refuse before libxml2 reads one.
  if (hasDoctype(bytes)) {
    throw new XmlRefusal("doctype", "Document type declarations are not accepted");
  }
  let doc: XmlDocument;
  try {
    doc = parseDocument(bytes, PARSE_OPTIONS);
  } catch (error) {
    throw new XmlRefusal("malformed", `Cannot parse the message: ${firstLine(error)}`);
  }
  if (doc.dtd !== null) {
    doc.dispose();
    throw new XmlRefusal("doctype", "Document type declarations are not accepted");
  }
  return doc;
}

const validators = new Map<string, XsdValidator>();

/** The validator of a vendored schema set, compiled on first use and kept for the process. */
export function schemaValidator(set: SchemaSet): XsdValidator {
  let validator = validators.get(set.local);
  if (validator) return validator;
  const files = registerSchemas(set);
  const url = set.local + set.entry;
  const xsd = XmlDocument.fromBuffer(files.get(url)!, { url });
  try {
    validator = XsdValidator.fromDoc(xsd);
  } finally {
    xsd.dispose();
  }
  validators.set(set.local, validator);
  return validator;
}

/** The XNachweis 1.2.0 validator, compiled on first use and kept for the process. */
export function xnachweisValidator(): XsdValidator {
  return schemaValidator(XNACHWEIS_SCHEMAS);
}

/**
 * Validates a document against a vendored schema set (default XNachweis 1.2.0); throws
 * {@linkcode XmlRefusal} whose detail names `label`.
 */
export function validateXml(
  doc: XmlDocument,
  set: SchemaSet = XNACHWEIS_SCHEMAS,
  label = "XNachweis 1.2.0",
): void {
  try {
    schemaValidator(set).validate(doc);
  } catch (error) {
    throw new XmlRefusal(
      "schema-invalid",
      `The message is not valid ${label}: ${firstLine(error)}`,
    );
  }
}

/** The schema errors of a document, empty when it is valid (for tests and tools). */
export function schemaErrors(doc: XmlDocument, set: SchemaSet = XNACHWEIS_SCHEMAS): string[] {
  try {
    schemaValidator(set).validate(doc);
    return [];
  } catch (error) {
    if (error instanceof XmlLibError) {
      return error.details.map((d) => `${d.line}: ${d.message.trim()}`);
    }
    return [firstLine(error)];
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof XmlLibError && error.details[0]
    ? `line ${error.details[0].line}: ${error.details[0].message}`
    : error instanceof Error
    ? error.message
    : String(error);
  return message.trim().split("\n")[0]!.slice(0, 300);
}
