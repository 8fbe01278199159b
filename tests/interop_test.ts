/**
 * Lotse as the tools of the trade see it, over real sockets, with libraries nobody here
 * wrote: an OAuth client (oauth4webapi) that finds Lotse by RFC 8414 discovery and pays with
 * `private_key_jwt`; an OpenAPI validator (@readme/openapi-parser) over the served document;
 * a JSON Schema 2020-12 validator (ajv) that checks real answers of every operation, success
 * and problem, against the schema the document gives for their status and media type; and a
 * Prometheus text-format parser over `/metrics`.
 */
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import * as oauth from "oauth4webapi";
import { validate as validateOpenApi } from "@readme/openapi-parser";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { bearer, type TestLotse } from "./_app.ts";
import { PILOTS, startXmlLotse } from "./_xnachweis.ts";
import { loginWithFetch } from "./_cockpit.ts";
import { DEMO_KEYS, DEMO_PURPOSES } from "../demo/clients.ts";
import { DEMO_AMBIGUOUS_PLZ, DEMO_CLASSIFICATIONS } from "../demo/tables.ts";
import { oauthToken } from "../tools/oauth_token.ts";
import { consumerRegistration, newKeyPair } from "./_onboarding.ts";

const ADMIN = "test-admin-token-of-at-least-32-characters";
const IDNR = "86095742719";
const { purpose, legalBasis }: { purpose: string; legalBasis: string } =
  DEMO_PURPOSES.bewohnerparken;
const CONSUMER = "stuttgart-bewohnerparken";
// Answers any route may give (auth, rate limit, body timeout, overload, the unexpected).
const EDGE = ["401", "403", "408", "429", "500", "503"];

type Doc = {
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown> };
};
type Operation = {
  operationId: string;
  security?: Record<string, string[]>[];
  responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
};

async function fetchDocument(lotse: TestLotse): Promise<Doc> {
  const res = await fetch(`${lotse.base}/openapi.json`);
  assert.equal(res.status, 200);
  return await res.json();
}

/** The document's operation for a concrete path: literal segments win over templated ones. */
function findOperation(doc: Doc, method: string, path: string) {
  const candidates = Object.keys(doc.paths).filter((template) => {
    const pattern = template.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+");
    return new RegExp(`^${pattern}$`).test(path) && doc.paths[template]![method];
  }).sort((a, b) => a.split("{").length - b.split("{").length);
  const template = candidates[0];
  return template ? { template, operation: doc.paths[template]![method]! } : undefined;
}

function escapePointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** Checks one real response against the served document; returns what was checked. */
class ResponseChecker {
  readonly seen = new Set<string>();
  #ajv: Ajv2020;
  constructor(readonly doc: Doc) {
    this.#ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats.default(this.#ajv);
    this.#ajv.addSchema(doc, "lotse-openapi.json");
  }

  async check(method: string, url: string, res: Response): Promise<unknown> {
    const { pathname } = new URL(url);
    const found = findOperation(this.doc, method.toLowerCase(), pathname);
    assert.ok(found, `${method} ${pathname} is not in the document`);
    const status = String(res.status);
    const described = found.operation.responses[status];
    assert.ok(described, `${method} ${found.template}: status ${status} is not described`);
    const type = (res.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
    const content = described.content ?? {};
    const mediaType = type in content ? type : "*/*" in content ? "*/*" : undefined;
    if (res.status === 204) {
      assert.equal(await res.text(), "");
      this.seen.add(`${method.toUpperCase()} ${found.template} ${status}`);
      return null;
    }
    assert.ok(
      mediaType,
      `${method} ${found.template} ${status}: "${type}" is not among ${Object.keys(content)}`,
    );
    const text = await res.text();
    const entry = content[mediaType]!;
    let body: unknown = text;
    if (entry.schema) {
      const pointer = ["paths", found.template, method.toLowerCase(), "responses", status]
        .concat(["content", mediaType, "schema"]).map(escapePointer).join("/");
      const validate = this.#ajv.getSchema(`lotse-openapi.json#/${pointer}`);
      assert.ok(validate, `No schema at ${pointer}`);
      if (/json$/.test(mediaType)) body = JSON.parse(text);
      const ok = validate(body);
      assert.ok(
        ok,
        `${method} ${found.template} ${status}: ${JSON.stringify(validate.errors)}\n${
          text.slice(0, 500)
        }`,
      );
    }
    this.seen.add(`${method.toUpperCase()} ${found.template} ${status}`);
    return body;
  }
}

Deno.test({
  name: "standard clients work with Lotse: OAuth discovery, OpenAPI, Prometheus",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    // A served Lotse whose pilot providers also speak XNachweis (at a test register).
    const served = await startXmlLotse({
      env: { LOTSE_MAX_REQUEST_BYTES: "65536", LOTSE_PROVIDER_TIMEOUT_MS: "400" },
    });
    const lotse = served.lotse;
    try {
      const issuer = new URL(lotse.publicUrl);
      const insecure = { [oauth.allowInsecureRequests]: true };

      await t.step(
        "oauth4webapi finds Lotse by RFC 8414, gets a token with private_key_jwt, navigates",
        async () => {
          const discovery = await oauth.discoveryRequest(issuer, {
            algorithm: "oauth2",
            ...insecure,
          });
          const as = await oauth.processDiscoveryResponse(issuer, discovery);
          assert.equal(as.issuer, lotse.publicUrl);
          assert.equal(as.token_endpoint, `${lotse.publicUrl}/v1/token`);
          assert.deepEqual(as.token_endpoint_auth_methods_supported, ["private_key_jwt"]);
          assert.deepEqual(as.grant_types_supported, ["client_credentials"]);

          // The README's standard-client script, with a fetch that notes the assertion's aud.
          const sentAudiences: unknown[] = [];
          const accessToken = await oauthToken(issuer, CONSUMER, {
            jwk: { ...DEMO_KEYS[CONSUMER]!, kid: `${CONSUMER}-demo` },
            fetch: (input, init) => {
              const form = new URLSearchParams(String(init?.body ?? ""));
              const assertion = form.get("client_assertion");
              if (assertion) sentAudiences.push(decodeJwt(assertion).aud);
              return fetch(input, init);
            },
          });
          // oauth4webapi names the issuer (draft-ietf-oauth-rfc7523bis), not the token URL.
          assert.deepEqual(sentAudiences, [lotse.publicUrl]);

          const nav = await oauth.protectedResourceRequest(
            accessToken,
            "GET",
            new URL(`${lotse.base}/v1/navigation?evidenceType=fahrzeugzulassung&plz=70173`),
            undefined,
            undefined,
            insecure,
          );
          assert.equal(nav.status, 200);
          assert.equal((await nav.json()).provider.id, "kba-zfzr");
        },
      );

      await t.step("@readme/openapi-parser accepts the served document", async () => {
        const doc = await fetchDocument(lotse);
        // Throws, naming the first error, when the document is invalid or a $ref dangles.
        await validateOpenApi(structuredClone(doc) as never);
        const result = await validateOpenApi(structuredClone(doc) as never);
        assert.equal(result.valid, true, JSON.stringify(result));
        const oauth2 = doc.components.securitySchemes.oauth2 as {
          flows: { clientCredentials: { tokenUrl: string } };
        };
        assert.equal(oauth2.flows.clientCredentials.tokenUrl, `${lotse.publicUrl}/v1/token`);
        for (const [path, methods] of Object.entries(doc.paths)) {
          for (const [method, op] of Object.entries(methods)) {
            const where = `${method} ${path}`;
            assert.ok(op.security, `${where} has no security statement`);
            if (op.security.length > 0) {
              assert.ok(op.security.some((s) => "oauth2" in s), `${where}: not OAuth 2.0`);
              for (const status of ["401", "403"]) {
                // problem+json on the JSON face, a 0103 on the XML face.
                const content = Object.keys(op.responses[status]?.content ?? {});
                assert.ok(content.length > 0, `${where}: no ${status} described`);
              }
            }
          }
        }
      });

      await t.step("real responses of every operation validate against the document", async () => {
        const doc = await fetchDocument(lotse);
        const checker = new ResponseChecker(doc);
        const call = async (method: string, path: string, init: RequestInit = {}) => {
          const url = `${lotse.base}${path}`;
          const res = await fetch(url, { ...init, method });
          return { status: res.status, body: await checker.check(method, url, res) };
        };
        const expect = async (
          status: number,
          method: string,
          path: string,
          init?: RequestInit,
        ) => {
          const result = await call(method, path, init);
          assert.equal(result.status, status, `${method} ${path}: ${JSON.stringify(result.body)}`);
          return result.body as Record<string, unknown>;
        };
        const consumer = await lotse.token(CONSUMER);
        const dsc = await lotse.token("dsc-cockpit");
        const operator = bearer(ADMIN);
        const asConsumer = bearer(consumer);
        const form = (body: Record<string, string>) => ({
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams(body),
        });

        // Operations.
        await expect(200, "GET", "/healthz");
        await expect(200, "GET", "/readyz");
        await expect(200, "GET", "/metrics");
        await expect(200, "GET", "/openapi.json");
        await expect(200, "GET", "/docs");
        await expect(200, "GET", "/docs/init.js");
        await expect(200, "GET", "/docs/assets/swagger-ui.css");
        await expect(404, "GET", "/docs/assets/nothing.css");

        // IAM.
        await expect(200, "GET", "/.well-known/jwks.json");
        await expect(200, "GET", "/.well-known/oauth-authorization-server");
        const { clientAssertion, tokenForm } = await import("./_app.ts");
        await expect(
          200,
          "POST",
          "/v1/token",
          form(
            Object.fromEntries(
              tokenForm(CONSUMER, await clientAssertion(CONSUMER, lotse.publicUrl)),
            ),
          ),
        );
        await expect(400, "POST", "/v1/token", form({ grant_type: "password" }));
        await expect(
          401,
          "POST",
          "/v1/token",
          form({
            grant_type: "client_credentials",
            client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            client_assertion: "not.a.jwt",
          }),
        );

        // Catalogue.
        await expect(200, "GET", "/v1/evidence-types", { headers: asConsumer });
        await expect(401, "GET", "/v1/evidence-types");
        await expect(200, "GET", "/v1/evidence-types/fahrzeugzulassung", { headers: asConsumer });
        await expect(400, "GET", "/v1/evidence-types/NOT_A_SLUG", { headers: asConsumer });
        await expect(404, "GET", "/v1/evidence-types/unbekannt", { headers: asConsumer });
        await expect(200, "GET", "/v1/providers/kba-zfzr", { headers: asConsumer });
        await expect(404, "GET", "/v1/providers/unbekannt", { headers: asConsumer });
        await expect(200, "GET", "/v1/regions?plz=70173", { headers: asConsumer });
        await expect(200, "GET", "/v1/regions?q=Stutt", { headers: asConsumer });
        await expect(400, "GET", "/v1/regions?q=Stutt&plz=70173", { headers: asConsumer });
        await expect(404, "GET", "/v1/regions?ags=08999999", { headers: asConsumer });

        // Navigation: the fast path's answer and the Hono route's refusals.
        await expect(200, "GET", "/v1/navigation?evidenceType=fahrzeugzulassung&plz=70173", {
          headers: asConsumer,
        });
        await expect(400, "GET", "/v1/navigation?evidenceType=fahrzeugzulassung&ags=081", {
          headers: asConsumer,
        });
        await expect(404, "GET", "/v1/navigation?evidenceType=unbekannt&ags=08111000", {
          headers: asConsumer,
        });
        await expect(
          409,
          "GET",
          `/v1/navigation?evidenceType=meldebescheinigung&plz=${DEMO_AMBIGUOUS_PLZ}`,
          { headers: asConsumer },
        );
        await expect(401, "GET", "/v1/navigation?evidenceType=fahrzeugzulassung&plz=70173");
        await expect(403, "GET", "/v1/navigation?evidenceType=fahrzeugzulassung&plz=70173", {
          headers: bearer(dsc),
        });

        // Vermittlungsstelle.
        const json = (body: unknown, headers = asConsumer) => ({
          headers: { ...headers, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
        const authorization = {
          evidenceType: "fahrzeugzulassung",
          providerId: "kba-zfzr",
          purpose,
          legalBasis,
          idnrUsed: false,
        };
        await expect(201, "POST", "/v1/authorizations", json(authorization));
        await expect(400, "POST", "/v1/authorizations", json({ evidenceType: 1 }));
        await expect(403, "POST", "/v1/authorizations", json({ ...authorization, purpose: "x" }));
        await expect(
          404,
          "POST",
          "/v1/authorizations",
          json({ ...authorization, providerId: "unbekannt" }),
        );
        await expect(415, "POST", "/v1/authorizations", {
          headers: { ...asConsumer, "content-type": "text/plain" },
          body: "{}",
        });

        // Transport.
        const transfer = (query: string, body: string, extra: Record<string, string> = {}) => ({
          headers: {
            ...asConsumer,
            "lotse-purpose": purpose,
            "lotse-legal-basis": legalBasis,
            "content-type": "application/json",
            ...extra,
          },
          body,
          path: `/v1/evidence/fahrzeugzulassung?${query}`,
        });
        const send = async (status: number, t: ReturnType<typeof transfer>) => {
          const { path, ...init } = t;
          const url = `${lotse.base}${path}`;
          const res = await fetch(url, { ...init, method: "POST" });
          const transferId = res.headers.get("lotse-transfer-id");
          const body = await checker.check("POST", url, res);
          assert.equal(res.status, status, `${path}: ${JSON.stringify(body)}`);
          return transferId;
        };
        const delivered = await send(
          200,
          transfer("plz=70173", JSON.stringify({ kennzeichen: "S-LO 1" }), { "lotse-idnr": IDNR }),
        );
        await send(400, transfer("plz=70173", "{}", { "lotse-idnr": "12345678901" }));
        await send(404, transfer("ags=08999999", "{}"));
        await send(409, transfer(`plz=${DEMO_AMBIGUOUS_PLZ}`, "{}"));
        await send(413, transfer("ags=08111000", "x".repeat(70_000)));
        await send(
          502,
          transfer("ags=08111000", JSON.stringify({ demo: { fault: "status-5xx" } })),
        );
        await send(
          504,
          transfer("ags=08111000", JSON.stringify({ demo: { fault: "no-headers" } })),
        );
        await send(403, {
          ...transfer("ags=08111000", "{}"),
          headers: { ...transfer("ags=08111000", "{}").headers, "lotse-purpose": "x" },
        });
        assert.ok(delivered);
        await expect(200, "GET", `/v1/transfers/${delivered}`, { headers: asConsumer });
        await expect(400, "GET", "/v1/transfers/not-a-uuid", { headers: asConsumer });
        await expect(404, "GET", `/v1/transfers/${crypto.randomUUID()}`, { headers: asConsumer });

        // Datenschutzcockpit.
        await expect(200, "GET", `/v1/protocol?idnr=${IDNR}`, { headers: bearer(dsc) });
        await expect(400, "GET", "/v1/protocol?idnr=12345678901", { headers: bearer(dsc) });
        await expect(403, "GET", `/v1/protocol?idnr=${IDNR}`, { headers: asConsumer });
        await expect(200, "GET", "/cockpit");
        await expect(401, "GET", "/cockpit/export.csv");
        await expect(401, "GET", "/cockpit/druck");
        await expect(303, "GET", "/cockpit/login", { redirect: "manual" });
        await expect(400, "GET", "/cockpit/callback?code=x&state=y");
        await expect(403, "POST", "/cockpit/logout", form({ csrf: "x" }));
        const citizen = await loginWithFetch(lotse.base, IDNR);
        const asCitizen = { headers: { cookie: citizen.cookie } };
        await expect(200, "GET", "/cockpit?von=2020-01-01", asCitizen);
        await expect(400, "GET", "/cockpit?von=gestern", asCitizen);
        await expect(200, "GET", "/cockpit/export.csv", asCitizen);
        await expect(400, "GET", "/cockpit/export.csv?bis=2020-13-01", asCitizen);
        await expect(200, "GET", "/cockpit/druck?behoerde=x", asCitizen);
        await expect(400, "GET", "/cockpit/druck?von=1.1.2020", asCitizen);
        await expect(303, "POST", "/cockpit/logout", {
          ...form({ csrf: citizen.csrf }),
          headers: { ...form({}).headers, ...asCitizen.headers },
          redirect: "manual",
        });
        // The callback's success, checked against the document too.
        const again = await loginWithFetch(lotse.base, IDNR, {
          inspect: (url, res) => checker.check("GET", url, res),
        });
        assert.ok(again.id !== citizen.id);

        // Identitätsdatenabruf.
        const identity = (body: unknown, headers: Record<string, string> = asConsumer) => ({
          headers: {
            ...headers,
            "content-type": "application/json",
            "lotse-purpose": DEMO_PURPOSES.identitaet.purpose,
            "lotse-legal-basis": DEMO_PURPOSES.identitaet.legalBasis,
          },
          body: JSON.stringify(body),
        });
        const jurgen = { familyName: "Weiß", givenNames: "Jürgen", dateOfBirth: "1984-07-12" };
        await expect(200, "POST", "/v1/identity-queries", identity(jurgen));
        await expect(400, "POST", "/v1/identity-queries", identity({ ...jurgen, idnr: "1" }));
        await expect(404, "POST", "/v1/identity-queries", identity({ ...jurgen, givenNames: "X" }));
        await expect(
          409,
          "POST",
          "/v1/identity-queries",
          identity({ familyName: "Schmidt", givenNames: "Anna", dateOfBirth: "1990-01-01" }),
        );
        await expect(
          502,
          "POST",
          "/v1/identity-queries",
          identity({ familyName: "Prüfziffer", givenNames: "Max", dateOfBirth: "1970-01-01" }),
        );
        await expect(415, "POST", "/v1/identity-queries", {
          ...identity(jurgen),
          headers: { ...identity(jurgen).headers, "content-type": "text/plain" },
        });

        // XNachweis: XML in, XML out, Lotse's refusals as 0103.
        const pilot = PILOTS.bewohnerparkausweis;
        const message = await Deno.readTextFile(pilot.file);
        const xml = (body: string, headers: Record<string, string> = asConsumer) => ({
          headers: {
            ...headers,
            "content-type": "application/xml",
            "lotse-purpose": pilot.purpose,
            "lotse-legal-basis": pilot.legalBasis,
          },
          body,
        });
        const XN = "/xnachweis/v1/evidence-requests";
        await expect(200, "POST", XN, xml(message));
        await expect(400, "POST", XN, xml("<DE.EvidenceRequest.0101>"));
        await expect(401, "POST", XN, xml(message, {}));
        await expect(415, "POST", XN, { headers: { ...asConsumer }, body: "{}" });

        // EU-OOTS: EDM in, EDM out, every refusal an EDM exception; the DSD in ebRS.
        const gateway = bearer(await lotse.token("eu-access-point"));
        const edm = await Deno.readTextFile(
          new URL("../demo/eu/gewerbeanmeldung.edm.xml", import.meta.url),
        );
        const asEdm = (body: string, headers: Record<string, string> = gateway) => ({
          headers: { ...headers, "content-type": "application/xml" },
          body,
        });
        const EU = "/eu/v1/evidence-requests";
        await expect(200, "POST", EU, asEdm(edm));
        await expect(400, "POST", EU, asEdm("<query:QueryRequest"));
        await expect(401, "POST", EU, asEdm(edm, {}));
        await expect(403, "POST", EU, asEdm(edm, asConsumer));
        const DSD = "/eu/v1/dsd/rest/search?" + new URLSearchParams({
          queryId:
            "urn:fdc:oots:dsd:ebxml-regrep:queries:dataservices-by-evidencetype-and-jurisdiction",
          "country-code": "DE",
          "evidence-type-classification": DEMO_CLASSIFICATIONS.gewerberegisterauszug,
        });
        await expect(200, "GET", `${DSD}&jurisdiction-admin-l3=08111000`, { headers: gateway });
        await expect(409, "GET", DSD, { headers: gateway });
        await expect(401, "GET", DSD);

        // Data management.
        await expect(200, "GET", "/admin/v1/tables", { headers: operator });
        await expect(401, "GET", "/admin/v1/tables");
        await expect(403, "GET", "/admin/v1/tables", { headers: asConsumer });
        const region = { name: "Interop", ars: null };
        await expect(201, "PUT", "/admin/v1/regions/08999001", json(region, operator));
        await expect(200, "PUT", "/admin/v1/regions/08999001", json(region, operator));
        await expect(200, "GET", "/admin/v1/regions/08999001", { headers: operator });
        await expect(400, "PUT", "/admin/v1/regions/0899", json(region, operator));
        await expect(404, "GET", "/admin/v1/tabellen/x", { headers: operator });
        await expect(
          409,
          "DELETE",
          "/admin/v1/providers/kba-zfzr",
          { headers: operator },
        );
        await expect(204, "DELETE", "/admin/v1/regions/08999001", { headers: operator });
        await expect(404, "DELETE", "/admin/v1/regions/08999001", { headers: operator });
        await expect(200, "POST", "/admin/v1/imports/regions", {
          headers: { ...operator, "content-type": "application/x-ndjson" },
          body: `{"id":"08999002","name":"Interop 2"}\n`,
        });
        await expect(422, "POST", "/admin/v1/imports/regions", {
          headers: { ...operator, "content-type": "application/x-ndjson" },
          body: `{"id":"0899","name":"Bad"}\n`,
        });
        await expect(415, "POST", "/admin/v1/imports/regions", {
          headers: { ...operator, "content-type": "text/plain" },
          body: "x",
        });
        await expect(200, "GET", "/admin/v1/audit?table=regions&limit=5", { headers: operator });
        await expect(400, "GET", "/admin/v1/audit?limit=0", { headers: operator });

        // Onboarding: a registration, the operator's list and both decisions.
        const REG = "/onboarding/v1/registrations";
        const asked = consumerRegistration("interop-verfahren", await newKeyPair());
        const first = await expect(201, "POST", REG, json(asked, {}));
        await expect(409, "POST", REG, json(asked, {}));
        await expect(400, "POST", REG, json({ ...asked, roles: ["operator"] }, {}));
        await expect(415, "POST", REG, { body: "x" });
        const second = await expect(
          201,
          "POST",
          REG,
          json(consumerRegistration("interop-zwei", await newKeyPair()), {}),
        );
        await expect(200, "GET", "/admin/v1/registrations?status=pending", { headers: operator });
        await expect(400, "GET", "/admin/v1/registrations?status=offen", { headers: operator });
        const decide = (id: unknown, what: string) => `/admin/v1/registrations/${id}/${what}`;
        await expect(200, "POST", decide(first.id, "approve"), { headers: operator });
        await expect(409, "POST", decide(first.id, "approve"), { headers: operator });
        await expect(404, "POST", decide(crypto.randomUUID(), "approve"), { headers: operator });
        await expect(200, "POST", decide(second.id, "reject"), json({ reason: "Test" }, operator));
        await expect(409, "POST", decide(second.id, "reject"), { headers: operator });
        await expect(404, "POST", decide(crypto.randomUUID(), "reject"), { headers: operator });

        // The readiness check of a demo register, and its stored report.
        const RC = "/v1/readiness-checks";
        const report = await expect(201, "POST", RC, json({ providerId: "kba-zfzr" }, operator));
        await expect(404, "POST", RC, json({ providerId: "gibt-es-nicht" }, operator));
        await expect(400, "POST", RC, json({ providerId: "kba-zfzr", endpoint: "x" }, operator));
        await expect(200, "GET", `${RC}/${report.id}`, { headers: operator });
        await expect(404, "GET", `${RC}/${crypto.randomUUID()}`, { headers: operator });
        await expect(400, "GET", `${RC}/nope`, { headers: operator });

        // The pages of onboarding and their files.
        await expect(200, "GET", "/onboarding");
        const page = (body: Record<string, string>) => form(body);
        await expect(
          201,
          "POST",
          "/onboarding",
          page({
            kind: "consumer",
            organisation: "Interop",
            contactName: "A",
            contactEmail: "a@interop.example",
            clientId: "interop-seite",
            jwks: JSON.stringify({ keys: [(await newKeyPair()).publicJwk] }),
            evidenceTypes: "fahrzeugzulassung",
            purposes: "p",
            legalBases: "l",
          }),
        );
        await expect(400, "POST", "/onboarding", page({ kind: "consumer" }));
        await expect(200, "GET", "/onboarding/betrieb");
        await expect(200, "POST", "/onboarding/betrieb", page({ token: ADMIN }));
        await expect(401, "POST", "/onboarding/betrieb", page({ token: "x" }));
        await expect(200, "GET", `/onboarding/readiness/${report.id}`);
        await expect(404, "GET", `/onboarding/readiness/${crypto.randomUUID()}`);
        await expect(200, "GET", "/assets/lotse.css");
        await expect(200, "GET", "/assets/keygen.js");

        // Every operation of the document was met, each with a success and, where it has
        // one, a problem answer.
        for (const [path, methods] of Object.entries(doc.paths)) {
          for (const [method, op] of Object.entries(methods)) {
            const statuses = [...checker.seen]
              .filter((s) => s.startsWith(`${method.toUpperCase()} ${path} `))
              .map((s) => Number(s.split(" ").pop()));
            // A redirect is the success of a route that only redirects (the cockpit's login).
            assert.ok(statuses.some((s) => s < 400), `${method} ${path}: no success checked`);
            // The route's own refusals (not the edge's 408/429/503, not 500).
            const testable = Object.keys(op.responses)
              .filter((s) => Number(s) >= 400 && !EDGE.includes(s));
            if (testable.length > 0) {
              assert.ok(statuses.some((s) => s >= 400), `${method} ${path}: no problem checked`);
            }
          }
        }
      });

      await t.step("a Prometheus text-format parser reads /metrics", async () => {
        const res = await fetch(`${lotse.base}/metrics`);
        assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
        const families = parsePrometheusTextFormat(await res.text()) as {
          name: string;
          type: string;
          metrics: { labels?: Record<string, string> }[];
        }[];
        const byName = new Map(families.map((f) => [f.name, f]));
        const requests = byName.get("lotse_http_requests_total");
        assert.equal(requests?.type, "COUNTER");
        assert.ok(
          requests.metrics.some((m) => m.labels?.route === "GET /v1/navigation"),
          "navigation requests are counted",
        );
        assert.ok(
          families.some((f) => f.type === "HISTOGRAM"),
          "latency histograms are there",
        );
      });
    } finally {
      await served.close();
    }
  },
});
