import assert from "node:assert/strict";
import { CONTEXT_BYTES, nodePointer, parserContexts, TreeReader } from "./_libxml.ts";
import { hasStartTag } from "./deferred.ts";
import {
  CLASSIFICATION,
  parseTest,
  provider,
  requester,
  subject,
  testRequest,
} from "./_testing.ts";
import {
  buildEvidenceResponse,
  canonicalRequest,
  deferredWatch,
  NS,
  readEvidenceRequest,
  requestDigest,
  rootName,
  sealedMessage,
  validateXml,
  XmlRefusal,
} from "./mod.ts";

const enc = new TextEncoder();
const REQUEST = testRequest();
const parse = parseTest;

Deno.test("the shared parser context: replaced after CONTEXT_BYTES, earlier documents stay intact, errors belong to their own parse", () => {
  const kept = parse(REQUEST);
  try {
    const before = readEvidenceRequest(kept);
    const digest = requestDigest(kept);
    const contexts = parserContexts();
    // A large valid document, parsed until the context must have been replaced.
    const big = enc.encode(`<a>${"<b>x</b>".repeat(CONTEXT_BYTES / 16)}</a>`);
    for (let parsed = 0; parsed <= CONTEXT_BYTES; parsed += big.byteLength) parse(big).dispose();
    assert.ok(parserContexts() > contexts, "the context was replaced");
    // The document parsed with the old context is still whole.
    assert.deepEqual(readEvidenceRequest(kept), before);
    assert.equal(requestDigest(kept), digest);
    // A malformed message reports its own error; the next one parses without stale errors.
    assert.throws(() => parse("<a><b></a>"), (e) => e instanceof XmlRefusal && /b/.test(e.message));
    const again = parse(REQUEST);
    try {
      validateXml(again);
      assert.deepEqual(readEvidenceRequest(again), before);
    } finally {
      again.dispose();
    }
  } finally {
    kept.dispose();
  }
});

Deno.test("reading walks by namespace and local name: other prefixes read the same, a foreign namespace is not read", () => {
  const renamed = REQUEST.replaceAll("xn-bk:", "b:").replaceAll("xmlns:xn-bk=", "xmlns:b=")
    .replaceAll("xn-de:", "d:").replaceAll("xmlns:xn-de=", "xmlns:d=");
  assert.ok(!renamed.includes("xn-de:") && !renamed.includes("xn-bk:"));
  const doc = parse(REQUEST);
  const other = parse(renamed);
  try {
    validateXml(other);
    assert.deepEqual(readEvidenceRequest(other), readEvidenceRequest(doc));
    // Prefixes are part of the canonical form (Exclusive C14N keeps them).
    assert.notEqual(requestDigest(other), requestDigest(doc));
    const tree = new TreeReader();
    const root = nodePointer(other.root);
    assert.notEqual(tree.child(root, NS["xn-de"], "EvidenceProvider"), 0);
    assert.equal(tree.child(root, NS["xn-bk"], "EvidenceProvider"), 0);
    assert.equal(tree.child(root, null, "EvidenceProvider"), 0);
    assert.equal(tree.children(root, NS["xn-de"], "EvidenceRequester").length, 1);
    assert.equal(
      tree.text(tree.path(root, [NS["xn-de"], "EvidenceProvider"], [NS["xn-bk"], "Identifier"])),
      provider.id,
    );
  } finally {
    doc.dispose();
    other.dispose();
  }
});

Deno.test("attributes and the root's name by pointer: only an attribute in no namespace, its value as it is", () => {
  const doc = parse(
    `<r:Root xmlns:r="urn:r" xmlns:o="urn:o" o:id="other" id=" a&amp;b " empty=""><c/></r:Root>`,
  );
  const request = parse(REQUEST);
  try {
    const tree = new TreeReader();
    const root = nodePointer(doc.root);
    assert.equal(tree.attribute(root, "id"), " a&b ");
    assert.equal(tree.attribute(root, "empty"), "");
    assert.equal(tree.attribute(root, "missing"), null);
    assert.equal(tree.attribute(tree.child(root, null, "c"), "id"), null);
    assert.equal(tree.attribute(0, "id"), null);
    assert.equal(rootName(doc), "Root");
    assert.equal(rootName(request), "DE.EvidenceRequest.0101");
    // The message id as libxml2-wasm's own attribute reading gives it.
    assert.equal(readEvidenceRequest(request).id, request.root.attr("id")?.value.trim());
    assert.match(readEvidenceRequest(request).id, /^urn:uuid:/);
    // Another message is refused by name before anything is read.
    assert.throws(() => readEvidenceRequest(doc), /Expected DE.EvidenceRequest.0101, got "Root"/);
  } finally {
    doc.dispose();
    request.dispose();
  }
});

Deno.test("sealedMessage() carries the token, keeps the request hash, and leaves the rest as it was", async () => {
  const doc = parse(REQUEST);
  try {
    const digest = requestDigest(doc);
    const sealed = new Uint8Array(await new Response(sealedMessage(doc, "x.y.z")).arrayBuffer());
    assert.equal(requestDigest(doc), digest, "the document's hash is unchanged");
    const forwarded = parse(sealed);
    try {
      validateXml(forwarded);
      const read = readEvidenceRequest(forwarded);
      assert.equal(read.issuedToken, "x.y.z");
      assert.deepEqual({ ...read, issuedToken: "" }, readEvidenceRequest(parse(REQUEST)));
      assert.equal(requestDigest(forwarded), digest);
    } finally {
      forwarded.dispose();
    }
    // Sealing twice replaces the token rather than appending to it.
    const again = new TextDecoder().decode(
      await new Response(sealedMessage(doc, "a.b.c")).arrayBuffer(),
    );
    assert.ok(again.includes(">a.b.c<") && !again.includes("x.y.z"));
  } finally {
    doc.dispose();
  }
});

Deno.test("hasStartTag() finds start tags under any prefix, never text, end tags or longer names", () => {
  assert.ok(hasStartTag("<a><ResponseAvailableDateTime>", "ResponseAvailableDateTime"));
  assert.ok(hasStartTag("<x:RegistryObjectList/>", "RegistryObjectList"));
  assert.ok(hasStartTag("<xn-de.v2:RegistryObjectList\n>", "RegistryObjectList"));
  assert.ok(!hasStartTag("<a>RegistryObjectList </a>", "RegistryObjectList"));
  assert.ok(!hasStartTag("</x:RegistryObjectList>", "RegistryObjectList"));
  assert.ok(!hasStartTag("<x:RegistryObjectListing>", "RegistryObjectList"));
  assert.ok(!hasStartTag("<x:MyRegistryObjectList>", "RegistryObjectList"));
  assert.ok(!hasStartTag("<9x:RegistryObjectList>", "RegistryObjectList"));
  assert.ok(!hasStartTag("<x:RegistryObjectList", "RegistryObjectList"), "not yet complete");
});

/** `bytes` cut into chunks of `size` bytes. */
function chunks(bytes: Uint8Array, size: number): Uint8Array[] {
  const cut: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; at += size) cut.push(bytes.slice(at, at + size));
  return cut;
}

Deno.test("deferredWatch() tells a deferred 0102 in any chunking, and nothing from a head cut short", () => {
  const common = {
    requestId: "urn:uuid:00000000-0000-4000-8000-000000000000",
    provider,
    requesters: [requester],
    classification: CLASSIFICATION,
    evidenceTitle: "Fahrzeugzulassung",
    subject,
  };
  const deferred = enc.encode(
    buildEvidenceResponse({ ...common, evidence: { availableAt: "2026-12-01T00:00:00Z" } }),
  );
  const evidence = enc.encode(
    buildEvidenceResponse({ ...common, evidence: { bytes: enc.encode("{}") } }),
  );
  for (const size of [1, 7, 100, 1 << 20]) {
    for (const [bytes, outcome] of [[deferred, "deferred"], [evidence, null]] as const) {
      const watch = deferredWatch();
      for (const chunk of chunks(bytes, size)) watch.see(chunk);
      assert.equal(watch.outcome(), outcome, `chunks of ${size}`);
    }
  }
  // The element's name cut off at the end of what arrived is no deferred answer.
  const text = new TextDecoder().decode(deferred);
  const watch = deferredWatch();
  watch.see(enc.encode(text.slice(0, text.indexOf("ResponseAvailableDateTime") + 10)));
  assert.equal(watch.outcome(), null);
});

Deno.test("deferredWatch() reads the head byte by byte: multi-byte characters next to the names and cut across chunks change nothing", () => {
  const response = (evidence: Parameters<typeof buildEvidenceResponse>[0]["evidence"]) =>
    buildEvidenceResponse({
      requestId: "urn:uuid:00000000-0000-4000-8000-000000000000",
      provider,
      requesters: [requester],
      classification: CLASSIFICATION,
      evidenceTitle: "Fahrzeugzulassung für Ärztinnen — 𝄞",
      subject: { ...subject, familyName: "Müller-Łukasiewicz" },
      evidence,
    });
  const deferredText = response({ availableAt: "2026-12-01T00:00:00Z" });
  const evidenceText = response({ bytes: enc.encode("{}") });
  // A comment of multi-byte characters right before each element the watch looks for.
  const marked = (text: string, local: string) =>
    text.replace(new RegExp(`<([\\w.-]+:)?${local}[\\s>/]`), (tag) => `<!--Ä€𝄞\u00a0-->${tag}`);
  const cases = [
    [marked(deferredText, "ResponseAvailableDateTime"), "deferred"],
    [marked(evidenceText, "RegistryObjectList"), null],
    // A name followed by a multi-byte character is another name (UTF-8 lead bytes are no name
    // end), so the watch goes on to the real element.
    [deferredText.replace("<", "<x:ResponseAvailableDateTimeÄ/><"), "deferred"],
    [evidenceText.replace("<", "<x:ResponseAvailableDateTimeÄ/><"), null],
    [evidenceText.replace("<", "<x:ResponseAvailableDateTime\u00a0/><"), null],
  ] as const;
  for (const [text, outcome] of cases) {
    assert.ok([...text.slice(0, text.indexOf("RegistryObjectList"))].some((c) => c > "\x7f"));
    for (const size of [1, 2, 3, 5, 1 << 20]) {
      const watch = deferredWatch();
      for (const chunk of chunks(enc.encode(text), size)) watch.see(chunk);
      assert.equal(watch.outcome(), outcome, `chunks of ${size}`);
    }
  }
});

async function bodyText(body: Uint8Array<ArrayBuffer>): Promise<string> {
  return await new Response(body).text();
}

Deno.test("canonicalRequest(): the request hash of requestDigest(), and the canonical form forwarded with the token", async () => {
  const empty = "<xn-de:IssuedToken></xn-de:IssuedToken>";
  assert.ok(REQUEST.includes(empty));
  const variants = [
    REQUEST,
    REQUEST.replace(empty, "<xn-de:IssuedToken/>"),
    REQUEST.replace(empty, "<xn-de:IssuedToken> a.b.c </xn-de:IssuedToken>"),
    REQUEST.replace(/^<\?xml[^>]*>/, "").replace("<xn-bk:", "\n  <xn-bk:"),
  ];
  for (const text of variants) {
    const doc = parse(text);
    try {
      const before = doc.toString({ format: false });
      const canonical = canonicalRequest(doc);
      assert.equal(canonical.digest, requestDigest(doc));
      assert.equal(doc.toString({ format: false }), before, "the document is left as it was");
      for (const token of ["x.y.z", "a&b<c>d"]) {
        const sent = await bodyText(canonical.seal(token));
        assert.ok(!sent.startsWith("<?xml"), "the canonical form, no declaration");
        const forwarded = parse(sent);
        try {
          validateXml(forwarded);
          assert.equal(readEvidenceRequest(forwarded).issuedToken, token);
          assert.equal(requestDigest(forwarded), canonical.digest);
        } finally {
          forwarded.dispose();
        }
      }
    } finally {
      doc.dispose();
    }
  }
});

Deno.test("canonicalRequest(): a message with qualified names inside values is serialised from the tree", async () => {
  const XSI = "http://www.w3.org/2001/XMLSchema-instance";
  // xsi:type names a type by a prefix that no element or attribute name of its own uses.
  const typed = REQUEST.replace(
    `xmlns:xn-bk="${NS["xn-bk"]}"`,
    `xmlns:xn-bk="${NS["xn-bk"]}" xmlns:xsi="${XSI}" xmlns:t="${NS["xn-bdt"]}"`,
  ).replace("<xn-bk:FamilyName>", '<xn-bk:FamilyName xsi:type="t:String.Latin">');
  const doc = parse(typed);
  try {
    const canonical = canonicalRequest(doc);
    assert.equal(canonical.digest, requestDigest(doc));
    const sent = await bodyText(canonical.seal("x.y.z"));
    assert.ok(sent.startsWith("<?xml"), "serialised from the tree");
    assert.ok(sent.includes(`xmlns:t="${NS["xn-bdt"]}"`), "the declaration xsi:type needs stays");
    const forwarded = parse(sent);
    try {
      assert.equal(readEvidenceRequest(forwarded).issuedToken, "x.y.z");
      assert.equal(requestDigest(forwarded), canonical.digest);
    } finally {
      forwarded.dispose();
    }
  } finally {
    doc.dispose();
  }
});
