/**
 * A 100 MiB `DE.EvidenceResponse.0102` (a large base64 evidence) streams from the register
 * through the XNachweis face to the consumer with flat memory: Lotse never buffers the
 * answer. Runs alone (see the `test` task), since it measures this process's RSS: Lotse,
 * register and consumer all live in it, so the bound covers all three.
 */
import assert from "node:assert/strict";
import { buildEvidenceResponse } from "../src/xnachweis/mod.ts";
import { PILOTS, postXml, startXmlLotse } from "./_xnachweis.ts";

const MIB = 1024 * 1024;
const CHUNK = 64 * 1024;

Deno.test({
  name: "a 100 MiB 0102 streams through the XNachweis face with flat memory",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { lotse, register, close } = await startXmlLotse();
    try {
      const pilot = PILOTS.bewohnerparkausweis;
      // A real 0102 around a marker, split there: the register streams the head, then the
      // evidence as base64 chunk by chunk, then the tail.
      const marker = "TE9UU0VNQVJL"; // base64 of "LOTSEMARK"
      const xml = buildEvidenceResponse({
        requestId: `urn:uuid:${crypto.randomUUID()}`,
        provider: { id: pilot.provider, name: "KBA", classification: "EP" },
        requesters: [{ id: pilot.consumer, name: "Stuttgart", classification: "ER" }],
        classification: "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/x",
        evidenceTitle: "Fahrzeugzulassung",
        subject: { kind: "legal", legalName: "Muster GmbH" },
        evidence: { bytes: new TextEncoder().encode("LOTSEMARK") },
      });
      const [head, tail] = xml.split(marker) as [string, string];
      const enc = new TextEncoder();
      const chunk = enc.encode("A".repeat(CHUNK));
      const chunks = (100 * MIB) / CHUNK;
      register.handler = () => {
        let sent = -1;
        return new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              if (sent === -1) controller.enqueue(enc.encode(head));
              else if (sent < chunks) controller.enqueue(chunk);
              else {
                controller.enqueue(enc.encode(tail));
                controller.close();
              }
              sent++;
            },
          }),
          { headers: { "content-type": "application/xml" } },
        );
      };
      const message = await Deno.readTextFile(pilot.file);
      const token = await lotse.token(pilot.consumer);
      const headers = { "lotse-purpose": pilot.purpose, "lotse-legal-basis": pilot.legalBasis };

      const fetchAll = async (sample?: (rss: number) => void) => {
        const res = await postXml(lotse, token, message, headers);
        assert.equal(res.status, 200);
        let bytes = 0;
        let first = "";
        let last = new Uint8Array(0);
        for await (const piece of res.body!) {
          if (first.length < 200) first += new TextDecoder().decode(piece.slice(0, 200));
          bytes += piece.byteLength;
          last = piece;
          sample?.(Deno.memoryUsage().rss);
        }
        return { bytes, first, last: new TextDecoder().decode(last) };
      };
      await fetchAll(); // warm-up: code paths, pools, JIT
      const before = Deno.memoryUsage().rss;
      let peak = before;
      const result = await fetchAll((rss) => peak = Math.max(peak, rss));
      const expected = enc.encode(head).byteLength + chunks * CHUNK + enc.encode(tail).byteLength;
      assert.equal(result.bytes, expected);
      assert.ok(result.bytes >= 100 * MIB);
      assert.ok(result.first.startsWith(head.slice(0, 100)));
      assert.ok(result.last.endsWith(tail.slice(-50)));
      const growth = (peak - before) / MIB;
      console.log(`RSS before ${(before / MIB).toFixed(1)} MiB, growth ${growth.toFixed(1)} MiB`);
      assert.ok(growth < 64, `RSS grew by ${growth.toFixed(1)} MiB`);
    } finally {
      await close();
    }
  },
});
