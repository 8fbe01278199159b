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
import { xpath } from "./messages.ts";

/** The root's `IssuedToken` element, or null when the document is not a 0101. */
export function issuedTokenElement(doc: XmlDocument): XmlElement | null {
  return doc.root.get(xpath("xn-de:IssuedToken")) as XmlElement | null;
}

/** Replaces the content of the `IssuedToken` element (`""` empties it). */
export function setIssuedToken(doc: XmlDocument, token: string): void {
  const element = issuedTokenElement(doc);
  if (!element) throw new Error("The message has no IssuedToken");
  while (element.firstChild) element.firstChild.remove();
  if (token !== "") element.addText(token);
}

/**
 * The message as it goes to the provider: `token` put into its `IssuedToken`, serialized,
 * as the one-chunk body both XML faces (0101, and the EU face's 0301) send upstream.
 */
export function sealedMessage(doc: XmlDocument, token: string): ReadableStream<Uint8Array> {
  setIssuedToken(doc, token);
  return ReadableStream.from([new TextEncoder().encode(doc.toString({ format: false }))]);
}

/**
 * The request hash of a 0101 by the rule above. The document is left as it was (the
 * token's content is put back).
 */
export function requestDigest(doc: XmlDocument): string {
  const element = issuedTokenElement(doc);
  if (!element) throw new Error("The message has no IssuedToken");
  const token = element.content;
  if (token !== "") setIssuedToken(doc, "");
  try {
    const canonical = doc.canonicalizeToString({ mode: XmlC14NMode.XML_C14N_EXCLUSIVE_1_0 });
    return `sha-256=:${createHash("sha256").update(canonical, "utf8").digest("base64")}:`;
  } finally {
    if (token !== "") setIssuedToken(doc, token);
  }
}
