/**
 * The request hash of a `DE.EvidenceRequest.0101` (the evidence token's `req_digest`), so a
 * provider can prove that the message it received is the one the Vermittlungsstelle sealed
 * the token for. The rule (docs/xnachweis.md says it for people outside Lotse):
 *
 * 1. Take the message as parsed XML (UTF-8, no document type declaration).
 * 2. Empty the root's `IssuedToken` element (remove everything inside it; keep the element).
 * 3. Canonicalise the whole document with Exclusive XML Canonicalization 1.0
 *    (`http://www.w3.org/2001/10/xml-exc-c14n#`, without comments, no inclusive prefixes).
 * 4. SHA-256 over those bytes, written `sha-256=:<base64>:` (RFC 9530's notation).
 *
 * Canonicalisation makes the hash independent of how the message is serialised (attribute
 * order, namespace declarations, the XML declaration, `<a/>` vs `<a></a>`), so Lotse may
 * re-serialise the message when it fills in the token.
 *
 * @example
 * ```ts
 * import { requestDigest } from "./request_hash.ts";
 * const digest = requestDigest(doc); // "sha-256=:…:", doc unchanged afterwards
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import { XmlC14NMode, type XmlDocument, type XmlElement } from "libxml2-wasm";
import { ByteCollector, elementAt, nodePointer, outputHandler, TreeReader } from "./_libxml.ts";
import { NS } from "./messages.ts";

/** The root's `IssuedToken` element (a pointer), or 0 when the document is not a request. */
function issuedToken(doc: XmlDocument): number {
  return new TreeReader().child(nodePointer(doc.root), NS["xn-de"], "IssuedToken");
}

/** The root's `IssuedToken` element, or null when the document is not a 0101. */
export function issuedTokenElement(doc: XmlDocument): XmlElement | null {
  const ptr = issuedToken(doc);
  return ptr === 0 ? null : elementAt(ptr);
}

/** Replaces the content of the `IssuedToken` element (`""` empties it). */
export function setIssuedToken(doc: XmlDocument, token: string): void {
  const element = issuedTokenElement(doc);
  if (!element) throw new Error("The message has no IssuedToken");
  fillToken(element, token);
}

function fillToken(element: XmlElement, token: string): void {
  while (element.firstChild) element.firstChild.remove();
  if (token !== "") element.addText(token);
}

/**
 * The message as it goes to the provider: `token` put into its `IssuedToken`, serialized,
 * as the one-chunk body both XML faces (0101, and the EU face's 0301) send upstream. The
 * bytes come straight out of libxml2's output buffer (no string in between).
 */
export function sealedMessage(doc: XmlDocument, token: string): ReadableStream<Uint8Array> {
  const element = issuedTokenElement(doc);
  if (!element) throw new Error("The message has no IssuedToken");
  if (element.content !== token) fillToken(element, token);
  const out = new ByteCollector();
  doc.save(out.handler, { format: false, encoding: "utf-8" });
  return ReadableStream.from([out.bytes()]);
}

/**
 * The request hash of a 0101 by the rule above. The document is left as it was (the
 * token's content is put back). The canonical form goes from libxml2's output buffer
 * straight into the hash.
 */
export function requestDigest(doc: XmlDocument): string {
  const element = issuedTokenElement(doc);
  if (!element) throw new Error("The message has no IssuedToken");
  const token = element.firstChild === null ? "" : element.content;
  if (token !== "") fillToken(element, "");
  try {
    const hash = createHash("sha256");
    doc.canonicalize(outputHandler((chunk) => hash.update(chunk)), {
      mode: XmlC14NMode.XML_C14N_EXCLUSIVE_1_0,
    });
    return `sha-256=:${hash.digest("base64")}:`;
  } finally {
    if (token !== "") fillToken(element, token);
  }
}
