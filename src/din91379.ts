/**
 * The character sets of DIN 91379 ("Schriftzeichen und definierte Zeichenfolgen in Unicode für
 * die elektronische Verarbeitung von Namen und den Datenaustausch in Europa"), the sets German
 * registers use for names. The patterns are not copied here: they are read from the vendored,
 * checksummed KoSIT XÖV library schema `schemas/xnachweis/xoev/din-norm-91379-datatypes.xsd`
 * (namespace `urn:xoev-de:kosit:xoev:datentyp:din-91379_2022-08`, © KoSIT, CC BY-ND 4.0, the
 * technical representation of DIN 91379:2022-08), the same file the XNachweis schemas import.
 * The public list of the norm's characters and sequences, group by group, is at
 * https://github.com/String-Latin/DIN-91379-Characters-and-Sequences (`latin_list_1.3.txt`):
 * data type A is its groups `bll` (Latin letters, normative, with the defined sequences of a
 * base letter and combining marks) and `bnlreq` (the non-letters names need: space,
 * apostrophe, comma, hyphen, full stop and a few modifier marks).
 *
 * - data type A: names of natural persons (family name, given names);
 * - data type B: names of legal persons, places and addresses.
 *
 * Text is normalised to NFC first, as the norm requires of exchanged data.
 *
 * @example
 * ```ts
 * isDin91379("Łukasz Ðorđević-Müller", "A"); // true
 * isDin91379("Anna 2", "A"); // false: a digit is no letter of a name
 * ```
 *
 * @module
 */
import { XmlDocument, XmlXPath } from "libxml2-wasm";

/** The data types of DIN 91379 that Lotse checks. */
export type Din91379Type = "A" | "B";

const XSD = new URL("../schemas/xnachweis/xoev/din-norm-91379-datatypes.xsd", import.meta.url);
const XS = { xs: "http://www.w3.org/2001/XMLSchema" };

let patterns: Map<Din91379Type, RegExp> | null = null;

/**
 * Turns an XML Schema pattern into an equivalent JavaScript one: the file writes every code
 * point as a character reference, which the XML parser already resolved; what is left is the
 * common subset of both regex dialects (alternation, groups, classes, `*`), plus `\.`.
 */
function fromXsdPattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`, "v");
}

function load(): Map<Din91379Type, RegExp> {
  const doc = XmlDocument.fromBuffer(Deno.readFileSync(XSD));
  const found = new Map<Din91379Type, RegExp>();
  try {
    for (const type of ["A", "B"] as const) {
      const path = XmlXPath.compile(
        `/xs:schema/xs:simpleType[@name="datatype${type}"]/xs:restriction/xs:pattern/@value`,
        XS,
      );
      const value = doc.get(path)?.content;
      path.dispose();
      if (!value) throw new Error(`Cannot read DIN 91379 data type ${type} from "${XSD}"`);
      found.set(type, fromXsdPattern(value));
    }
  } finally {
    doc.dispose();
  }
  return found;
}

/** Whether `text` (normalised to NFC) consists only of DIN 91379 characters of data type `type`. */
export function isDin91379(text: string, type: Din91379Type): boolean {
  patterns ??= load();
  return patterns.get(type)!.test(text.normalize("NFC"));
}
