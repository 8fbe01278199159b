/**
 * The values the fuzz suite mixes into requests: malformed query values, slugs and path
 * segments, tampered and random tokens, broken JSON, CSV and NDJSON bodies, token forms and
 * odd headers. Everything is drawn from one {@linkcode Rng}, so a seed gives the same values.
 *
 * @module
 */
import { TABLE_NAMES } from "../src/model.ts";
import type { Rng } from "../tools/rng.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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

export const EVIDENCE_TYPES = [
  "fahrzeugzulassung",
  "gewerberegisterauszug",
  "handelsregisterauszug",
  "meldebescheinigung",
];
export const PROVIDERS = ["kba-zfzr", "gewerberegister-08111000", "handelsregister-ag-stuttgart"];
export const TABLES: readonly string[] = TABLE_NAMES;
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
export const PERCENT_JUNK = [
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
export function queryValue(rng: Rng, name: string): string {
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
export function segmentValue(rng: Rng, valid: readonly string[]): string {
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

export function queryString(rng: Rng, names: readonly string[]): string {
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
export function authorization(
  rng: Rng,
  good: readonly string[],
  creds: FuzzCredentials,
): string | null {
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
export function jsonBody(rng: Rng, template: Record<string, unknown>): Uint8Array {
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

export function oversized(rng: Rng, bytes: number): Uint8Array {
  const body = new Uint8Array(bytes + rng.range(1, 4096));
  body.fill(0x20);
  body[0] = 0x7b; // "{", so it looks like JSON to anyone peeking
  return body;
}

export const TABLE_TEMPLATES: Record<string, Record<string, unknown>> = {
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

export const TABLE_IDS: Record<string, () => string> = {
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
export function writableId(rng: Rng, table: string): string {
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

export function importBody(rng: Rng, table: string): { type: string; body: Uint8Array } {
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

export function tokenForm(rng: Rng, creds: FuzzCredentials): { type: string; body: Uint8Array } {
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

export function contentType(rng: Rng, right: string): string | null {
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

export function idnrValue(rng: Rng): string {
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
export function freeTextHeader(rng: Rng, good: string): string {
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

export function reprDigest(rng: Rng): string {
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

export function junkHeaders(rng: Rng): [string, string][] {
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
