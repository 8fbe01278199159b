/**
 * What the XNachweis face spends on one message besides what the JSON face does (P11), on the
 * Bewohnerparkausweis pilot's 0101 (`demo/xnachweis/bewohnerparkausweis.0101.xml`): each step
 * of the face alone, the whole XML path of a request, and the floor — libxml2's own work in
 * WebAssembly (parse with the shared context, XSD validation, Exclusive C14N) with nothing of
 * Lotse around it.
 *
 * Run: `deno bench -A src/xnachweis/xnachweis_bench.ts`
 *
 * @module
 */
import { XmlC14NMode } from "libxml2-wasm";
import { outputHandler, parseDocument } from "./_libxml.ts";
import { PARSE_OPTIONS } from "./parse.ts";
import {
  canonicalRequest,
  parseXml,
  readEvidenceRequest,
  validateXml,
  xnachweisValidator,
} from "./mod.ts";

const bytes = Deno.readFileSync(
  new URL("../../demo/xnachweis/bewohnerparkausweis.0101.xml", import.meta.url),
);
const MAX = 1 << 20;
const doc = parseXml(bytes, { maxBytes: MAX });
const validator = xnachweisValidator();
// A sealed token's size (ES256 evidence token).
const token = "eyJ" + "x".repeat(700);
const discard = outputHandler(() => {});

Deno.bench("parseXml()", { group: "steps" }, () => {
  parseXml(bytes, { maxBytes: MAX }).dispose();
});
Deno.bench("validateXml()", { group: "steps" }, () => {
  validateXml(doc);
});
Deno.bench("readEvidenceRequest()", { group: "steps" }, () => {
  readEvidenceRequest(doc);
});
Deno.bench("canonicalRequest() + seal()", { group: "steps" }, () => {
  canonicalRequest(doc).seal(token);
});

Deno.bench("the face's XML work on one message", { group: "whole", baseline: true }, () => {
  const message = parseXml(bytes, { maxBytes: MAX });
  try {
    validateXml(message);
    readEvidenceRequest(message);
    canonicalRequest(message).seal(token);
  } finally {
    message.dispose();
  }
});
/** libxml2 alone: the pilot parsed, `fn` run on it, the document freed. */
function parsed(fn: (message: ReturnType<typeof parseDocument>) => void): () => void {
  return () => {
    const message = parseDocument(bytes, PARSE_OPTIONS);
    try {
      fn(message);
    } finally {
      message.dispose();
    }
  };
}

Deno.bench(
  "floor: libxml2 parse + XSD validation + Exclusive C14N",
  { group: "whole" },
  parsed((message) => {
    validator.validate(message);
    message.canonicalize(discard, { mode: XmlC14NMode.XML_C14N_EXCLUSIVE_1_0 });
  }),
);
Deno.bench(
  "floor: libxml2 parse + XSD validation",
  { group: "whole" },
  parsed((message) => validator.validate(message)),
);
