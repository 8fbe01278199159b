/**
 * Generators for the fuzz suite: a seeded PRNG, malformed requests for every route of the
 * public contract, and a raw HTTP/1.1 client for what `fetch` will not send (bad
 * `Content-Length`, truncated bodies, raw bytes in paths and headers, a foreign `Host`).
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
import { Rng } from "../tools/rng.ts";

// The repository's one seeded PRNG, re-exported for the fuzz suite.
export { Rng };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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

/** Credentials the generators mix in, so that requests get past authentication too. */
export interface FuzzCredentials {
  readonly consumer: string;
  readonly dsc: string;
  readonly operator: string;
  readonly provider: string;
  /** `LOTSE_ADMIN_TOKEN`. */
  readonly admin: string;
  /** Purpose and legal basis a demo permission of `consumer` covers. */
  readonly purpose: string;
  readonly legalBasis: string;
}

// ---------------------------------------------------------------------------------------
// Values

const EVIDENCE_TYPES = [
  "fahrzeugzulassung",
  "gewerberegisterauszug",
  "handelsregisterauszug",
  "meldebescheinigung",
];
const PROVIDERS = ["kba-zfzr", "gewerberegister-08111000", "handelsregister-ag-stuttgart"];
const TABLES = [
  "regions",
  "postcodes",
  "evidence-types",
  "providers",
  "routes",
  "clients",
  "permissions",
];
const UNICODE = [
  "ä",
  "ß",
  "\u00e9",
  "\u200b",
  "\u202e",
  "\ufeff",
  "\ud83d\ude97",
  "\u0660\u0661",
  "\uff10\uff18",
  "\u0130",
  "\u{10ffff}",
  "\ufffd",
];
const PERCENT_JUNK = [
  "%",
  "%%",
  "%Z",
  "%ZZ",
  "%0",
  "%00",
  "%ff",
  "%FF%FE",
  "%E0%A4%A",
  "%ED%A0%80",
  "%C0%AF",
  "%2F",
  "%2e%2e",
  "%252F",
  "%u0041",
  "%0d%0a",
  "%23",
  "%3F",
  "%26",
  "%3D",
];

function escapeString(s: string): string {
  return encodeURIComponent(s);
}

/** A value for a digit key (AGS, ARS, PLZ): mostly wrong in one way or another. */
function digitsValue(rng: Rng, length: number): string {
  const digits = () => Array.from({ length }, () => String(rng.int(10))).join("");
  return rng.weighted<() => string>([
    [3, digits],
    [2, () => digits().slice(0, rng.int(length))],
    [2, () => digits() + String(rng.int(10)).repeat(rng.range(1, 4))],
    [2, () => {
      const d = digits().split("");
      d[rng.int(length)] = rng.pick(["a", " ", "-", "+", ".", "x", "٣", "０"]);
      return d.join("");
    }],
    [1, () => "9".repeat(rng.range(1, 400))],
    [1, () => `-${digits()}`],
    [1, () => `${digits()}e3`],
    [1, () => `0x${digits()}`],
    [1, () => " ".repeat(rng.range(1, 3)) + digits()],
    [1, () => "\uff10".repeat(length)],
  ])();
}

/** A free-text value: long, empty, unicode, control characters, junk. */
function textValue(rng: Rng): string {
  return rng.weighted<() => string>([
    [2, () => ""],
    [3, () => rng.pick(["Stuttgart", "München", "Muenchen", "TAUFKIRCHEN", "garch", "x"])],
    [2, () => "a".repeat(rng.range(100, 6000))],
    [3, () => Array.from({ length: rng.range(1, 20) }, () => rng.pick(UNICODE)).join("")],
    [1, () => "\u0000\u0001\u001f\u007f"],
    [1, () => "<script>alert(1)</script>"],
    [1, () => "' OR 1=1 --"],
    [1, () => "${jndi:ldap://x}"],
    [1, () => "../../../etc/passwd"],
    [1, () => "\\u0000"],
  ])();
}

/** A query value, already encoded for the request line (or deliberately badly encoded). */
function queryValue(rng: Rng, name: string): string {
  const plain = (): string => {
    switch (name) {
      case "ags":
        return digitsValue(rng, 8);
      case "ars":
        return digitsValue(rng, 12);
      case "plz":
        return digitsValue(rng, 5);
      case "evidenceType":
        return rng.chance(0.5) ? rng.pick(EVIDENCE_TYPES) : slugValue(rng);
      case "providerId":
        return rng.chance(0.5) ? rng.pick(PROVIDERS) : slugValue(rng);
      case "limit":
        return rng.pick(["0", "1", "100", "101", "-1", "1e2", "001", "9".repeat(30), "NaN", ""]);
      default:
        return textValue(rng);
    }
  };
  return rng.weighted<() => string>([
    [6, () => escapeString(plain())],
    [2, () => plain().replace(/[#\s]/g, "")],
    [2, () => escapeString(plain()) + rng.pick(PERCENT_JUNK)],
    [1, () => rng.pick(PERCENT_JUNK).repeat(rng.range(1, 50))],
    [1, () => "%41".repeat(rng.range(1, 3000))],
  ])();
}

function slugValue(rng: Rng): string {
  return rng.weighted<() => string>([
    [2, () => rng.pick(EVIDENCE_TYPES.concat(PROVIDERS))],
    [2, () => `fz-${rng.u32().toString(36)}`],
    [1, () => "A-UPPER"],
    [1, () => "-lead"],
    [1, () => "a".repeat(rng.range(60, 300))],
    [1, () => ""],
    [1, () => "../../x"],
    [1, () => "x/y"],
    [1, () => "x y"],
    [1, () => rng.pick(UNICODE)],
    [1, () => "con.json"],
    [1, () => "__proto__"],
  ])();
}

/** A path segment, encoded (or badly encoded) for the request line. */
function segmentValue(rng: Rng, valid: readonly string[]): string {
  return rng.weighted<() => string>([
    [3, () => rng.pick(valid)],
    [3, () => escapeString(slugValue(rng))],
    [2, () => rng.pick(PERCENT_JUNK)],
    [1, () => rng.pick(["..", ".", "%2e%2e", "..%2f..%2f", "%2e", "...."])],
    [1, () => escapeString(rng.pick(UNICODE).repeat(rng.range(1, 50)))],
    [1, () => "x".repeat(rng.range(200, 4000))],
    [1, () => digitsValue(rng, rng.pick([5, 8, 12]))],
    [1, () => escapeString(crypto.randomUUID()).toUpperCase()],
    [1, () => rng.pick(valid) + "/" + rng.pick(valid)],
    [1, () => rng.pick(valid) + "/"],
  ])();
}

function queryString(rng: Rng, names: readonly string[]): string {
  const count = rng.weighted([[1, 0], [3, 1], [4, 2], [2, 3], [1, 6]] as const);
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = rng.weighted<() => string>([
      [10, () => rng.pick(names)],
      [1, () => rng.pick(["x", "url", "callback", "__proto__", "constructor", "", "a[]"])],
      [1, () => rng.pick(PERCENT_JUNK)],
      [1, () => rng.pick(names).toUpperCase()],
    ])();
    const form = rng.weighted<() => string>([
      [10, () => `${name}=${queryValue(rng, name)}`],
      [1, () => name],
      [1, () => `${name}=`],
      [1, () => `${name}==${queryValue(rng, name)}`],
    ])();
    parts.push(form);
    if (rng.chance(0.1)) parts.push(form); // a repeated parameter
  }
  const sep = rng.weighted([[20, "&"], [1, "&&"], [1, ";"]] as const);
  const tail = rng.weighted([[20, ""], [1, "#frag"], [1, "&"], [1, "?"]] as const);
  return parts.length === 0 && rng.chance(0.5) ? "" : `?${parts.join(sep)}${tail}`;
}

// ---------------------------------------------------------------------------------------
// Tokens

function b64url(bytes: Uint8Array | string): string {
  const data = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  let s = "";
  for (const b of data) s += String.fromCharCode(b);
  return btoa(s).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

function fromB64url(part: string): string {
  const s = part.replace(/-/g, "+").replace(/_/g, "/");
  return decoder.decode(
    Uint8Array.from(atob(s + "=".repeat((4 - s.length % 4) % 4)), (c) => c.charCodeAt(0)),
  );
}

/** A broken, forged or foreign variant of a real JWT. */
export function tamperedToken(rng: Rng, real: string): string {
  const [h = "", p = "", s = ""] = real.split(".");
  const header = JSON.parse(fromB64url(h)) as Record<string, unknown>;
  const payload = JSON.parse(fromB64url(p)) as Record<string, unknown>;
  return rng.weighted<() => string>([
    [2, () => real.slice(0, rng.int(real.length))],
    [2, () => {
      const i = rng.int(s.length);
      const c = s[i] === "A" ? "B" : "A";
      return `${h}.${p}.${s.slice(0, i)}${c}${s.slice(i + 1)}`;
    }],
    [2, () => `${b64url(JSON.stringify({ ...header, alg: "none" }))}.${p}.`],
    [1, () => `${b64url(JSON.stringify({ alg: "none" }))}.${p}.${s}`],
    [2, () => `${h}.${b64url(JSON.stringify({ ...payload, roles: ["operator"] }))}.${s}`],
    [1, () => `${h}.${b64url(JSON.stringify({ ...payload, exp: 9_999_999_999 }))}.${s}`],
    [1, () => `${b64url(JSON.stringify({ ...header, alg: "HS256" }))}.${p}.${s}`],
    [1, () => `${b64url(JSON.stringify({ ...header, kid: "x".repeat(5000) }))}.${p}.${s}`],
    [1, () => `${b64url(JSON.stringify({ ...header, kid: "../../etc/passwd" }))}.${p}.${s}`],
    [1, () => `${b64url(JSON.stringify({ ...header, crit: ["exp"], b64: false }))}.${p}.${s}`],
    [1, () => `${b64url(JSON.stringify({ ...header, jku: "http://evil/jwks" }))}.${p}.${s}`],
    [1, () => `${b64url('"header"')}.${p}.${s}`],
    [1, () => `${b64url("[1,2]")}.${b64url("null")}.${s}`],
    [1, () => `${b64url("{")}.${p}.${s}`],
    [1, () => `${h}.${p}`],
    [1, () => `${h}.${p}.${s}.${s}`],
    [1, () => `${h}..${s}`],
    [1, () => `..`],
    [1, () => `${h}.${p}.${s}`.replace(/[-_]/g, "+")],
    [1, () => `${real}=`],
  ])();
}

function randomToken(rng: Rng): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";
  const n = rng.weighted([[4, rng.range(1, 200)], [1, rng.range(200, 9000)]] as const);
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[rng.int(alphabet.length)];
  return s;
}

/** An Authorization header value (or none). */
function authorization(rng: Rng, good: readonly string[], creds: FuzzCredentials): string | null {
  const real = rng.pick([creds.consumer, creds.dsc, creds.operator, creds.provider]);
  return rng.weighted<() => string | null>([
    [8, () => `Bearer ${rng.pick(good)}`],
    [2, () => null],
    [3, () => `Bearer ${tamperedToken(rng, real)}`],
    [1, () => `Bearer ${randomToken(rng)}`],
    [1, () => rng.pick(["Bearer", "Bearer ", "Bearer  x", "bearer", "Basic YTpi", "Token x", ""])],
    [1, () => `bearer ${rng.pick(good)}`],
    [1, () => `Bearer ${rng.pick(good)} `],
    [1, () => `Bearer ${rng.pick(good)}, Bearer ${real}`],
    [1, () => `Bearer ${creds.admin.slice(0, -1)}`],
    [1, () => `Bearer ${"A".repeat(rng.range(8000, 30_000))}`],
    [1, () => `Bearer ${rng.pick(good)}\u00ff`],
  ])();
}

// ---------------------------------------------------------------------------------------
// Bodies

function jsonValue(rng: Rng, depth: number): unknown {
  if (depth > 4) return rng.pick([null, 0, "", true]);
  return rng.weighted<() => unknown>([
    [2, () => textValue(rng)],
    [1, () => rng.pick([0, -0, 1.5, -1, 2 ** 53 + 1, Number.MAX_VALUE, 1e-320])],
    [1, () => rng.chance(0.5)],
    [1, () => null],
    [1, () => Array.from({ length: rng.int(4) }, () => jsonValue(rng, depth + 1))],
    [1, () => {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(4); i > 0; i--) {
        o[textValue(rng).slice(0, 20)] = jsonValue(rng, depth + 1);
      }
      return o;
    }],
  ])();
}

/** A JSON-ish body around `template`: a field wrong, missing, extra, or the text broken. */
function jsonBody(rng: Rng, template: Record<string, unknown>): Uint8Array {
  const keys = Object.keys(template);
  const text = rng.weighted<() => string>([
    [4, () => {
      const o = { ...template };
      const key = rng.pick(keys);
      o[key] = jsonValue(rng, 0);
      return JSON.stringify(o);
    }],
    [2, () => {
      const o = { ...template };
      delete o[rng.pick(keys)];
      return JSON.stringify(o);
    }],
    [1, () => JSON.stringify({ ...template, [textValue(rng).slice(0, 30)]: 1 })],
    [1, () => JSON.stringify(template)],
    [2, () => {
      // A string field with characters the database cannot store or the log must survive.
      const o = { ...template };
      const key = rng.pick(keys);
      o[key] = `${String(o[key])}${rng.pick(["\u0000", "\ud800", "\u001b[31m", "\u2028"])}`;
      return JSON.stringify(o);
    }],
    [2, () => JSON.stringify(template).slice(0, rng.int(JSON.stringify(template).length))],
    [1, () => JSON.stringify(template) + rng.pick(["}", ",", " x", "\u0000", "[]"])],
    [1, () => JSON.stringify(template).replace(/"/g, "'")],
    [1, () => {
      const key = rng.pick(keys);
      const number = rng.pick(["1e999", "-1e999", "123456789012345678901234567890", "-0", "0x10"]);
      return JSON.stringify({ ...template, [key]: 0 }).replace(`"${key}":0`, `"${key}":${number}`);
    }],
    [1, () => {
      const n = rng.range(100, 20_000);
      const key = rng.pick(keys);
      return JSON.stringify({ ...template, [key]: 0 }).replace(
        `"${key}":0`,
        `"${key}":${"[".repeat(n)}${"]".repeat(n)}`,
      );
    }],
    [1, () => `{${'"a":'.repeat(rng.range(1, 500))}1${"}".repeat(1)}`],
    [1, () => `{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}`],
    [1, () => JSON.stringify(jsonValue(rng, 0))],
    [1, () => rng.pick(["", " ", "null", "[]", "{}", "NaN", "{,}", "\ufeff{}", "//c\n{}"])],
    [1, () => `{"a":"${"\\u00e4".repeat(rng.range(1, 5000))}"}`],
  ])();
  if (rng.chance(0.05)) return rng.bytes(rng.range(1, 2000));
  if (rng.chance(0.05)) {
    const bytes = encoder.encode(text);
    const out = new Uint8Array(bytes.length + 2);
    out.set(bytes);
    out.set([0xc3, 0x28], bytes.length); // invalid UTF-8
    return out;
  }
  return encoder.encode(text);
}

function oversized(rng: Rng, bytes: number): Uint8Array {
  const body = new Uint8Array(bytes + rng.range(1, 4096));
  body.fill(0x20);
  body[0] = 0x7b; // "{", so it looks like JSON to anyone peeking
  return body;
}

const TABLE_TEMPLATES: Record<string, Record<string, unknown>> = {
  "regions": { name: "Fuzzhausen", ars: "081110000000" },
  "postcodes": { places: [{ ags: "08111000", ort: "Stuttgart" }] },
  "evidence-types": { name: "Fuzz", description: "x" },
  "providers": { name: "Fuzz", endpoint: "https://fuzz.example/evidence" },
  "routes": { evidenceType: "fahrzeugzulassung", regionKey: "08", providerId: "kba-zfzr" },
  "clients": {
    name: "Fuzz",
    roles: ["consumer"],
    jwks: { keys: [{ kty: "EC", crv: "P-256", x: "AA", y: "AA" }] },
  },
  "permissions": {
    consumerId: "stuttgart-bewohnerparken",
    evidenceType: "fahrzeugzulassung",
    providerId: null,
    purposes: ["fuzz"],
    legalBases: ["fuzz"],
    idnrAllowed: false,
    validFrom: "2020-01-01T00:00:00Z",
  },
};

const TABLE_IDS: Record<string, () => string> = {
  "regions": () => "08111000",
  "postcodes": () => "70173",
  "evidence-types": () => "fahrzeugzulassung",
  "providers": () => "kba-zfzr",
  "routes": () => "kba-bund",
  "clients": () => "stuttgart-bewohnerparken",
  "permissions": () => "stuttgart-parken-fahrzeug",
};

// Ids that never name a demo row, so that writes and deletes cannot take away the demo
// clients, permissions and routes the rest of the run needs.
function writableId(rng: Rng, table: string): string {
  switch (table) {
    case "regions":
      return rng.pick(["0999" + String(rng.range(1000, 9999)), digitsValue(rng, 8)]);
    case "postcodes":
      return rng.pick(["0" + String(rng.range(1000, 9999)), digitsValue(rng, 5)]);
    default:
      return rng.weighted<() => string>([
        [4, () => `fz-${rng.int(50)}`],
        [1, () => escapeString(slugValue(rng)).replace(/^(fahrzeug|kba|stuttgart)/, "fz")],
        [1, () => rng.pick(PERCENT_JUNK)],
      ])();
  }
}

function importBody(rng: Rng, table: string): { type: string; body: Uint8Array } {
  const template = TABLE_TEMPLATES[table] ?? { name: "x" };
  if (rng.chance(0.5)) {
    const lines: string[] = [];
    for (let i = rng.range(0, 6); i > 0; i--) {
      const line = decoder.decode(jsonBody(rng, { id: writableId(rng, table), ...template }));
      lines.push(line.replace(/\n/g, ""));
    }
    const type = rng.pick([
      "application/x-ndjson",
      "application/x-ndjson; charset=utf-8",
      "application/jsonl",
      "text/plain",
    ]);
    return { type, body: encoder.encode(lines.join(rng.pick(["\n", "\r\n", "\n\n"]))) };
  }
  const header = ["id", ...Object.keys(template)];
  if (rng.chance(0.2)) header.push(rng.pick(["extra", "", "id", '"']));
  const rows = [header.join(",")];
  for (let i = rng.range(0, 6); i > 0; i--) {
    rows.push(
      header.map(() =>
        rng.weighted<() => string>([
          [4, () => textValue(rng).slice(0, 40).replace(/[\r\n]/g, "")],
          [1, () => `"${textValue(rng).slice(0, 20)}`],
          [1, () => `"a""b"`],
          [1, () => `"a"b`],
          [1, () => writableId(rng, table)],
        ])()
      ).slice(0, rng.range(1, header.length + 2)).join(rng.pick([",", ";", "\t"])),
    );
  }
  let body: Uint8Array = encoder.encode(rows.join("\n"));
  if (rng.chance(0.1)) body = Uint8Array.from([...body, 0xff, 0xfe, 0x80]);
  if (rng.chance(0.05)) body = rng.bytes(rng.range(1, 3000));
  return {
    type: rng.pick(["text/csv", "text/csv; header=present", "text/csv; charset=latin1"]),
    body,
  };
}

function tokenForm(rng: Rng, creds: FuzzCredentials): { type: string; body: Uint8Array } {
  const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
  const fields: [string, string][] = [
    ["grant_type", rng.weighted([[6, "client_credentials"], [1, "password"], [1, ""]] as const)],
    ["client_id", rng.pick(["stuttgart-bewohnerparken", "nobody", "", slugValue(rng)])],
    ["client_assertion_type", rng.weighted([[6, assertionType], [1, "x"]] as const)],
    [
      "client_assertion",
      rng.weighted<() => string>([
        [3, () => tamperedToken(rng, creds.consumer)],
        [1, () => randomToken(rng)],
        [1, () => ""],
      ])(),
    ],
  ];
  const kept = fields.filter(() => rng.chance(0.85));
  if (rng.chance(0.1)) kept.push(rng.pick(fields));
  let text = kept.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
  text = rng.weighted<() => string>([
    [8, () => text],
    [1, () => text + rng.pick(PERCENT_JUNK)],
    [1, () => text.replace(/=/g, rng.pick(["==", "", "%3D"]))],
    [1, () => text + "&" + "a=b&".repeat(rng.range(100, 5000))],
    [1, () => JSON.stringify(Object.fromEntries(kept))],
  ])();
  let body: Uint8Array = encoder.encode(text);
  if (rng.chance(0.05)) body = rng.bytes(rng.range(1, 3000));
  if (rng.chance(0.03)) body = oversized(rng, 16 * 1024);
  const type = rng.weighted(
    [
      [8, "application/x-www-form-urlencoded"],
      [1, "application/x-www-form-urlencoded; charset=iso-8859-1"],
      [1, "application/json"],
      [1, "multipart/form-data; boundary=x"],
      [1, ""],
    ] as const,
  );
  return { type, body };
}

// ---------------------------------------------------------------------------------------
// Headers

function contentType(rng: Rng, right: string): string | null {
  return rng.weighted<() => string | null>([
    [10, () => right],
    [1, () => null],
    [1, () => ""],
    [1, () => "text/plain"],
    [1, () => `${right}; charset=latin1`],
    [1, () => `${right.toUpperCase()}`],
    [1, () => "application/json-patch+json"],
    [1, () => "application/jsonx"],
    [1, () => `${right}; ${"a=b; ".repeat(rng.range(10, 500))}`],
    [1, () => "\u00ff\u00fe/\u00e4"],
    [1, () => "*/*"],
  ])();
}

function idnrValue(rng: Rng): string {
  return rng.weighted<() => string>([
    [3, () => "86095742719"],
    [3, () => Array.from({ length: 11 }, () => String(rng.int(10))).join("")],
    [2, () => digitsValue(rng, 11)],
    [1, () => " 86095742719 "],
    [1, () => "86095742718"],
    [1, () => "00000000000"],
    [1, () => "\u00b9" + "1".repeat(10)],
    [1, () => ""],
  ])();
}

/** A purpose or legal basis header value: plain, RFC 8187, Latin-1 bytes, or junk. */
function freeTextHeader(rng: Rng, good: string): string {
  const latin1 = (s: string) => String.fromCharCode(...encoder.encode(s));
  return rng.weighted<() => string>([
    [6, () => latin1(good)],
    [3, () => `UTF-8''${encodeURIComponent(good)}`],
    [1, () => `UTF-8''${rng.pick(PERCENT_JUNK)}`],
    [1, () => `UTF-8''${encodeURIComponent(good)}%00`],
    [1, () => "x".repeat(rng.range(190, 20_000))],
    [1, () => ""],
    [1, () => latin1(printable(textValue(rng))).slice(0, 3000)],
    [1, () => "\u00c3\u0028"],
    [1, () => "utf-8'de'%C2%A7"],
  ])();
}

// Control characters cannot travel in a header value at all; the rest can.
function printable(s: string): string {
  return [...s].filter((c) => c.charCodeAt(0) >= 0x20 && c !== "\u007f").join("");
}

function reprDigest(rng: Rng): string {
  const good = `sha-256=:${btoa(String.fromCharCode(...rng.bytes(32)))}:`;
  return rng.weighted<() => string>([
    [3, () => good],
    [1, () => `sha-512=:${btoa(String.fromCharCode(...rng.bytes(64)))}:`],
    [1, () => `sha-256=:${"A".repeat(rng.range(0, 100))}:`],
    [1, () => `sha-256=${btoa("x")}`],
    [1, () => `md5=:AAAA:, ${good}`],
    [1, () => `${good}, ${good}`],
    [1, () => "sha-256=:%%%:"],
    [1, () => "sha-256=:" + "=".repeat(rng.range(1, 2000)) + ":"],
    [1, () => ""],
  ])();
}

function junkHeaders(rng: Rng): [string, string][] {
  const out: [string, string][] = [];
  if (rng.chance(0.1)) out.push(["x-fuzz", "a".repeat(rng.range(1000, 30_000))]);
  if (rng.chance(0.05)) {
    for (let i = rng.range(10, 80); i > 0; i--) out.push([`x-h${i}`, String(i)]);
  }
  if (rng.chance(0.05)) out.push(["x-bytes", "\u0080\u00ff\u00fe\u00c3"]);
  if (rng.chance(0.05)) out.push(["accept", "application/xml"]);
  if (rng.chance(0.05)) out.push(["x-forwarded-host", "evil.example"]);
  if (rng.chance(0.03)) out.push(["accept-encoding", "gzip, br, zstd, *;q=0"]);
  if (rng.chance(0.03)) out.push(["expect", "100-continue"]);
  return out;
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

// The Bewohnerparkausweis pilot's 0101: valid for the demo consumer, mutated below.
const PILOT_0101 = new TextDecoder().decode(
  Deno.readFileSync(new URL("../demo/xnachweis/bewohnerparkausweis.0101.xml", import.meta.url)),
);
const XML_TAGS = [
  "IDNr",
  "EvidenceTypeClassification",
  "Identifier",
  "IssuedToken",
  "DateOfBirth",
  "FamilyName",
  "nachrichtenUUID",
  "code",
];

/** A 0101 that is right, or wrong in one of the ways an XML body can be. */
function xmlBody(rng: Rng): Uint8Array {
  const base = PILOT_0101;
  const at = () => rng.int(base.length);
  const text = rng.weighted<() => string | Uint8Array>([
    [4, () => base],
    [2, () => base.slice(0, at())],
    [3, () => {
      const tag = rng.pick(XML_TAGS);
      return base.replace(
        new RegExp(`(<[\\w-]*:?${tag}[^>]*>)[^<]*(<)`),
        (_, open, close) => `${open}${rng.pick(JUNK_TEXT)}${close}`,
      );
    }],
    [1, () =>
      `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>` +
      base.replace(/^<\?xml[^>]*>/, "").replace("Müller", "&x;")],
    [1, () => {
      const lol = Array.from(
        { length: 9 },
        (_, i) => `<!ENTITY l${i + 1} "${`&l${i};`.repeat(10)}">`,
      ).join("");
      return `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY l0 "lol">${lol}]><l>&l9;</l>`;
    }],
    [
      1,
      () => base.replace('encoding="utf-8"', rng.pick(['encoding="latin1"', 'encoding="UTF-16"'])),
    ],
    [1, () => {
      const i = at();
      return `${base.slice(0, i)}${
        rng.pick([
          "<!-- x -->",
          "<![CDATA[<a>]]>",
          "<?pi x?>",
          "&amp;",
          "&#0;",
          "&#xD800;",
          "]]>",
          "<",
          "&",
        ])
      }${base.slice(i)}`;
    }],
    [1, () => "<a>".repeat(rng.range(100, 20_000))],
    [1, () => {
      const bytes = encoder.encode(base);
      for (let n = rng.range(1, 20); n > 0; n--) bytes[rng.int(bytes.length)] = rng.int(256);
      return bytes;
    }],
    [1, () => rng.bytes(rng.range(0, 3000))],
    [1, () => oversized(rng, 1024 * 1024)],
  ])();
  return typeof text === "string" ? encoder.encode(text) : text;
}

const JUNK_TEXT = [
  "",
  "86095742718",
  "123",
  "x".repeat(300),
  "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/unknown",
  "not.a.token",
  "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
  "kba-zfzr",
  "stuttgart-bewohnerparken",
  "\u202e\u0000",
  "2026-02-30",
];

function xnachweisDraft(rng: Rng, creds: FuzzCredentials): Draft {
  const headers: [string, string][] = [];
  if (rng.chance(0.85)) headers.push(["lotse-purpose", freeTextHeader(rng, creds.purpose)]);
  if (rng.chance(0.85)) {
    headers.push(["lotse-legal-basis", freeTextHeader(rng, creds.legalBasis)]);
  }
  const ct = contentType(rng, "application/xml");
  if (ct !== null) headers.push(["content-type", ct]);
  const target = rng.chance(0.9) ? "/xnachweis/v1/evidence-requests" : rng.pick([
    "/xnachweis/v1/evidence-requests/x",
    "/xnachweis/v1",
    "/xnachweis/v1/evidence-requests?x=1",
  ]);
  return withAuth(
    rng,
    { label: "xnachweis", method: methodFor(rng, "POST"), target, headers, body: xmlBody(rng) },
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
  [12, xnachweisDraft],
  [5, transfersDraft],
  [14, adminRowDraft],
  [8, adminImportDraft],
  [3, adminTablesDraft],
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

// ---------------------------------------------------------------------------------------
// Raw HTTP/1.1

/** A response as read off the wire. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Uint8Array;
}

function latin1Bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The bytes of a request for `transport` (adds `Host`, `Connection: close`, framing). */
export function requestBytes(request: FuzzRequest, host: string): Uint8Array {
  // The request line as UTF-8 (a client's idea of a URL), header values as Latin-1 bytes.
  const line = encoder.encode(`${request.method} ${request.target} HTTP/1.1\r\n`);
  const head: string[] = [];
  if (!request.headers.some(([n]) => n === "host")) head.push(`host: ${host}`);
  for (const [name, value] of request.headers) head.push(`${name}: ${value}`);
  head.push("connection: close");
  const body = request.body;
  let payload: Uint8Array = new Uint8Array(0);
  if (request.transport === "raw-bad-chunked") {
    head.push("transfer-encoding: chunked");
    const half = body?.subarray(0, Math.ceil((body?.length ?? 0) / 2)) ?? new Uint8Array(0);
    payload = concat([
      latin1Bytes(`${half.length.toString(16)}\r\n`),
      half,
      latin1Bytes("\r\nzz\r\n"),
    ]);
  } else if (request.transport === "raw-short-body") {
    const n = body?.length ?? 0;
    head.push(`content-length: ${n + 100}`);
    payload = body ?? payload;
  } else if (body !== null) {
    head.push(`content-length: ${body.length}`);
    payload = body;
  }
  return concat([line, latin1Bytes(head.join("\r\n") + "\r\n\r\n"), payload]);
}

function dechunk(body: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < body.length) {
    let end = at;
    while (end + 1 < body.length && !(body[end] === 13 && body[end + 1] === 10)) end++;
    const size = parseInt(decoder.decode(body.subarray(at, end)), 16);
    if (!(size > 0)) break;
    parts.push(body.subarray(end + 2, end + 2 + size));
    at = end + 2 + size + 2;
  }
  return concat(parts);
}

/** Parses a complete HTTP/1.1 response (read until the server closed); null if there is none. */
export function parseResponse(bytes: Uint8Array): RawResponse | null {
  let split = -1;
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      split = i;
      break;
    }
  }
  if (split === -1) return null;
  const [statusLine = "", ...lines] = decoder.decode(bytes.subarray(0, split)).split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!Number.isInteger(status)) return null;
  // An interim answer (100 Continue) comes before the real one.
  if (status < 200) return parseResponse(bytes.subarray(split + 4));
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let body = bytes.subarray(split + 4);
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) body = dechunk(body);
  const length = headers.get("content-length");
  if (length !== null && Number(length) < body.length) body = body.subarray(0, Number(length));
  return { status, headers, body };
}

/** Options for {@linkcode sendRaw}. */
export interface SendRawOptions {
  /** Close our sending side after writing (a truncated body then ends there). */
  halfClose?: boolean;
  /** Give up after this long; default 10 s. */
  timeoutMs?: number;
}

/**
 * Writes `bytes` to `hostname:port` on a fresh connection and reads until the server
 * closes it. Returns the bytes read (empty when the server closed without answering) and
 * whether the wait timed out.
 */
export async function sendRaw(
  address: { hostname: string; port: number },
  bytes: Uint8Array,
  options: SendRawOptions = {},
): Promise<{ bytes: Uint8Array; timedOut: boolean }> {
  const conn = await Deno.connect({ hostname: address.hostname, port: address.port });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch { /* already closed */ }
  }, options.timeoutMs ?? 10_000);
  const parts: Uint8Array[] = [];
  try {
    // Writing may fail when the server answers early and closes; the answer still counts.
    const writing = (async () => {
      let at = 0;
      while (at < bytes.length) at += await conn.write(bytes.subarray(at));
      if (options.halfClose) await conn.closeWrite();
    })().catch(() => {});
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch {
        break; // reset by the server after its answer, or closed by the timer
      }
      if (n === null) break;
      parts.push(buffer.slice(0, n));
    }
    await writing;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
  return { bytes: concat(parts), timedOut };
}
