/**
 * The one place that reaches below libxml2-wasm's public API (pinned to 0.7.2 in deno.json;
 * `libxml_test.ts` pins what is used here), for the hot path of the XML faces:
 *
 * - **one parser context reused** for every message (libxml2's `xmlCtxtReadMemory` is made
 *   for that): the names of the messages stay in its dictionary, so a parse looks names up
 *   instead of building a new dictionary each time. The dictionary only grows with names of
 *   parsed input, so the context is replaced after {@linkcode CONTEXT_BYTES} parsed bytes;
 * - **reading by walking the tree**: a child element by namespace and local name, an
 *   element's text, without an XPath context per expression;
 * - **output straight from the WebAssembly memory**: canonical form into a hash, a document
 *   into bytes, no string decoded and encoded again;
 * - **the root and the `IssuedToken` by pointer**: no wrapper object of libxml2-wasm for what
 *   the faces only look at or fill with a marker.
 *
 * @module
 */
import { XmlDocument, XmlElement, XmlLibError } from "libxml2-wasm";
import {
  error as libErrors,
  xmlCtxtSetErrorHandler,
  xmlDocGetRootElement,
  xmlFreeDoc,
  xmlFreeNode,
  xmlFreeParserCtxt,
  XmlNamedNodeStruct,
  xmlNewParserCtxt,
  xmlNodeGetContent,
  xmlNodeSetContent,
  XmlNodeStruct,
  XmlNsStruct,
  xmlReadMemory,
  XmlTreeCommonStruct,
  xmlUnlinkNode,
} from "libxml2-wasm/lib/libxml2.mjs";

/** Bytes parsed with one context before it is replaced (bounds its dictionary). */
export const CONTEXT_BYTES = 8 * 1024 * 1024;

interface ErrorDetail {
  message: string;
  level: number;
  line: number;
}

const ERROR_LEVEL = 2; // libxml2's XML_ERR_ERROR: errors and fatal errors fail the parse

let context = 0;
let contextBytes = 0;
let contexts = 0;

/** How many parser contexts this process has created so far (for tests). */
export function parserContexts(): number {
  return contexts;
}
// libxml2 reports into this one array (cleared before each parse) through the library's
// error collector, registered once with the shared context.
const details: ErrorDetail[] = [];
const errorSlot = libErrors.storage.allocate(details as never);

function parserContext(size: number): number {
  if (context !== 0 && contextBytes + size > CONTEXT_BYTES) {
    xmlFreeParserCtxt(context);
    context = 0;
  }
  if (context === 0) {
    context = xmlNewParserCtxt();
    if (context === 0) throw new Error("Cannot create a libxml2 parser context");
    xmlCtxtSetErrorHandler(context, libErrors.errorCollector, errorSlot);
    contextBytes = 0;
    contexts++;
  }
  contextBytes += size;
  return context;
}

/**
 * Parses `bytes` (UTF-8) with the shared parser context and `options` (libxml2 parse
 * options). Throws `XmlLibError` with libxml2's diagnostics when it is not well-formed.
 */
export function parseDocument(bytes: Uint8Array, options: number): XmlDocument {
  const ctxt = parserContext(bytes.byteLength);
  details.length = 0;
  const ptr = xmlReadMemory(ctxt, bytes, null, "UTF-8", options);
  const failed = details.some((d) => d.level >= ERROR_LEVEL);
  if (failed || ptr === 0) {
    if (ptr !== 0) xmlFreeDoc(ptr);
    const found = [...details];
    details.length = 0;
    throw new XmlLibError(
      found.length > 0 ? found.map((d) => d.message).join("") : "Failed to parse XML",
      found as unknown as ConstructorParameters<typeof XmlLibError>[1],
    );
  }
  return (XmlDocument as unknown as { getInstance(ptr: number): XmlDocument }).getInstance(ptr);
}

/** The libxml2 pointer behind a document of the public API. */
export function documentPointer(doc: XmlDocument): number {
  return (doc as unknown as { _ptr: number })._ptr;
}

/** The root element of `doc` (a pointer), or 0. */
export function rootPointer(doc: XmlDocument): number {
  return xmlDocGetRootElement(documentPointer(doc));
}

/**
 * Replaces everything inside element `ptr` by `text`, which must hold nothing XML escapes
 * (libxml2 reads it as markup-free character data: a marker of letters and digits), or
 * leaves the element empty for `""`.
 */
export function setPlainText(ptr: number, text: string): void {
  for (let child = XmlTreeCommonStruct.children(ptr); child !== 0;) {
    const next = XmlTreeCommonStruct.next(child);
    xmlUnlinkNode(child);
    xmlFreeNode(child);
    child = next;
  }
  if (text !== "") xmlNodeSetContent(ptr, text);
}

/** The content of element `ptr` as it is (not trimmed), `""` when it has no children. */
export function contentOf(ptr: number): string {
  return XmlTreeCommonStruct.children(ptr) === 0 ? "" : xmlNodeGetContent(ptr);
}

/** The public API's element for an element pointer. */
export function elementAt(ptr: number): XmlElement {
  return new (XmlElement as unknown as new (ptr: number) => XmlElement)(ptr);
}

/** The libxml2 pointer behind an element (or any node) of the public API. */
export function nodePointer(node: object): number {
  return (node as { _nodePtr: number })._nodePtr;
}

const ELEMENT_NODE = 1;

/** The next element sibling from `ptr` on (`ptr` itself when it is an element), or 0. */
function elementFrom(ptr: number): number {
  while (ptr !== 0 && XmlTreeCommonStruct.type(ptr) !== ELEMENT_NODE) {
    ptr = XmlTreeCommonStruct.next(ptr);
  }
  return ptr;
}

/** The first child element of `parent` (a pointer), or 0. */
function firstElement(parent: number): number {
  return elementFrom(XmlTreeCommonStruct.children(parent));
}

/** The next sibling element of `ptr`, or 0. */
function nextElement(ptr: number): number {
  return elementFrom(XmlTreeCommonStruct.next(ptr));
}

/**
 * Reads elements of one document by walking its tree. Namespace URIs are looked up once per
 * namespace node (libxml2 shares one per declaration) and names once per element, so a walk
 * costs a pointer chase per element. A reader must not outlive its document.
 */
export class TreeReader {
  readonly #hrefs = new Map<number, string | null>();
  readonly #names = new Map<number, string>();

  /** The namespace URI of element `ptr`. */
  namespace(ptr: number): string | null {
    const ns = XmlNamedNodeStruct.namespace(ptr);
    if (ns === 0) return null;
    let href = this.#hrefs.get(ns);
    if (href === undefined) {
      href = XmlNsStruct.href(ns);
      this.#hrefs.set(ns, href);
    }
    return href;
  }

  /** The local name of element `ptr`, decoded once per reader (siblings are walked often). */
  name(ptr: number): string {
    let name = this.#names.get(ptr);
    if (name === undefined) {
      name = XmlTreeCommonStruct.name_(ptr);
      this.#names.set(ptr, name);
    }
    return name;
  }

  /** Whether element `ptr` is `{ns}local` (`ns` null: no namespace). */
  is(ptr: number, ns: string | null, local: string): boolean {
    return this.name(ptr) === local && this.namespace(ptr) === ns;
  }

  /** The first child element of `parent` that is `{ns}local`, or 0. */
  child(parent: number, ns: string | null, local: string): number {
    if (parent === 0) return 0;
    for (let ptr = firstElement(parent); ptr !== 0; ptr = nextElement(ptr)) {
      if (this.is(ptr, ns, local)) return ptr;
    }
    return 0;
  }

  /** Every child element of `parent` that is `{ns}local`. */
  children(parent: number, ns: string | null, local: string): number[] {
    const found: number[] = [];
    for (let ptr = firstElement(parent); ptr !== 0; ptr = nextElement(ptr)) {
      if (this.is(ptr, ns, local)) found.push(ptr);
    }
    return found;
  }

  /** Follows `steps` of `[ns, local]` from `parent` (first match each), or 0. */
  path(parent: number, ...steps: readonly (readonly [string | null, string])[]): number {
    let ptr = parent;
    for (const [ns, local] of steps) ptr = this.child(ptr, ns, local);
    return ptr;
  }

  /** The text content of element `ptr`, trimmed; `""` for 0. */
  text(ptr: number): string {
    return ptr === 0 ? "" : xmlNodeGetContent(ptr).trim();
  }

  /**
   * The value of element `ptr`'s attribute `local` in no namespace, as it is (not trimmed), or
   * null when it has none: the attribute list walked by pointer, no name copied into the wasm
   * memory for a lookup and no wrapper object (libxml2-wasm's `attr()` does both).
   */
  attribute(ptr: number, local: string): string | null {
    if (ptr === 0) return null;
    for (
      let attr = XmlNodeStruct.properties(ptr);
      attr !== 0;
      attr = XmlTreeCommonStruct.next(attr)
    ) {
      if (XmlNamedNodeStruct.namespace(attr) === 0 && this.name(attr) === local) {
        return contentOf(attr);
      }
    }
    return null;
  }
}

/** A libxml2 output handler that feeds every chunk to `write` (a view into wasm memory). */
export function outputHandler(write: (chunk: Uint8Array) => void): {
  write(chunk: Uint8Array): number;
  close(): boolean;
} {
  return {
    write(chunk) {
      write(chunk);
      return chunk.byteLength;
    },
    close: () => true,
  };
}

// One scratch buffer for every collection: output is gathered synchronously, then copied
// out once (one allocation per document instead of one per chunk).
let scratch = new Uint8Array(64 * 1024);

/**
 * Runs `produce` with an output handler and returns everything it wrote, copied out of the
 * wasm memory into one byte array. `produce` must write synchronously (libxml2 does).
 */
export function collectOutput(produce: (handler: ReturnType<typeof outputHandler>) => void) {
  let length = 0;
  produce(outputHandler((chunk) => {
    if (length + chunk.byteLength > scratch.byteLength) {
      const grown = new Uint8Array(Math.max(scratch.byteLength * 2, length + chunk.byteLength));
      grown.set(scratch.subarray(0, length));
      scratch = grown;
    }
    scratch.set(chunk, length);
    length += chunk.byteLength;
  }));
  return scratch.slice(0, length);
}
