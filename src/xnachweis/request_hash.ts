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
 * On the faces' path ({@linkcode canonicalRequest}) one canonicalisation serves both: the
 * hash, and the message Lotse forwards, which is that canonical form with the token filled
 * in (a canonical document is well-formed XML with the same elements, attributes, texts and
 * namespaces in use; a provider canonicalising it again gets the same bytes). Exclusive C14N
 * drops namespace declarations that no element or attribute name uses, which matters only
 * for qualified names inside values (`xsi:type`, the free content of `AnyContent`): a message
 * holding either is serialised from the tree instead.
 *
 * @example
 * ```ts
 * import { canonicalRequest, requestDigest } from "./request_hash.ts";
 * const digest = requestDigest(doc); // "sha-256=:…:", doc unchanged afterwards
 * const request = canonicalRequest(doc); // request.digest === digest
 * const body = request.seal(token); // the bytes to forward, token inside
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import { XmlC14NMode, type XmlDocument, type XmlElement } from "libxml2-wasm";
import {
  collectOutput,
  contentOf,
  elementAt,
  outputHandler,
  rootPointer,
  setPlainText,
  TreeReader,
} from "./_libxml.ts";
import { NS } from "./messages.ts";

/** The root's `IssuedToken` element (a pointer), or 0 when the document is not a request. */
function issuedToken(doc: XmlDocument): number {
  return new TreeReader().child(rootPointer(doc), NS["xn-de"], "IssuedToken");
}

/** The root's `IssuedToken` element, or null when the document is not a 0101. */
export function issuedTokenElement(doc: XmlDocument): XmlElement | null {
  const ptr = issuedToken(doc);
  return ptr === 0 ? null : elementAt(ptr);
}

/** The root's `IssuedToken` element (a pointer); throws when there is none (a caller's mistake). */
function requiredToken(doc: XmlDocument): number {
  const ptr = issuedToken(doc);
  if (ptr === 0) throw new Error("The message has no IssuedToken");
  return ptr;
}

/** {@linkcode requiredToken} as the public API's element. */
function requiredTokenElement(doc: XmlDocument): XmlElement {
  return elementAt(requiredToken(doc));
}

/** Replaces the content of the `IssuedToken` element (`""` empties it). */
export function setIssuedToken(doc: XmlDocument, token: string): void {
  const element = requiredTokenElement(doc);
  fillToken(element, token);
}

function fillToken(element: XmlElement, token: string): void {
  while (element.firstChild) element.firstChild.remove();
  if (token !== "") element.addText(token);
}

/**
 * The message as it goes to the provider: `token` put into its `IssuedToken`, serialized,
 * as the body both XML faces (0101, and the EU face's 0301) send upstream whole. The bytes
 * come straight out of libxml2's output buffer (no string in between).
 */
export function sealedMessage(doc: XmlDocument, token: string): Uint8Array<ArrayBuffer> {
  const element = requiredTokenElement(doc);
  if (element.content !== token) fillToken(element, token);
  return collectOutput((out) => doc.save(out, { format: false, encoding: "utf-8" }));
}

/**
 * The request hash of a 0101 by the rule above. The document is left as it was (the
 * token's content is put back). The canonical form goes from libxml2's output buffer
 * straight into the hash.
 */
export function requestDigest(doc: XmlDocument): string {
  const element = requiredToken(doc);
  const token = contentOf(element);
  if (token !== "") setPlainText(element, "");
  try {
    const hash = createHash("sha256");
    doc.canonicalize(outputHandler((chunk) => hash.update(chunk)), {
      mode: XmlC14NMode.XML_C14N_EXCLUSIVE_1_0,
    });
    return `sha-256=:${hash.digest("base64")}:`;
  } finally {
    if (token !== "") fillToken(elementAt(element), token);
  }
}

/** A 0101 canonicalised once: its request hash, and the message to forward with a token. */
export interface CanonicalRequest {
  /** The request hash (`sha-256=:…:`), as {@linkcode requestDigest} computes it. */
  readonly digest: string;
  /** The message with `token` in its `IssuedToken`, as the bytes to send upstream. */
  seal(token: string): Uint8Array<ArrayBuffer>;
}

const encoder = new TextEncoder();
// One UTF-16 unit per byte, so string positions are byte positions (searching a string is
// far faster than searching bytes in JavaScript).
const bytewise = new TextDecoder("latin1");
// What makes forwarding the canonical form unsafe: qualified names inside values.
const UNSAFE = ["http://www.w3.org/2001/XMLSchema-instance", "AnyContent"];
const C14N_TEXT = /[&<>\r]/g;
const C14N_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  "\r": "&#xD;",
};

/**
 * Canonicalises a 0101 (or 0301) once for both the request hash and the forwarded message:
 * the `IssuedToken` holds a random marker while libxml2 writes the canonical form, the hash
 * is taken over the form without it, and {@linkcode CanonicalRequest.seal} puts the token
 * where the marker was. The document is left as it was; `seal` may serialise it from the tree
 * (a message with qualified names inside values, see above), so it must not be disposed
 * before `seal` is called.
 */
export function canonicalRequest(doc: XmlDocument): CanonicalRequest {
  const element = requiredToken(doc);
  const token = contentOf(element);
  const marker = crypto.randomUUID().replaceAll("-", "");
  // By pointer: the marker (hex digits) needs no escaping, an empty token no text node.
  setPlainText(element, marker);
  let canonical: Uint8Array;
  try {
    canonical = collectOutput((out) =>
      doc.canonicalize(out, { mode: XmlC14NMode.XML_C14N_EXCLUSIVE_1_0 })
    );
  } finally {
    if (token === "") setPlainText(element, "");
    else fillToken(elementAt(element), token);
  }
  const text = bytewise.decode(canonical);
  const at = text.indexOf(marker);
  if (at === -1 || text.indexOf(marker, at + 1) !== -1) {
    // Cannot happen for a random marker; never guess.
    return { digest: requestDigest(doc), seal: (sealed) => sealedMessage(doc, sealed) };
  }
  const before = canonical.subarray(0, at);
  const after = canonical.subarray(at + marker.length);
  const hash = createHash("sha256").update(before).update(after);
  const digest = `sha-256=:${hash.digest("base64")}:`;
  if (UNSAFE.some((name) => text.includes(name))) {
    return { digest, seal: (sealed) => sealedMessage(doc, sealed) };
  }
  return {
    digest,
    seal(sealed) {
      const token = encoder.encode(sealed.replace(C14N_TEXT, (c) => C14N_ESCAPES[c]!));
      const body = new Uint8Array(before.byteLength + token.byteLength + after.byteLength);
      body.set(before, 0);
      body.set(token, before.byteLength);
      body.set(after, before.byteLength + token.byteLength);
      return body;
    },
  };
}
