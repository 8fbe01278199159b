import assert from "node:assert/strict";
import { Rng } from "../../tools/rng.ts";
import { buildErrorResponse, buildEvidenceResponse } from "../xnachweis/mod.ts";
import {
  nationalEvidence,
  NationalEvidenceError,
  type NationalEvidenceEvent,
} from "./national_evidence.ts";

const enc = new TextEncoder();

function response0302(evidence: { bytes: Uint8Array } | { availableAt: string }): string {
  return buildEvidenceResponse({
    type: "DE.EvidenceResponse.0302",
    requestId: "urn:uuid:8a6f3c52-1b7e-4e0f-9a55-2f1d6f0c7a11",
    provider: { id: "p", name: "P", classification: "EP" },
    requesters: [{ id: "gw", name: "Gateway", classification: "IP" }],
    classification: "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/x",
    evidenceTitle: "Gewerberegisterauszug",
    subject: {
      kind: "natural",
      familyName: "Jansen",
      givenName: "Anna",
      dateOfBirth: "1985-04-12",
    },
    evidence,
  });
}

/** The text cut into pieces of 1 to `max` bytes, at seeded random places. */
function pieces(text: string, seed: number, max: number): Uint8Array[] {
  const bytes = enc.encode(text);
  const rng = new Rng(seed);
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = 1 + rng.int(max);
    out.push(bytes.slice(at, at + n));
    at += n;
  }
  return out;
}

async function events(chunks: Uint8Array[]): Promise<NationalEvidenceEvent[]> {
  const out: NationalEvidenceEvent[] = [];
  for await (const event of nationalEvidence(ReadableStream.from(chunks))) out.push(event);
  return out;
}

/** The documents the events carry, decoded. */
function documents(found: NationalEvidenceEvent[]): { format: string; bytes: Uint8Array }[] {
  const docs: { format: string; base64: string }[] = [];
  for (const event of found) {
    if (event.type === "item") docs.push({ format: event.format, base64: "" });
    if (event.type === "data") docs.at(-1)!.base64 += event.base64;
  }
  return docs.map((d) => ({
    format: d.format,
    bytes: Uint8Array.from(atob(d.base64), (c) => c.charCodeAt(0)),
  }));
}

Deno.test("the evidence of a 0302 comes out whole, wherever the stream is cut", async () => {
  const evidence = crypto.getRandomValues(new Uint8Array(50_000));
  const xml = response0302({ bytes: evidence });
  for (const [seed, max] of [[1, 1], [2, 7], [3, 300], [4, 70_000]] as const) {
    const found = await events(pieces(xml, seed, max));
    const docs = documents(found);
    assert.equal(docs.length, 1, `seed ${seed}`);
    assert.equal(docs[0]!.format, "application/json");
    assert.deepEqual(docs[0]!.bytes, evidence, `seed ${seed}`);
    assert.equal(found.at(-1)!.type, "item-end");
  }
});

Deno.test("a second RegistryObjectList is a second document with its own format", async () => {
  const xml = response0302({ bytes: enc.encode('{"a":1}') });
  const list =
    /<([\w-]+:)?RegistryObjectList>[\s\S]*<\/([\w-]+:)?RegistryObjectList>/.exec(xml)![0];
  const second = list.replace(">application/json<", ">application/pdf<")
    .replace(btoa('{"a":1}'), btoa("%PDF-1.7"));
  const docs = documents(await events([enc.encode(xml.replace(list, list + second))]));
  assert.deepEqual(docs.map((d) => d.format), ["application/json", "application/pdf"]);
  assert.equal(new TextDecoder().decode(docs[1]!.bytes), "%PDF-1.7");
});

Deno.test("a deferred 0302 is one event with the announced time", async () => {
  const xml = response0302({ availableAt: "2030-01-01T08:00:00Z" });
  assert.deepEqual(await events(pieces(xml, 5, 13)), [
    { type: "deferred", availableAt: "2030-01-01T08:00:00Z" },
  ]);
});

Deno.test("what is not a usable 0302 is refused with a reason", async () => {
  const good = response0302({ bytes: enc.encode('{"a":1}') });
  const item = btoa('{"a":1}');
  const cases: [string, string, RegExp][] = [
    ["not XML", "this is not xml", /not well-formed/],
    ["HTML", "<html><body>Fehler</body></html>", /Expected a DE.EvidenceResponse.0302/],
    [
      "a 0303",
      buildErrorResponse({
        type: "DE.EvidenceErrorResponse.0303",
        code: "x",
        detail: "d",
        requesters: [{ id: "gw", name: "G", classification: "IP" }],
        errorProvider: { id: "p", name: "P", classification: "EP" },
      }),
      /Expected a DE.EvidenceResponse.0302/,
    ],
    ["cut short", good.slice(0, good.indexOf(item) + 4), /ends inside an evidence/],
    ["cut after", good.slice(0, good.length - 30), /not well-formed|no evidence/],
    ["markup in the evidence", good.replace(item, `${item}<b>x</b>`), /not plain base64/],
    ["a comment in the evidence", good.replace(item, `e30<!-- -->=`), /not plain base64/],
    ["an entity in the evidence", good.replace(item, `${item}&amp;`), /not plain base64/],
    [
      "no evidence",
      good.replace(/<([\w-]+:)?RegistryObjectList>[\s\S]*<\/([\w-]+:)?RegistryObjectList>/, ""),
      /no evidence/,
    ],
    ["empty evidence", good.replace(item, ""), /empty evidence/],
    ["a DTD", `<!DOCTYPE x [<!ENTITY e "e">]>${good.slice(good.indexOf("<", 1))}`, /document type/],
  ];
  for (const [what, xml, reason] of cases) {
    await assert.rejects(
      () => events([enc.encode(xml)]),
      (error: unknown) => error instanceof NationalEvidenceError && reason.test(error.message),
      what,
    );
  }
  await assert.rejects(
    () => events([new Uint8Array([0x3c, 0xff, 0xfe])]),
    (error: unknown) => error instanceof NationalEvidenceError && /not UTF-8/.test(error.message),
  );
  const huge = good.replace("<", `<!--${"x".repeat(2 * 1024 * 1024)}--><`);
  await assert.rejects(
    () => events(pieces(huge, 9, 65_536)),
    (error: unknown) => error instanceof NationalEvidenceError && /markup/.test(error.message),
  );
});
