import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { KeyRing, memoryKeyStore, sealEvidenceToken } from "../../crypto/mod.ts";
import { PROBLEM_TYPES, type ProblemType } from "../problem.ts";
import { loadSchemaFiles, SCHEMA_DIR } from "./_schemas.ts";
import {
  CLASSIFICATION,
  parseTest,
  provider,
  requester,
  subject,
  testRequest,
} from "./_testing.ts";
import {
  buildErrorResponse,
  buildEvidenceResponse,
  checkEvidenceRequest,
  errorResponse,
  parseXml,
  readEvidenceRequest,
  requestDigest,
  schemaErrors,
  setIssuedToken,
  validateXml,
  XmlRefusal,
} from "./mod.ts";

const enc = new TextEncoder();
const request = testRequest;

function errorsOf(xml: string | Uint8Array): string[] {
  const doc = parseTest(xml);
  try {
    return schemaErrors(doc);
  } finally {
    doc.dispose();
  }
}

function refusalOf(bytes: Uint8Array, maxBytes = 1 << 20): XmlRefusal {
  try {
    const doc = parseXml(bytes, { maxBytes });
    try {
      validateXml(doc);
    } finally {
      doc.dispose();
    }
  } catch (error) {
    assert.ok(error instanceof XmlRefusal, String(error));
    return error;
  }
  assert.fail("The message was accepted");
}

Deno.test("the vendored schemas match their SHA256SUMS and the published copies byte for byte", () => {
  const sums = Deno.readTextFileSync(new URL("SHA256SUMS", SCHEMA_DIR)).trim().split("\n");
  assert.equal(sums.length, 9);
  for (const line of sums) {
    const [sum, name] = line.split(/\s+/) as [string, string];
    const bytes = Deno.readFileSync(new URL(name, SCHEMA_DIR));
    assert.equal(createHash("sha256").update(bytes).digest("hex"), sum, name);
  }
  assert.equal(loadSchemaFiles().size, 9);
});

Deno.test("built 0101, 0102 (evidence and deferred) are valid XNachweis 1.2.0", () => {
  assert.deepEqual(errorsOf(request()), []);
  const common = {
    requestId: `urn:uuid:${crypto.randomUUID()}`,
    provider,
    requesters: [requester],
    classification: CLASSIFICATION,
    evidenceTitle: "Fahrzeugzulassung",
    subject,
  };
  assert.deepEqual(
    errorsOf(buildEvidenceResponse({ ...common, evidence: { bytes: enc.encode("{}") } })),
    [],
  );
  assert.deepEqual(
    errorsOf(buildEvidenceResponse({
      ...common,
      subject: { kind: "legal", legalName: "Muster GmbH" },
      evidence: { availableAt: "2026-12-01T08:00:00Z" },
    })),
    [],
  );
});

Deno.test("every 0103 Lotse can produce validates, with the status of its problem type", async () => {
  for (const type of Object.keys(PROBLEM_TYPES) as ProblemType[]) {
    for (const requesters of [[], [requester]]) {
      const response = errorResponse(type, `Detail with <markup> & "quotes" for ${type}`, {
        requesters,
        requestId: requesters.length ? `urn:uuid:${crypto.randomUUID()}` : undefined,
      });
      assert.equal(response.status, PROBLEM_TYPES[type].status, type);
      assert.match(response.headers.get("content-type")!, /^application\/xml/);
      const body = new Uint8Array(await response.arrayBuffer());
      assert.deepEqual(errorsOf(body), [], type);
      assert.match(new TextDecoder().decode(body), new RegExp(`<code>${type}</code>`));
    }
  }
});

Deno.test("readEvidenceRequest() reads requesters, provider, token, classification and IDNr", () => {
  const doc = parseXml(enc.encode(request("abc.def.ghi")), { maxBytes: 1 << 20 });
  try {
    validateXml(doc);
    const read = readEvidenceRequest(doc);
    assert.deepEqual(read.requesters, [requester]);
    assert.deepEqual(read.provider, provider);
    assert.equal(read.issuedToken, "abc.def.ghi");
    assert.equal(read.classification, CLASSIFICATION);
    assert.deepEqual(read.subject, subject);
    assert.match(read.id, /^urn:uuid:[0-9a-f-]{36}$/);
  } finally {
    doc.dispose();
  }
});

Deno.test("parseXml() refuses oversize, non-UTF-8, DTDs (XXE, billion laughs) and malformed XML", () => {
  const valid = enc.encode(request());
  assert.equal(refusalOf(valid, valid.byteLength - 1).kind, "too-large");
  // Too large is a 413 on every face; every other refusal an invalid request.
  assert.equal(refusalOf(valid, valid.byteLength - 1).problemType, "payload-too-large");
  assert.equal(
    refusalOf(new Uint8Array([0x3c, 0x61, 0x3e, 0xe4, 0x3c, 0x2f, 0x61, 0x3e])).kind,
    "not-utf8",
  );
  assert.equal(
    refusalOf(new Uint8Array([0x3c, 0x61, 0x3e, 0xe4, 0x3c, 0x2f, 0x61, 0x3e])).problemType,
    "invalid-request",
  );
  assert.equal(
    refusalOf(enc.encode('<?xml version="1.0" encoding="ISO-8859-1"?><a>x</a>')).kind,
    "not-utf8",
  );
  const xxe =
    '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>';
  assert.equal(refusalOf(enc.encode(xxe)).kind, "doctype");
  const lol = Array.from({ length: 9 }, (_, i) => `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`)
    .join("");
  const laughs = `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY l0 "lol">${lol}]><l>&l9;</l>`;
  assert.equal(refusalOf(enc.encode(laughs)).kind, "doctype");
  assert.equal(refusalOf(enc.encode("<a><b></a>")).kind, "malformed");
  assert.equal(refusalOf(enc.encode("")).kind, "malformed");
  assert.equal(refusalOf(enc.encode("<a>&undefined;</a>")).kind, "malformed");
});

Deno.test("validateXml() refuses a well-formed message that breaks the schema", () => {
  const broken = request().replace(
    "<xn-bk:IDNr>12345678903</xn-bk:IDNr>",
    "<xn-bk:IDNr>123</xn-bk:IDNr>",
  );
  const refusal = refusalOf(enc.encode(broken));
  assert.equal(refusal.kind, "schema-invalid");
  assert.match(refusal.message, /IDNr/);
  assert.equal(refusalOf(enc.encode("<a/>")).kind, "schema-invalid");
});

Deno.test("requestDigest() ignores the token and the serialisation, but not the content", () => {
  const xml = request();
  const digestOf = (text: string) => {
    const doc = parseXml(enc.encode(text), { maxBytes: 1 << 20 });
    try {
      return requestDigest(doc);
    } finally {
      doc.dispose();
    }
  };
  const digest = digestOf(xml);
  assert.match(digest, /^sha-256=:[A-Za-z0-9+/]{43}=:$/);
  const empty = "<xn-de:IssuedToken></xn-de:IssuedToken>";
  assert.ok(xml.includes(empty));
  const filled = xml.replace(empty, "<xn-de:IssuedToken>a.b.c</xn-de:IssuedToken>");
  assert.notEqual(filled, xml);
  assert.equal(digestOf(filled), digest);
  assert.equal(digestOf(xml.replace(empty, "<xn-de:IssuedToken/>")), digest);
  assert.equal(digestOf(xml.replace(empty, "<xn-de:IssuedToken> a </xn-de:IssuedToken>")), digest);
  assert.equal(digestOf(xml.replace(/^<\?xml[^>]*>/, "")), digest);
  assert.notEqual(digestOf(xml.replace("Mustermann", "Musterfrau")), digest);
  // Filling in the token and serialising again keeps the hash (what Lotse forwards).
  const doc = parseXml(enc.encode(xml), { maxBytes: 1 << 20 });
  try {
    setIssuedToken(doc, "x.y.z");
    assert.equal(digestOf(doc.toString({ format: false })), digest);
  } finally {
    doc.dispose();
  }
});

Deno.test("the provider kit verifies a sealed 0101 with nothing but the JWKS", async () => {
  const ring = await KeyRing.open(memoryKeyStore("provider-kit-test-secret-0123456789abcdef"));
  const jwks = ring.jwks();
  const issuer = "https://lotse.test";
  const seal = async (
    digest: string | undefined,
    grant: Partial<{ providerId: string; evidenceType: string }> = {},
    now = Date.now(),
  ) =>
    (await sealEvidenceToken({
      consumerId: requester.id,
      providerId: provider.id,
      evidenceType: "fahrzeugzulassung",
      purpose: "bewohnerparkausweis",
      legalBasis: "StVO § 45 Abs. 1b",
      idnrUsed: true,
      ...grant,
      ...(digest ? { requestDigest: digest } : {}),
    }, { keys: ring, issuer, now })).token;
  const xml = request();
  const doc = parseXml(enc.encode(xml), { maxBytes: 1 << 20 });
  const digest = requestDigest(doc);
  doc.dispose();
  const options = {
    jwks: JSON.parse(JSON.stringify(jwks)),
    provider,
    issuer,
    classifications: { fahrzeugzulassung: CLASSIFICATION },
  };
  const withToken = (token: string) => {
    const parsed = parseXml(enc.encode(xml), { maxBytes: 1 << 20 });
    try {
      setIssuedToken(parsed, token);
      return enc.encode(parsed.toString({ format: false }));
    } finally {
      parsed.dispose();
    }
  };
  const good = await seal(digest);
  const accepted = await checkEvidenceRequest(withToken(good), { ...options, bearer: good });
  assert.ok(accepted.ok, accepted.ok ? "" : accepted.detail);
  assert.equal(accepted.claims.sub, requester.id);
  assert.equal(accepted.request.subject.kind, "natural");

  const refusals: [string, Uint8Array, number][] = [
    ["empty token", withToken(""), 401],
    ["other aud", withToken(await seal(digest, { providerId: "other" })), 401],
    ["expired", withToken(await seal(digest, {}, Date.now() - 10 * 60_000)), 401],
    ["no digest", withToken(await seal(undefined)), 403],
    ["other message", withToken(await seal(digest)).slice(0).map((b) => b), 0],
    ["other evidence type", withToken(await seal(digest, { evidenceType: "gewerbe" })), 403],
  ];
  const changed = enc.encode(
    new TextDecoder().decode(withToken(good)).replace("Mustermann", "Musterfrau"),
  );
  refusals[4] = ["changed message", changed, 403];
  const foreign = await KeyRing.open(memoryKeyStore("another-provider-kit-secret-0123456789ab"));
  refusals.push([
    "foreign key",
    withToken(
      (await sealEvidenceToken({
        consumerId: requester.id,
        providerId: provider.id,
        evidenceType: "fahrzeugzulassung",
        purpose: "p",
        legalBasis: "l",
        idnrUsed: true,
        requestDigest: digest,
      }, { keys: foreign, issuer })).token,
    ),
    401,
  ]);
  refusals.push(["schema-invalid", enc.encode("<a/>"), 400]);
  for (const [name, body, status] of refusals) {
    const refused = await checkEvidenceRequest(body, options);
    assert.equal(refused.ok, false, name);
    if (refused.ok) continue;
    assert.equal(refused.status, status, `${name}: ${refused.detail}`);
    assert.deepEqual(errorsOf(refused.body), [], name);
  }
  const wrongBearer = await checkEvidenceRequest(withToken(good), { ...options, bearer: "x" });
  assert.equal(wrongBearer.ok, false);
});

Deno.test("buildErrorResponse() escapes what it is given", () => {
  const xml = buildErrorResponse({
    code: "invalid-request",
    detail: "</xn-bk:Detail><evil/>",
    requesters: [{ id: "a<b", name: "&", classification: "ER" }],
    errorProvider: provider,
  });
  assert.deepEqual(errorsOf(xml), []);
  assert.ok(!xml.includes("<evil/>"));
});
