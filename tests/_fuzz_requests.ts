/**
 * Request drafts for the fuzz suite: malformed requests for every route of the public
 * contract, built from the values in `_fuzz_values.ts`; what `fetch` will not send goes
 * through the raw HTTP/1.1 client in `_raw_http.ts` (bad `Content-Length`, truncated bodies,
 * raw bytes in paths and headers, a foreign `Host`).
 *
 * Everything is derived from one seed, so a failure reproduces with
 * `LOTSE_FUZZ_SEED=<seed> deno test -A tests/fuzz_test.ts`.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * const request = generateRequest(rng, credentials, 0);
 * console.log(describeRequest(request));
 * ```
 *
 * @module
 */
import type { Rng } from "../tools/rng.ts";
import {
  authorization,
  contentType,
  EVIDENCE_TYPES,
  freeTextHeader,
  type FuzzCredentials,
  idnrValue,
  importBody,
  jsonBody,
  junkHeaders,
  oversized,
  PERCENT_JUNK,
  PROVIDERS,
  queryString,
  queryValue,
  reprDigest,
  segmentValue,
  TABLE_IDS,
  TABLE_TEMPLATES,
  TABLES,
  tokenForm,
  writableId,
} from "./_fuzz_values.ts";

const encoder = new TextEncoder();

/** How a request reaches the server. */
export type Transport =
  /** `fetch` (keep-alive pool); falls back to `raw` when `fetch` refuses the request. */
  | "fetch"
  /** The exact bytes over a fresh socket. */
  | "raw"
  /** Raw, announcing more body than is sent, then half-closing the socket. */
  | "raw-short-body"
  /** Raw with a broken chunked body; the server may drop the connection without answer. */
  | "raw-bad-chunked";

/** One generated request. Header values are Latin-1 strings (one char per byte). */
export interface FuzzRequest {
  readonly id: number;
  /** Which generator made it, for grouping failures. */
  readonly label: string;
  readonly method: string;
  /** Path and query exactly as put on the request line. */
  readonly target: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array | null;
  readonly transport: Transport;
}

// ---------------------------------------------------------------------------------------
// Requests

interface Draft {
  label: string;
  method: string;
  target: string;
  headers: [string, string][];
  body: Uint8Array | null;
  transport?: Transport;
}

function withAuth(
  rng: Rng,
  draft: Draft,
  good: readonly string[],
  creds: FuzzCredentials,
): Draft {
  const value = authorization(rng, good, creds);
  if (value !== null) draft.headers.unshift(["authorization", value]);
  return draft;
}

function methodFor(rng: Rng, usual: string): string {
  return rng.weighted(
    [
      [12, usual],
      [1, "GET"],
      [1, "POST"],
      [1, "PUT"],
      [1, "DELETE"],
      [1, "PATCH"],
      [1, "HEAD"],
      [1, "OPTIONS"],
      [1, rng.pick(["FOO", "M-SEARCH", "PROPFIND", "TRACE", "get", "X".repeat(100)])],
    ] as const,
  );
}

function catalogDraft(rng: Rng, creds: FuzzCredentials): Draft {
  const which = rng.int(4);
  const target = which === 0
    ? `/v1/evidence-types${queryString(rng, ["x"])}`
    : which === 1
    ? `/v1/evidence-types/${segmentValue(rng, EVIDENCE_TYPES)}${queryString(rng, ["x"])}`
    : which === 2
    ? `/v1/providers/${segmentValue(rng, PROVIDERS)}${queryString(rng, ["x"])}`
    : `/v1/regions${queryString(rng, ["plz", "ort", "ags", "ars", "q", "limit"])}`;
  return withAuth(
    rng,
    {
      label: "catalog",
      method: methodFor(rng, "GET"),
      target,
      headers: [],
      body: null,
    },
    [creds.consumer, creds.dsc, creds.provider, creds.operator],
    creds,
  );
}

function navigationDraft(rng: Rng, creds: FuzzCredentials): Draft {
  return withAuth(
    rng,
    {
      label: "navigation",
      method: methodFor(rng, "GET"),
      target: `/v1/navigation${queryString(rng, ["evidenceType", "ags", "ars", "plz", "ort"])}`,
      headers: [],
      body: null,
    },
    [creds.consumer, creds.consumer, creds.dsc],
    creds,
  );
}

function authorizationDraft(rng: Rng, creds: FuzzCredentials): Draft {
  const template = {
    evidenceType: "fahrzeugzulassung",
    providerId: "kba-zfzr",
    purpose: creds.purpose,
    legalBasis: creds.legalBasis,
    idnrUsed: true,
    requestDigest: `sha-256=:${btoa(String.fromCharCode(...rng.bytes(32)))}:`,
  };
  const headers: [string, string][] = [];
  const type = contentType(rng, "application/json");
  if (type !== null) headers.push(["content-type", type]);
  const body = rng.chance(0.03) ? oversized(rng, 16 * 1024) : jsonBody(rng, template);
  return withAuth(
    rng,
    {
      label: "authorizations",
      method: methodFor(rng, "POST"),
      target: `/v1/authorizations${queryString(rng, ["x"])}`,
      headers,
      body,
    },
    [creds.consumer, creds.consumer, creds.dsc],
    creds,
  );
}

// A registration: anyone may post one; a valid one is stored (the rate limit soon answers 429).
function registrationDraft(rng: Rng): Draft {
  const consumer = rng.chance(0.5);
  const template: Record<string, unknown> = {
    kind: consumer ? "consumer" : "provider",
    organisation: "Fuzz",
    contact: { name: "Fuzz", email: "fuzz@fuzz.example" },
    clientId: `fuzz-${rng.int(1_000_000)}`,
    // A valid public key (the demo KBA's), so an untouched template is stored.
    jwks: {
      keys: [{
        kty: "EC",
        crv: "P-256",
        x: "inZcOIwYvQGoqg2ng9nmxD7g2qQOxwIJQCPnpzaEXeQ",
        y: "CxudlID95s5RkXRdjR43x7boVSimZjsy9b3sKvuQkE8",
      }],
    },
    evidenceTypes: ["fahrzeugzulassung"],
    ...(consumer
      ? { purposes: ["p"], legalBases: ["l"] }
      : { endpoint: "https://fuzz.example/evidence", jurisdictions: ["08"] }),
  };
  const headers: [string, string][] = [];
  const type = contentType(rng, "application/json");
  if (type !== null) headers.push(["content-type", type]);
  return {
    label: "registrations",
    method: methodFor(rng, "POST"),
    target: `/onboarding/v1/registrations${queryString(rng, ["x"])}`,
    headers,
    body: rng.chance(0.03) ? oversized(rng, 128 * 1024) : jsonBody(rng, template),
  };
}

// A readiness check: mostly refused (role, body, unknown provider); now and then one runs.
function readinessDraft(rng: Rng, creds: FuzzCredentials): Draft {
  const headers: [string, string][] = [];
  const type = contentType(rng, "application/json");
  if (type !== null) headers.push(["content-type", type]);
  const get = rng.chance(0.3);
  return withAuth(
    rng,
    {
      label: "readiness-checks",
      method: methodFor(rng, get ? "GET" : "POST"),
      target: `/v1/readiness-checks${get ? `/${segmentValue(rng, ["x"])}` : ""}${
        queryString(rng, ["x"])
      }`,
      headers,
      body: get ? null : jsonBody(rng, { providerId: "gibt-es-nicht" }),
    },
    [creds.admin, creds.operator, creds.provider, creds.consumer],
    creds,
  );
}

/** A transfer the demo permission covers, with one thing wrong (or nothing but the body). */
function nearlyValidTransfer(rng: Rng, creds: FuzzCredentials): Draft {
  const latin1 = (s: string) => String.fromCharCode(...encoder.encode(s));
  const headers: [string, string][] = [
    ["authorization", `Bearer ${creds.consumer}`],
    ["lotse-purpose", creds.purpose],
    ["lotse-legal-basis", latin1(creds.legalBasis)],
    ["content-type", "application/json"],
  ];
  let target = "/v1/evidence/fahrzeugzulassung?ags=08111000";
  rng.weighted<() => void>([
    [3, () => {}],
    [2, () => headers.push(["lotse-idnr", idnrValue(rng)])],
    [2, () => headers.push(["repr-digest", reprDigest(rng)])],
    [1, () => headers[1] = ["lotse-purpose", freeTextHeader(rng, creds.purpose)]],
    [1, () => headers[2] = ["lotse-legal-basis", freeTextHeader(rng, creds.legalBasis)]],
    [1, () => headers[3] = ["content-type", contentType(rng, "application/json") ?? ""]],
    [1, () => target += queryString(rng, ["x", "ags", "providerId", "ort"]).replace("?", "&")],
    [
      1,
      () => target = `/v1/evidence/fahrzeugzulassung?providerId=${queryValue(rng, "providerId")}`,
    ],
    [1, () => target = `/v1/evidence/fahrzeugzulassung?plz=${queryValue(rng, "plz")}`],
  ])();
  const body = rng.weighted<() => Uint8Array | null>([
    [6, () => jsonBody(rng, { vehicle: "S-XY 123", holder: "Erika Mustermann" })],
    [1, () => null],
    [1, () => rng.bytes(rng.range(0, 5000))],
  ])();
  return { label: "evidence", method: "POST", target, headers, body };
}

function evidenceDraft(rng: Rng, creds: FuzzCredentials): Draft {
  if (rng.chance(0.4)) return nearlyValidTransfer(rng, creds);
  // Mostly the one evidence type the consumer may have, so that many requests get as far
  // as the provider.
  const type = rng.chance(0.6) ? "fahrzeugzulassung" : segmentValue(rng, EVIDENCE_TYPES);
  const query = rng.chance(0.5)
    ? `?ags=${rng.chance(0.6) ? "08111000" : queryValue(rng, "ags")}${
      rng.chance(0.3) ? queryString(rng, ["ags", "providerId", "plz", "x"]).replace("?", "&") : ""
    }`
    : queryString(rng, ["ags", "ars", "plz", "ort", "providerId"]);
  const headers: [string, string][] = [];
  if (rng.chance(0.85)) headers.push(["lotse-purpose", freeTextHeader(rng, creds.purpose)]);
  if (rng.chance(0.85)) {
    headers.push(["lotse-legal-basis", freeTextHeader(rng, creds.legalBasis)]);
  }
  if (rng.chance(0.4)) headers.push(["lotse-idnr", idnrValue(rng)]);
  if (rng.chance(0.3)) headers.push(["repr-digest", reprDigest(rng)]);
  if (rng.chance(0.1)) headers.push(["lotse-transfer-id", "../../x"]);
  const ct = contentType(rng, "application/json");
  if (ct !== null) headers.push(["content-type", ct]);
  const body = rng.weighted<() => Uint8Array | null>([
    [6, () => jsonBody(rng, { vehicle: "S-XY 123", holder: "Erika Mustermann" })],
    [1, () => null],
    [1, () => rng.bytes(rng.range(0, 5000))],
    [1, () => oversized(rng, 1024 * 1024)],
  ])();
  return withAuth(
    rng,
    {
      label: "evidence",
      method: methodFor(rng, "POST"),
      target: `/v1/evidence/${type}${query}`,
      headers,
      body,
    },
    [creds.consumer, creds.consumer, creds.consumer, creds.dsc],
    creds,
  );
}

function transfersDraft(rng: Rng, creds: FuzzCredentials): Draft {
  const id = segmentValue(rng, [crypto.randomUUID(), "00000000-0000-4000-8000-000000000000"]);
  return withAuth(
    rng,
    {
      label: "transfers",
      method: methodFor(rng, "GET"),
      target: `/v1/transfers/${id}${queryString(rng, ["x"])}`,
      headers: [],
      body: null,
    },
    [creds.consumer, creds.dsc],
    creds,
  );
}

function tokenDraft(rng: Rng, creds: FuzzCredentials): Draft {
  const { type, body } = tokenForm(rng, creds);
  const headers: [string, string][] = type ? [["content-type", type]] : [];
  if (rng.chance(0.1)) headers.push(["authorization", `Bearer ${creds.consumer}`]);
  return {
    label: "token",
    method: methodFor(rng, "POST"),
    target: `/v1/token${queryString(rng, ["grant_type", "client_id", "x"])}`,
    headers,
    body,
  };
}

function adminRowDraft(rng: Rng, creds: FuzzCredentials): Draft {
  const table = rng.weighted<() => string>([
    [12, () => rng.pick(TABLES)],
    [1, () => segmentValue(rng, TABLES)],
  ])();
  const method = rng.weighted([[4, "GET"], [5, "PUT"], [2, "DELETE"], [1, "PATCH"], [1, "POST"]]);
  const id = method === "GET"
    ? rng.chance(0.5) ? (TABLE_IDS[table]?.() ?? "x") : segmentValue(rng, ["x"])
    : writableId(rng, table);
  const headers: [string, string][] = [];
  let body: Uint8Array | null = null;
  if (method !== "GET") {
    const type = contentType(rng, "application/json");
    if (type !== null) headers.push(["content-type", type]);
    body = rng.chance(0.03)
      ? oversized(rng, 256 * 1024)
      : jsonBody(rng, TABLE_TEMPLATES[table] ?? { name: "x" });
  }
  return withAuth(
    rng,
    {
      label: "admin-row",
      method,
      target: `/admin/v1/${table}/${id}${queryString(rng, ["x"])}`,
      headers,
      body,
    },
    [creds.admin, creds.admin, creds.operator, creds.consumer],
    creds,
  );
}

function adminImportDraft(rng: Rng, creds: FuzzCredentials): Draft {
  const table = rng.weighted<() => string>([
    [8, () => rng.pick(TABLES.filter((t) => t !== "clients" && t !== "permissions"))],
    [1, () => segmentValue(rng, TABLES)],
  ])();
  const { type, body } = importBody(rng, table);
  return withAuth(
    rng,
    {
      label: "admin-import",
      method: methodFor(rng, "POST"),
      target: `/admin/v1/imports/${table}${queryString(rng, ["x"])}`,
      headers: [["content-type", type]],
      body,
    },
    [creds.admin, creds.operator, creds.consumer],
    creds,
  );
}

function adminTablesDraft(rng: Rng, creds: FuzzCredentials): Draft {
  return withAuth(
    rng,
    {
      label: "admin-tables",
      method: methodFor(rng, "GET"),
      target: `/admin/v1/tables${queryString(rng, ["x"])}`,
      headers: [],
      body: null,
    },
    [creds.admin, creds.operator, creds.dsc],
    creds,
  );
}

function elsewhereDraft(rng: Rng, creds: FuzzCredentials): Draft {
  const target = rng.weighted<() => string>([
    [2, () => `/${segmentValue(rng, ["v1", "v2", "admin", "x"])}/${segmentValue(rng, ["x"])}`],
    [2, () =>
      rng.pick([
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/.well-known/jwks.json",
        "/v1",
        "/v1/",
        "/admin/v1",
        "/admin/v1/",
        "/v1//navigation",
        "/v1/navigation/",
        "/V1/navigation",
        "/v1/evidence/",
        "/v1/transfers/",
        "/admin/v1/imports/",
        "/admin/v1/regions",
        "/v1/protocol",
      ]) + queryString(rng, ["x"])],
    [1, () => `/${"a/".repeat(rng.range(1, 500))}`],
    [1, () => `/${rng.pick(PERCENT_JUNK)}/${rng.pick(PERCENT_JUNK)}`],
    [1, () => "/v1/../admin/v1/tables"],
    [1, () => "/v1/%2e%2e/admin/v1/tables"],
    [1, () => "/admin/v1/%74ables"],
  ])();
  const method = methodFor(rng, "GET");
  return withAuth(
    rng,
    {
      label: "elsewhere",
      method,
      target,
      headers: [],
      body: method === "GET" || method === "HEAD" ? null : rng.bytes(rng.range(0, 200)),
    },
    [creds.consumer, creds.admin],
    creds,
  );
}

const DRAFTS: readonly (readonly [number, (rng: Rng, creds: FuzzCredentials) => Draft])[] = [
  [10, tokenDraft],
  [14, navigationDraft],
  [10, catalogDraft],
  [10, authorizationDraft],
  [16, evidenceDraft],
  [5, transfersDraft],
  [14, adminRowDraft],
  [8, adminImportDraft],
  [3, adminTablesDraft],
  [4, registrationDraft],
  [3, readinessDraft],
  [10, elsewhereDraft],
];

/** Most header bytes per request: Deno's HTTP server refuses a head of about 64 KiB itself. */
export const MAX_HEADER_BYTES = 48 * 1024;

// Shortens the longest values until the head fits what the HTTP server accepts, so that
// huge headers test Lotse rather than the server's own limit.
function fitHeaders(headers: [string, string][]): void {
  const size = () => headers.reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
  while (size() > MAX_HEADER_BYTES) {
    let longest = 0;
    for (let i = 1; i < headers.length; i++) {
      if (headers[i]![1].length > headers[longest]![1].length) longest = i;
    }
    const [name, value] = headers[longest]!;
    headers[longest] = [
      name,
      value.slice(0, Math.max(0, value.length - (size() - MAX_HEADER_BYTES))),
    ];
  }
}

const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/** Generates request number `id` of a run. */
export function generateRequest(rng: Rng, creds: FuzzCredentials, id: number): FuzzRequest {
  const draft = rng.weighted(DRAFTS)(rng, creds);
  draft.headers.push(...junkHeaders(rng));
  fitHeaders(draft.headers);
  const bodyAllowed = draft.method !== "GET" && draft.method !== "HEAD";
  let transport: Transport = rng.chance(0.25) ? "raw" : "fetch";
  // What fetch cannot express goes raw: bytes outside ASCII, a body on GET, a target the
  // URL parser would rewrite.
  if (!draft.headers.every(([, v]) => HEADER_VALUE.test(v))) transport = "raw";
  if (draft.body !== null && !bodyAllowed) transport = "raw";
  if (/%(?![0-9a-fA-F]{2})|\.\.|#|[^\x21-\x7e]/.test(draft.target)) transport = "raw";
  if (!/^[A-Z]+$/.test(draft.method) || draft.method === "TRACE") transport = "raw";
  if (draft.body !== null && draft.body.length > 0 && rng.chance(0.04)) {
    transport = rng.chance(0.5) ? "raw-short-body" : "raw-bad-chunked";
  }
  if (transport !== "fetch" && rng.chance(0.2)) {
    draft.headers.push(["host", rng.pick(["evil.example", "evil.example:1", "[::1]", "a b"])]);
  }
  return {
    id,
    label: draft.label,
    method: draft.method,
    target: draft.target,
    headers: draft.headers,
    body: draft.body,
    transport,
  };
}

/** A readable, bounded description of a request, to print with a failure. */
export function describeRequest(request: FuzzRequest): string {
  const cut = (s: string, n: number) => s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s;
  const lines = [
    `#${request.id} [${request.label}, ${request.transport}] ${request.method} ${
      cut(request.target, 300)
    }`,
  ];
  for (const [name, value] of request.headers) {
    lines.push(`  ${name}: ${JSON.stringify(cut(value, 160))}`);
  }
  if (request.body !== null) {
    const preview = Array.from(
      request.body.subarray(0, 300),
      (b) =>
        b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`,
    ).join(
      "",
    );
    lines.push(`  body (${request.body.length} bytes): ${preview}`);
  }
  return lines.join("\n");
}
