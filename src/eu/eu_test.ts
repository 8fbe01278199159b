import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { loadSchemaFiles, parseXml, XmlRefusal } from "../xnachweis/mod.ts";
import {
  buildDsdException,
  buildDsdResponse,
  EDM_ERRORS,
  type EdmErrorCode,
  edmErrorResponse,
  edmSchemaErrors,
  EU_SCHEMAS,
  evidenceResponseFrame,
  readQueryRequest,
  REFUSAL_EDM_ERRORS,
  validateEdm,
} from "./mod.ts";
import { REFUSAL_KINDS } from "../refusal.ts";

const enc = new TextEncoder();
const FIXTURES = new URL("../../tests/fixtures/eu-oots/", import.meta.url);

function errorsOf(xml: string | Uint8Array): string[] {
  const doc = parseXml(typeof xml === "string" ? enc.encode(xml) : xml, { maxBytes: 1 << 24 });
  try {
    return edmSchemaErrors(doc);
  } finally {
    doc.dispose();
  }
}

Deno.test("the vendored EU schemas match their SHA256SUMS and load offline", () => {
  const sums = Deno.readTextFileSync(new URL("SHA256SUMS", EU_SCHEMAS.dir)).trim().split("\n");
  assert.equal(sums.length, 11);
  for (const line of sums) {
    const [sum, name] = line.split(/\s+/) as [string, string];
    const bytes = Deno.readFileSync(new URL(name, EU_SCHEMAS.dir));
    assert.equal(createHash("sha256").update(bytes).digest("hex"), sum, name);
  }
  assert.equal(loadSchemaFiles(EU_SCHEMAS.dir, EU_SCHEMAS.local).size, 11);
});

Deno.test("the official EDM and DSD examples validate; a broken one does not", () => {
  for (
    const name of [
      "edm/birth/oots_request.xml",
      "edm/birth/oots_response.xml",
      "edm/secondary-education/oots_request1_preview.xml",
      "edm/secondary-education/oots_request2_after_preview.xml",
      "edm/secondary-education/oots_exception_preview.xml",
      "edm/secondary-education/oots_response.xml",
      "dsd/DSDQueryResponse.xml",
      "dsd/DSDQueryResponseJurisdiction.xml",
      "dsd/DSDQueryErrorResponse.xml",
    ]
  ) {
    assert.deepEqual(errorsOf(Deno.readFileSync(new URL(name, FIXTURES))), [], name);
  }
  const broken = Deno.readTextFileSync(new URL("edm/birth/oots_request.xml", FIXTURES))
    .replace("<query:ResponseOption", "<rim:Bogus/><query:ResponseOption");
  assert.ok(errorsOf(broken).length > 0);
  const doc = parseXml(enc.encode(broken), { maxBytes: 1 << 20 });
  try {
    assert.throws(
      () => validateEdm(doc),
      (e) => e instanceof XmlRefusal && e.kind === "schema-invalid",
    );
  } finally {
    doc.dispose();
  }
});

Deno.test("an EDM 1.0 request is read: requester, provider, procedure, preview, subject", () => {
  const doc = parseXml(
    Deno.readFileSync(new URL("edm/secondary-education/oots_request2_after_preview.xml", FIXTURES)),
    { maxBytes: 1 << 20 },
  );
  try {
    const request = readQueryRequest(doc);
    assert.equal(request.requester.id, "NL22233223");
    assert.equal(request.requester.scheme, "0190");
    assert.equal(request.provider.id, "DE7657587001");
    assert.equal(request.procedure, "Requesting recognition of diploma");
    assert.equal(request.classification, "SecondaryEducationCompletion");
    assert.equal(request.possibilityForPreview, true);
    assert.match(request.previewLocation ?? "", /^https:\/\/preview\.space/);
    assert.deepEqual(request.subject, {
      kind: "natural",
      identifier: "DK/DE/123456",
      familyName: "Smith",
      givenName: "Jack",
      dateOfBirth: "1970-03-01",
    });
  } finally {
    doc.dispose();
  }
});

Deno.test("every refusal kind maps to an EDM error, and every EDM error Lotse builds is valid", async () => {
  for (const kind of REFUSAL_KINDS) assert.ok(REFUSAL_EDM_ERRORS[kind].code in EDM_ERRORS, kind);
  for (const code of Object.keys(EDM_ERRORS) as EdmErrorCode[]) {
    // A detail quoting hostile input: characters XML cannot carry must not break the answer.
    const res = edmErrorResponse(code, "detail <&> \u0000\uFFFF\uD800", {
      status: 400,
      requestId: "urn:uuid:1",
      requester: { id: "NL1", scheme: "0190", name: "N" },
      ...(code === "EDM:ERR:0002" ? { previewLocation: "https://preview.example/1" } : {}),
    });
    const text = await res.text();
    assert.deepEqual(errorsOf(text), [], code);
    assert.ok(text.includes(`code="${code}"`), code);
    assert.ok(text.includes(`xsi:type="${EDM_ERRORS[code].type}"`), code);
  }
});

Deno.test("the evidence frame with one or two registry objects is a valid EDM response", () => {
  const frame = evidenceResponseFrame({
    requestId: "urn:uuid:2",
    requester: { id: "NL1", scheme: "0190", name: "<N>" },
    provider: { id: "p", scheme: "0204", name: "P" },
    classification: "c",
    evidenceTitle: "t",
    subject: { kind: "legal", identifier: "NL/DE/1", legalName: "lotse-evidence-x" },
  });
  const item = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(1000))));
  const one = frame.object("application/json");
  const two = frame.object("application/pdf");
  assert.deepEqual(errorsOf(frame.head + one.head + item + one.tail + frame.tail), []);
  const both = frame.head + one.head + item + one.tail + two.head + item + two.tail + frame.tail;
  assert.deepEqual(errorsOf(both), []);
  const doc = parseXml(enc.encode(both), { maxBytes: 1 << 20 });
  try {
    const ids = doc.find("//*[local-name()='RegistryObject']/@id").map((n) => n.content);
    assert.equal(ids.length, 2);
    assert.notEqual(ids[0], ids[1], "each registry object has its own id");
    assert.deepEqual(
      doc.find("//*[local-name()='Distribution']/*[local-name()='Format']").map((n) => n.content),
      ["application/json", "application/pdf"],
    );
  } finally {
    doc.dispose();
  }
});

Deno.test("the DSD answer and exception are valid", () => {
  assert.deepEqual(
    errorsOf(buildDsdResponse([{
      provider: { id: "p", scheme: "0204", name: "P" },
      classification: "c",
      evidenceTitle: "t",
      jurisdiction: { level1: "DE", level2: "DE-08111000" },
    }])),
    [],
  );
  assert.deepEqual(
    errorsOf(buildDsdException({
      code: "DSD:ERR:0005",
      type: "rs:ObjectNotFoundExceptionType",
      message: "m",
      detail: "d",
      determination: { classification: "c", evidenceTitle: "t", level: "l", context: "x" },
    })),
    [],
  );
});

Deno.test("an EDM 2.0-shaped request (procedure code, 1.2/2.0 elements) is accepted and read", () => {
  const xml = Deno.readTextFileSync(
    new URL("../../demo/eu/gewerbeanmeldung.edm.xml", import.meta.url),
  )
    .replace("oots-edm:v1.0", "oots-edm:v2.0")
    .replace(
      /<rim:Slot name="Procedure">[\s\S]*?<\/rim:Slot>/,
      `<rim:Slot name="Procedure"><rim:SlotValue xsi:type="rim:StringValueType">` +
        `<rim:Value>T3</rim:Value></rim:SlotValue></rim:Slot>`,
    )
    .replace(
      "<sdg:DateOfBirth>1985-04-12</sdg:DateOfBirth>",
      "<sdg:DateOfBirth>1985-04-12</sdg:DateOfBirth><sdg:Nationality>NL</sdg:Nationality>",
    )
    .replace(
      '<sdg:Title lang="en">Extract from the trade register</sdg:Title>',
      '<sdg:Title lang="en">Extract from the trade register</sdg:Title>' +
        '<sdg:Description lang="en">Gewerberegisterauszug</sdg:Description>',
    );
  const doc = parseXml(enc.encode(xml), { maxBytes: 1 << 20 });
  try {
    assert.throws(() => validateEdm(doc), XmlRefusal, "the 1.0-era schemas alone refuse it");
    validateEdm(doc, { acceptLater: true });
    const request = readQueryRequest(doc);
    assert.equal(request.specification, "oots-edm:v2.0");
    assert.equal(request.procedure, "T3");
    assert.equal(request.subject.kind, "natural");
  } finally {
    doc.dispose();
  }
});
