/**
 * Fuzzing (R1) of the EU face: seeded mutations of real EDM requests (the Gewerbeanmeldung pilot
 * and the official examples) and random DSD queries, over real sockets against a Lotse whose
 * registers speak XNachweis. Every answer must be a schema-valid EDM document, a 4xx for
 * anything refused, never a 5xx, never a stack trace. `LOTSE_FUZZ_SEED` and `LOTSE_FUZZ_EU_N`
 * reproduce or widen a run.
 */
import assert from "node:assert/strict";
import { edmSchemaErrors } from "../src/eu/mod.ts";
import { parseXml } from "../src/xnachweis/mod.ts";
import { Rng } from "../tools/rng.ts";
import { bearer } from "./_app.ts";
import { startXmlLotse } from "./_xnachweis.ts";

const SEED = Number(Deno.env.get("LOTSE_FUZZ_SEED") ?? 20261129);
const N = Number(Deno.env.get("LOTSE_FUZZ_EU_N") ?? 600);
const enc = new TextEncoder();
const SOURCES = [
  new URL("../demo/eu/gewerbeanmeldung.edm.xml", import.meta.url),
  new URL("./fixtures/eu-oots/edm/birth/oots_request.xml", import.meta.url),
  new URL("./fixtures/eu-oots/edm/secondary-education/oots_request1_preview.xml", import.meta.url),
].map((url) => Deno.readTextFileSync(url));

const NASTY = [
  "",
  "\u0000",
  "&amp;",
  "<",
  "]]>",
  "&#0;",
  "&x;",
  "\uFFFF",
  "\uD800",
  "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
  "x".repeat(70_000),
  '"><script>',
  "../../etc/passwd",
  "DE/DE/123",
  "urn:uuid:",
  "EDM:ERR:0002",
];

/** One mutation of an EDM request's text. */
function mutate(rng: Rng, xml: string): string {
  const pick = <T>(items: readonly T[]): T => items[rng.int(items.length)]!;
  switch (rng.int(12)) {
    case 0: // truncate
      return xml.slice(0, rng.int(xml.length));
    case 1: { // replace an element's text
      const texts = [...xml.matchAll(/>([^<>]+)</g)];
      if (texts.length === 0) return xml;
      const m = pick(texts);
      return xml.slice(0, m.index! + 1) + pick(NASTY) + xml.slice(m.index! + 1 + m[1]!.length);
    }
    case 2: { // drop a slot
      const slots = [...xml.matchAll(/<rim:Slot name="[^"]+">[\s\S]*?<\/rim:Slot>/g)];
      if (slots.length === 0) return xml;
      const m = pick(slots);
      return xml.slice(0, m.index!) + xml.slice(m.index! + m[0].length);
    }
    case 3: { // duplicate a slot
      const slots = [...xml.matchAll(/<rim:Slot name="[^"]+">[\s\S]*?<\/rim:Slot>/g)];
      if (slots.length === 0) return xml;
      const m = pick(slots);
      return xml.slice(0, m.index!) + m[0] + xml.slice(m.index!);
    }
    case 4: // a DTD, an entity
      return xml.replace(
        /^(<\?xml[^>]*\?>)?/,
        `$1<!DOCTYPE q [<!ENTITY e SYSTEM "file:///etc/passwd">]>`,
      );
    case 5: { // flip bytes
      const chars = [...xml];
      for (let i = rng.range(1, 8); i > 0; i--) {
        chars[rng.int(chars.length)] = String.fromCharCode(rng.int(0x250));
      }
      return chars.join("");
    }
    case 6: // another namespace
      return xml.replace("urn:oasis:names:tc:ebxml-regrep:xsd:query:4.0", pick(NASTY));
    case 7: { // change an attribute value
      const attrs = [...xml.matchAll(/ (\w+(?::\w+)?)="([^"]*)"/g)];
      if (attrs.length === 0) return xml;
      const m = pick(attrs);
      const value = pick(NASTY).replaceAll('"', "&quot;").replaceAll("<", "&lt;");
      return xml.slice(0, m.index!) + ` ${m[1]}="${value}"` + xml.slice(m.index! + m[0].length);
    }
    case 8: // a second subject
      return xml.replace(
        "</query:Query>",
        `<rim:Slot name="LegalPerson"><rim:SlotValue xsi:type="rim:AnyValueType">` +
          `<sdg:LegalPerson><sdg:LegalName>X</sdg:LegalName></sdg:LegalPerson>` +
          `</rim:SlotValue></rim:Slot></query:Query>`,
      );
    case 9: // deep nesting
      return xml.replace(
        "</query:Query>",
        "<a>".repeat(rng.range(10, 3000)) + "</a>".repeat(rng.range(10, 3000)) + "</query:Query>",
      );
    case 10: // not UTF-8 declared
      return xml.replace('encoding="UTF-8"', `encoding="${pick(["ISO-8859-1", "UTF-16", "x"])}"`);
    default: // swap the root
      return xml.replace(/query:QueryRequest/g, pick(["query:QueryResponse", "rs:Exception", "x"]));
  }
}

function assertEdm(status: number, text: string, what: string) {
  assert.ok(status < 500, `${what}: ${status} ${text.slice(0, 300)}`);
  assert.ok(
    !/\bat \S+\.ts:\d+|Error: |stack/i.test(text),
    `${what}: a trace? ${text.slice(0, 300)}`,
  );
  const doc = parseXml(enc.encode(text), { maxBytes: 1 << 26 });
  try {
    assert.equal(doc.root.name, "QueryResponse", what);
    assert.deepEqual(edmSchemaErrors(doc), [], `${what}: ${text.slice(0, 300)}`);
    if (status !== 200) {
      assert.match(
        doc.get("//*[local-name()='Exception']/@code")?.content ?? "",
        /^(EDM|DSD):ERR:000[1-8]$/,
        what,
      );
    }
  } finally {
    doc.dispose();
  }
}

Deno.test({
  name: `${N} mutated EDM requests and DSD queries: schema-valid EDM answers, 4xx, never a 5xx`,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const rng = new Rng(SEED);
    const { lotse, close } = await startXmlLotse();
    try {
      const token = await lotse.token("eu-access-point");
      const statuses = new Map<number, number>();
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < N; i = next++) {
          let body = rng.pick(SOURCES);
          for (let m = rng.range(1, 3); m > 0; m--) body = mutate(rng, body);
          const bytes = rng.chance(0.05)
            ? enc.encode(body).slice(0, rng.int(200))
            : enc.encode(body);
          const res = await lotse.fetch("/eu/v1/evidence-requests", {
            method: "POST",
            headers: bearer(token, { "content-type": rng.pick(["application/xml", "text/xml"]) }),
            body: bytes,
          });
          const text = await res.text();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          assertEdm(res.status, text, `request ${i} (seed ${SEED})`);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      // Refusals dominate, and the unchanged requests still get through.
      assert.ok((statuses.get(400) ?? 0) > N / 4, JSON.stringify([...statuses]));

      const params = [
        "queryId",
        "evidence-type-classification",
        "country-code",
        "jurisdiction-admin-l2",
        "jurisdiction-admin-l3",
      ];
      for (let i = 0; i < N / 3; i++) {
        const query = new URLSearchParams();
        for (const name of params) {
          if (rng.chance(0.7)) {
            query.set(
              name,
              rng.pick([
                ...NASTY.filter((s) => s.length < 1000),
                "urn:fdc:oots:dsd:ebxml-regrep:queries:dataservices-by-evidencetype-and-jurisdiction",
                "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/lotse-demo-gewerberegisterauszug",
                "DE",
                "DE1",
                "08111",
                "08111000",
                "99",
              ]),
            );
          }
        }
        const res = await lotse.fetch(`/eu/v1/dsd/rest/search?${query}`, {
          headers: bearer(token),
        });
        assertEdm(res.status, await res.text(), `DSD query ${query} (seed ${SEED})`);
      }
    } finally {
      await close();
    }
  },
});
