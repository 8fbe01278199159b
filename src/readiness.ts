/**
 * The readiness check (docs/api.md §3.3): the conformance checks a register must pass before
 * production, run against the provider's REGISTERED endpoints only (never a URL from the
 * request), through transport's endpoint rule and the provider's own CA, as a transfer would
 * reach it. Each check has an id, a title, pass/fail and a detail a register's developer can
 * act on; the report is stored so the operator sees the latest one when deciding.
 *
 * Checks: TLS as registered; a valid token accepted; `Repr-Digest` matching the body; headers
 * within `LOTSE_PROVIDER_TIMEOUT_MS`; expired, wrong-`aud`, unknown-`kid` and `alg: none`
 * tokens refused; refusals as problem+json; with an XNachweis endpoint, a schema-valid 0102
 * for a valid 0101 and a schema-valid 0103 for a refused one.
 *
 * @example
 * ```ts
 * const report = await checkReadiness(target, { keys, issuer, endpoints, clients, timeoutMs });
 * report.checks.filter((c) => !c.passed).map((c) => c.detail);
 * ```
 *
 * @module
 */
import { conformanceTokens, type KeyRing, sealEvidenceToken } from "../crypto/mod.ts";
import { formatDigest, parseDigest, sha256Base64 } from "../crypto/digest.ts";
import { createHash } from "node:crypto";
import type { EndpointPolicy } from "./endpoint_policy.ts";
import type { ProviderClients } from "./transport.ts";
import type { Provider } from "./model.ts";
import type { Snapshot } from "./store.ts";
import { Problem } from "./problem.ts";
import type { Db } from "../db/types.ts";
import {
  getReadiness,
  insertReadiness,
  providerRegistration,
  type ReadinessItem,
  type StoredReadiness,
} from "../db/registrations.ts";
import {
  buildEvidenceRequest,
  parseXml,
  PROVIDER_CLASSIFICATION,
  requestDigest,
  REQUESTER_CLASSIFICATION,
  schemaErrors,
  setIssuedToken,
  XML_CONTENT_TYPE,
  XmlRefusal,
} from "./xnachweis/mod.ts";

export { latestReadiness, type ReadinessItem, type StoredReadiness } from "../db/registrations.ts";

/** What is checked: a provider's registered entry (from the tables or a registration). */
export interface ReadinessTarget {
  readonly providerId: string;
  readonly name: string;
  readonly endpoint: string;
  readonly xnachweisEndpoint: string | null;
  readonly caCert: string | null;
  /** The evidence types it serves; the first is asked for. */
  readonly evidenceTypes: readonly string[];
}

/** The `fetch` the checks call (Deno's, with its `client` extension). */
export type ReadinessFetch = (
  input: URL,
  init: RequestInit & { client?: Deno.HttpClient },
) => Promise<Response>;

/** What the checks need. */
export interface ReadinessOptions {
  readonly keys: Pick<KeyRing, "signingKey">;
  /** Lotse's issuer URL (`iss` of the tokens). */
  readonly issuer: string;
  readonly endpoints: EndpointPolicy;
  readonly clients: ProviderClients;
  /** `LOTSE_PROVIDER_TIMEOUT_MS`: the answer's headers must come within this. */
  readonly timeoutMs: number;
  /** An evidence type's name and EU classification (for the XNachweis checks). */
  readonly evidenceType: (
    id: string,
  ) => { readonly name: string; readonly classification?: string | null } | undefined;
  readonly fetch?: ReadinessFetch;
}

/** The consumer id the check's tokens are issued to. */
export const READINESS_CONSUMER = "lotse-readiness-check";

/** Largest answer body read for the digest check. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

type Exchange =
  | {
    readonly ok: true;
    readonly status: number;
    readonly headers: Headers;
    readonly body: Uint8Array;
    readonly headersMs: number;
  }
  | { readonly ok: false; readonly error: string; readonly timedOut: boolean };

/** Runs every check against `target`'s registered endpoints. */
export async function checkReadiness(
  target: ReadinessTarget,
  options: ReadinessOptions,
): Promise<{ passed: boolean; checks: ReadinessItem[] }> {
  const checks: ReadinessItem[] = [];
  const add = (id: string, title: string, passed: boolean, detail: string) =>
    checks.push({ id, title, passed, detail });
  const provider: Provider = {
    id: target.providerId,
    name: target.name,
    endpoint: target.endpoint,
    caCert: target.caCert,
    xnachweisEndpoint: target.xnachweisEndpoint,
  };
  const evidenceType = target.evidenceTypes[0];
  const url = options.endpoints.url(target.endpoint);
  if (typeof url === "string" || evidenceType === undefined) {
    const why = typeof url === "string"
      ? `Der registrierte Endpunkt ist nicht zulässig: ${url}`
      : "Der Anbieter bedient keine Nachweisart: ohne Route kann nichts geprüft werden";
    add("endpoint", "Registrierter Endpunkt erreichbar und zulässig", false, why);
    return { passed: false, checks };
  }
  const client = options.clients.get(provider);
  const doFetch = options.fetch ?? (fetch as ReadinessFetch);
  // Long enough to measure an answer that misses the timeout, bounded.
  const waitMs = Math.min(2 * options.timeoutMs + 1000, 120_000);
  const exchange = async (
    to: URL,
    headers: Record<string, string>,
    body: Uint8Array,
  ): Promise<Exchange> => {
    const start = performance.now();
    try {
      const res = await doFetch(to, {
        method: "POST",
        headers: { ...headers, "accept-encoding": "identity" },
        body: body as BodyInit,
        client,
        signal: AbortSignal.timeout(waitMs),
      });
      const headersMs = performance.now() - start;
      return {
        ok: true,
        status: res.status,
        headers: res.headers,
        body: await readCapped(res, MAX_BODY_BYTES),
        headersMs,
      };
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === "TimeoutError";
      return {
        ok: false,
        timedOut,
        error: timedOut ? `keine Antwort nach ${waitMs} ms` : reason(error),
      };
    }
  };

  const body = new TextEncoder().encode("{}");
  const digest = formatDigest("sha-256", sha256Base64(body));
  const tokens = await conformanceTokens(grant(target, evidenceType, digest), {
    keys: options.keys,
    issuer: options.issuer,
  });
  const { alg } = options.keys.signingKey();
  const jsonRequest = (token: string | null) =>
    exchange(url, {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      "lotse-transfer-id": crypto.randomUUID(),
      "lotse-evidence-type": evidenceType,
      "content-type": "application/json",
      "repr-digest": digest,
    }, body);
  // The XNachweis exchanges run beside the JSON ones: a slow register costs its delay once.
  const xnachweis = target.xnachweisEndpoint
    ? xnachweisChecks(target, evidenceType, options, exchange)
    : Promise.resolve([]);
  const [valid, expired, wrongAudience, unknownKid, algNone, noToken] = await Promise.all([
    jsonRequest(tokens.valid),
    jsonRequest(tokens.expired),
    jsonRequest(tokens.wrongAudience),
    jsonRequest(tokens.unknownKid),
    jsonRequest(tokens.algNone),
    jsonRequest(null),
  ]);

  // TLS as registered.
  const tlsTitle = "TLS wie registriert";
  if (url.protocol === "https:") {
    const trust = target.caCert
      ? "mit der registrierten CA (caCert)"
      : "mit den System-Stammzertifikaten";
    add(
      "tls",
      tlsTitle,
      valid.ok,
      valid.ok
        ? `HTTPS-Verbindung zu ${url.host} ${trust} aufgebaut und das Zertifikat geprüft`
        : `Keine HTTPS-Verbindung zu ${url.host} ${trust}: ${valid.error}. Prüfen Sie, ob das ` +
          "Serverzertifikat zum Hostnamen passt und von der registrierten CA ausgestellt ist",
    );
  } else {
    add(
      "tls",
      tlsTitle,
      true,
      `Unverschlüsseltes HTTP auf Loopback (${url.host}): nur für Test und Sidecar zulässig; ` +
        "in Produktion ist ein HTTPS-Endpunkt Pflicht",
    );
  }

  // A valid token is accepted.
  add(
    "valid-token",
    "Gültiges Token wird angenommen",
    valid.ok && valid.status >= 200 && valid.status < 300,
    !valid.ok
      ? `Keine Antwort: ${valid.error}`
      : valid.status < 300 && valid.status >= 200
      ? `Antwort ${valid.status} auf ein gültiges Token (${alg}, aud "${target.providerId}", ` +
        `Nachweisart "${evidenceType}")`
      : `Antwort ${valid.status} auf ein gültiges Token: der Endpunkt muss Lotse-Token annehmen ` +
        `(${alg}, kid aus ${options.issuer}/.well-known/jwks.json, aud "${target.providerId}", ` +
        `typ "lotse-evidence+jwt"); Antwort: ${excerpt(valid.body)}`,
  );

  // Repr-Digest matches the body.
  add("repr-digest", "Repr-Digest passt zum Inhalt", ...digestCheck(valid));

  // Answer within the timeout.
  add(
    "timeout",
    "Antwort innerhalb der Zeitgrenze",
    valid.ok && valid.headersMs <= options.timeoutMs,
    valid.ok
      ? `Antwortkopf nach ${Math.round(valid.headersMs)} ms; Grenze ${options.timeoutMs} ms ` +
        "(LOTSE_PROVIDER_TIMEOUT_MS)" +
        (valid.headersMs > options.timeoutMs
          ? ": Lotse bricht so langsame Abrufe mit 504 ab; antworten Sie schneller oder " +
            "liefern Sie den Kopf sofort und streamen den Inhalt"
          : "")
      : `Keine Antwort innerhalb ${waitMs} ms (Grenze ${options.timeoutMs} ms): ${valid.error}`,
  );

  // Tokens that must be refused.
  const refusals: [string, string, Exchange, string][] = [
    [
      "expired-token",
      "Abgelaufenes Token wird abgelehnt",
      expired,
      "prüfen Sie exp (höchstens 30 s Toleranz)",
    ],
    [
      "wrong-audience",
      "Token für einen anderen Empfänger (aud) wird abgelehnt",
      wrongAudience,
      `prüfen Sie, dass aud genau "${target.providerId}" ist`,
    ],
    [
      "unknown-kid",
      "Token mit unbekanntem Schlüssel (kid) wird abgelehnt",
      unknownKid,
      `nehmen Sie nur Schlüssel aus ${options.issuer}/.well-known/jwks.json an`,
    ],
    [
      "alg-none",
      "Unsigniertes Token (alg: none) wird abgelehnt",
      algNone,
      `lassen Sie nur den alg zu, den die JWKS für den kid nennt ("${alg}"), nie "none"`,
    ],
  ];
  for (const [id, title, result, fix] of refusals) {
    const refused = result.ok && (result.status === 401 || result.status === 403);
    add(
      id,
      title,
      refused,
      !result.ok
        ? `Keine Antwort: ${result.error}`
        : refused
        ? `Abgelehnt mit ${result.status}`
        : `Antwort ${result.status} statt 401 oder 403: ${fix}`,
    );
  }

  // Errors are problem+json.
  const answered = [noToken, expired, wrongAudience, unknownKid, algNone];
  const notProblem = answered.filter((r) => r.ok && r.status >= 400 && !isProblem(r));
  const noTokenProblem = noToken.ok && noToken.status >= 400 && isProblem(noToken);
  const problemDetail = () => {
    if (noTokenProblem && notProblem.length === 0) {
      return "Ablehnungen kommen als problem+json mit type, title, status und detail";
    }
    if (!noToken.ok) return `Keine Antwort auf eine Anfrage ohne Token: ${noToken.error}`;
    if (noToken.status < 400) {
      return `Eine Anfrage ohne Token wurde mit ${noToken.status} beantwortet statt mit 401`;
    }
    const bad = (notProblem[0] ?? noToken) as Exchange & { ok: true };
    return `Ablehnung ${bad.status} kam als "${
      bad.headers.get("content-type") ?? "(kein Content-Type)"
    }": senden Sie application/problem+json mit type, title, status und detail`;
  };
  add(
    "problem-json",
    "Fehler als application/problem+json (RFC 9457)",
    noTokenProblem && notProblem.length === 0,
    problemDetail(),
  );

  checks.push(...await xnachweis);
  return { passed: checks.every((c) => c.passed), checks };
}

/** What the check's tokens grant: the readiness check's own consumer, no IDNr. */
function grant(target: ReadinessTarget, evidenceType: string, requestDigest: string) {
  return {
    consumerId: READINESS_CONSUMER,
    providerId: target.providerId,
    evidenceType,
    purpose: "readiness-check",
    legalBasis: "Readiness-Check vor Produktionsbetrieb (NOOTS)",
    idnrUsed: false,
    requestDigest,
  };
}

async function xnachweisChecks(
  target: ReadinessTarget,
  evidenceType: string,
  options: ReadinessOptions,
  exchange: (to: URL, headers: Record<string, string>, body: Uint8Array) => Promise<Exchange>,
): Promise<ReadinessItem[]> {
  const responseTitle = "XNachweis: gültige Anfrage wird mit schemagültiger 0102 beantwortet";
  const errorTitle = "XNachweis: Ablehnung als schemagültige 0103";
  const url = options.endpoints.url(target.xnachweisEndpoint!);
  const type = options.evidenceType(evidenceType);
  if (typeof url === "string" || !type?.classification) {
    const detail = typeof url === "string"
      ? `Der registrierte XNachweis-Endpunkt ist nicht zulässig: ${url}`
      : `Die Nachweisart "${evidenceType}" hat keine EU-Klassifikation: keine 0101 möglich`;
    return [
      { id: "xnachweis-response", title: responseTitle, passed: false, detail },
      { id: "xnachweis-error", title: errorTitle, passed: false, detail },
    ];
  }
  const message = () =>
    parseXml(
      new TextEncoder().encode(buildEvidenceRequest({
        requesters: [{
          id: READINESS_CONSUMER,
          name: "Lotse Readiness-Check",
          classification: REQUESTER_CLASSIFICATION,
        }],
        provider: {
          id: target.providerId,
          name: target.name,
          classification: PROVIDER_CLASSIFICATION,
        },
        classification: type.classification!,
        evidenceTitle: type.name,
        subject: {
          kind: "natural",
          familyName: "Mustermann",
          givenName: "Erika",
          dateOfBirth: "1964-08-12",
        },
      })),
      { maxBytes: MAX_BODY_BYTES },
    );
  const send = async (expiredToken: boolean) => {
    const doc = message();
    try {
      const sealed = await sealEvidenceToken(grant(target, evidenceType, requestDigest(doc)), {
        keys: options.keys,
        issuer: options.issuer,
        ...(expiredToken ? { now: Date.now() - 3_600_000 } : {}),
      });
      setIssuedToken(doc, sealed.token);
      const bytes = new TextEncoder().encode(doc.toString({ format: false }));
      return await exchange(url, {
        authorization: `Bearer ${sealed.token}`,
        "lotse-transfer-id": crypto.randomUUID(),
        "lotse-evidence-type": evidenceType,
        "content-type": XML_CONTENT_TYPE,
      }, bytes);
    } finally {
      doc.dispose();
    }
  };
  const [ok, refused] = await Promise.all([send(false), send(true)]);
  const judge = (result: Exchange, root: string, wantStatus: (s: number) => boolean) => {
    if (!result.ok) return { passed: false, detail: `Keine Antwort: ${result.error}` };
    if (!wantStatus(result.status)) {
      return {
        passed: false,
        detail: `Antwort ${result.status}, erwartet ${root}; Antwort: ${excerpt(result.body)}`,
      };
    }
    const problems = xmlProblems(result.body, root);
    return problems === null
      ? {
        passed: true,
        detail: `${root} mit Status ${result.status}, schemagültig (XNachweis 1.2.0)`,
      }
      : { passed: false, detail: problems };
  };
  const good = judge(ok, "DE.EvidenceResponse.0102", (s) => s >= 200 && s < 300);
  const bad = judge(refused, "DE.EvidenceErrorResponse.0103", (s) => s >= 400 && s < 500);
  return [
    { id: "xnachweis-response", title: responseTitle, ...good },
    { id: "xnachweis-error", title: errorTitle, ...bad },
  ];
}

function xmlProblems(body: Uint8Array, root: string): string | null {
  let doc;
  try {
    doc = parseXml(body, { maxBytes: MAX_BODY_BYTES });
  } catch (error) {
    if (error instanceof XmlRefusal) {
      return `Die Antwort ist kein wohlgeformtes XML (${error.message}); erwartet ${root}`;
    }
    throw error;
  }
  try {
    if (doc.root.name !== root) return `Antwort ist "${doc.root.name}", erwartet ${root}`;
    const errors = schemaErrors(doc);
    return errors.length === 0
      ? null
      : `${root} ist nicht schemagültig: ${errors.slice(0, 3).join("; ")}`;
  } finally {
    doc.dispose();
  }
}

function digestCheck(result: Exchange): [boolean, string] {
  if (!result.ok) return [false, `Keine Antwort, kein Inhalt zu prüfen: ${result.error}`];
  if (result.status < 200 || result.status >= 300) {
    return [false, `Keine erfolgreiche Antwort (${result.status}): kein Inhalt zu prüfen`];
  }
  const header = result.headers.get("repr-digest");
  if (!header) {
    return [
      false,
      "Kein Repr-Digest-Header: senden Sie Repr-Digest: sha-256=:<base64>: (RFC 9530)",
    ];
  }
  const values = parseDigest(header);
  const sha256 = values?.["sha-256"];
  const sha512 = values?.["sha-512"];
  if (!sha256 && !sha512) {
    return [false, `Repr-Digest "${header.slice(0, 120)}" nennt weder sha-256 noch sha-512`];
  }
  const algorithm = sha512 ? "sha-512" : "sha-256";
  const actual = createHash(algorithm === "sha-512" ? "sha512" : "sha256").update(result.body)
    .digest("base64");
  const announced = sha512 ?? sha256!;
  return announced === actual
    ? [true, `${algorithm} stimmt mit den ${result.body.byteLength} Bytes des Inhalts überein`]
    : [
      false,
      `Repr-Digest ${algorithm}=:${announced}: passt nicht zum Inhalt (berechnet ` +
      `${algorithm}=:${actual}:): berechnen Sie den Digest über genau die gesendeten Bytes`,
    ];
}

// fetch's own message ("fetch failed") names nothing; the cause (TLS, refused, DNS) does.
function reason(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e && parts.length < 3; e = (e as { cause?: unknown }).cause) {
    parts.push(String((e as Error).message ?? e).split("\n")[0]!);
  }
  return parts.join(": ").slice(0, 300);
}

function isProblem(result: Exchange): boolean {
  if (!result.ok) return false;
  if (!/^application\/problem\+json\b/i.test(result.headers.get("content-type") ?? "")) {
    return false;
  }
  try {
    const body = JSON.parse(new TextDecoder().decode(result.body));
    return typeof body?.title === "string" && body?.status === result.status;
  } catch {
    return false;
  }
}

function excerpt(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes.subarray(0, 200)).replace(/\s+/g, " ").trim();
  return text === "" ? "(leer)" : `"${text}"`;
}

async function readCapped(res: Response, max: number): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size >= max) break;
  }
  const out = new Uint8Array(Math.min(size, max));
  let at = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, out.byteLength - at);
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/**
 * The entry of `providerId` that a readiness check may call: the provider in the tables, or,
 * for an operator, a pending provider registration (checked before approval). Null when
 * there is neither.
 */
export async function readinessTarget(
  db: Db,
  providerId: string,
  options: { snapshot: Snapshot; pending: boolean },
): Promise<ReadinessTarget | null> {
  const provider = options.snapshot.nav.provider(providerId);
  if (provider) {
    return {
      providerId,
      name: provider.name,
      endpoint: provider.endpoint,
      xnachweisEndpoint: provider.xnachweisEndpoint ?? null,
      caCert: provider.caCert,
      // One look per evidence type, not a walk of a million routes.
      evidenceTypes: options.snapshot.nav.evidenceTypesServedBy(providerId),
    };
  }
  if (!options.pending) return null;
  const registration = await providerRegistration(db, providerId);
  if (!registration || registration.status !== "pending") return null;
  const body = registration.body as {
    organisation: string;
    endpoint: string;
    xnachweisEndpoint?: string | null;
    caCert?: string | null;
    evidenceTypes: string[];
  };
  return {
    providerId,
    name: body.organisation,
    endpoint: body.endpoint,
    xnachweisEndpoint: body.xnachweisEndpoint ?? null,
    caCert: body.caCert ?? null,
    evidenceTypes: [...new Set(body.evidenceTypes)],
  };
}

/** Runs the checks against `target` and stores the report. */
export async function runReadinessCheck(
  db: Db,
  target: ReadinessTarget,
  options: ReadinessOptions & { requestedBy: string },
): Promise<StoredReadiness> {
  const result = await checkReadiness(target, options);
  const report: StoredReadiness = {
    id: crypto.randomUUID(),
    at: new Date().toISOString(),
    providerId: target.providerId,
    requestedBy: options.requestedBy,
    passed: result.passed,
    checks: result.checks,
    endpoints: { endpoint: target.endpoint, xnachweisEndpoint: target.xnachweisEndpoint },
  };
  await insertReadiness(db, report);
  return report;
}

/** A stored report, or a 404 problem. */
export async function readinessReport(db: Db, id: string): Promise<StoredReadiness> {
  const report = await getReadiness(db, id);
  if (!report) throw new Problem("not-found", `No readiness check "${id}"`);
  return report;
}
