/**
 * Onboarding for people (docs/api.md §3.3), server-rendered and usable without JavaScript:
 *
 * - `/onboarding`: an authority registers as consumer (Nachweisabrufer, e.g. an online
 *   service) or provider (Nachweislieferant, a register) — the NOVA pre-registration and the
 *   Registerlandkarte's self-service form. The form posts what `POST
 *   /onboarding/v1/registrations` takes, checked by the same use case; errors stand next to
 *   their field. Jurisdictions are given by name or key and resolved with the regions index.
 * - `/onboarding/betrieb`: operators list pending registrations with what approval would
 *   create and the latest readiness result, approve, reject, run the readiness check.
 * - `/onboarding/readiness/{id}`: a readiness report.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { z } from "zod";
import type { Iam } from "../src/iam.ts";
import type { Config } from "../src/config.ts";
import type { Snapshot, TableStore } from "../src/store.ts";
import type { Principal } from "../src/auth.ts";
import { secretEquals } from "../src/auth.ts";
import { Problem } from "../src/problem.ts";
import { type FieldError, readBytes } from "../src/validate.ts";
import type { ProviderClients } from "../src/transport.ts";
import { describe, problem } from "../src/openapi.ts";
import {
  approveRegistration,
  type Db,
  latestReadiness,
  listRegistrations,
  type RegistrationPlan,
  rejectRegistration,
  type StoredRegistration,
  submitRegistration,
} from "../src/registration.ts";
import {
  readinessReport,
  readinessTarget,
  runReadinessCheck,
  type StoredReadiness,
} from "../src/readiness.ts";
import type { RateLimits } from "../src/rate_limit.ts";
import { MAX_REGISTRATION_BYTES, registrationContext, sourceAddress } from "./onboarding.ts";
import { readinessOptions } from "./readiness.ts";
import { resolveJurisdiction } from "../src/jurisdictions.ts";
import { wouldCreate } from "./registrations.ts";
import { describedBy, FieldError as ErrorText, Layout, PAGE_HEADERS } from "./_layout.tsx";

const PAGE = { type: "text/html", schema: { type: "string" } } as const;
const TAGS = ["Pages"];

const DOCS = {
  form: describe({
    summary: "Onboarding page: register as consumer or provider",
    tags: TAGS,
    responses: { 200: { description: "The forms", ...PAGE } },
  }),
  submit: describe({
    summary: "Onboarding page: submit a registration (form post)",
    tags: TAGS,
    body: { type: "application/x-www-form-urlencoded", description: "The form's fields" },
    responses: {
      201: { description: "Registered", ...PAGE },
      400: { description: "A field is invalid: the form with the errors", ...PAGE },
      409: { description: "Client id or route taken: the form with the errors", ...PAGE },
      413: problem("Form over 128 KiB"),
      415: problem("Not a form"),
      429: { description: "Too many registrations from this address", ...PAGE },
    },
  }),
  operatorForm: describe({
    summary: "Operator page: sign in with an operator token",
    tags: TAGS,
    responses: { 200: { description: "The sign-in form", ...PAGE } },
  }),
  operator: describe({
    summary: "Operator page: pending registrations, decisions, readiness checks (form post)",
    tags: TAGS,
    body: { type: "application/x-www-form-urlencoded", description: "token, action, id" },
    responses: {
      200: { description: "The list", ...PAGE },
      401: { description: "Invalid token", ...PAGE },
      403: { description: "Not an operator", ...PAGE },
      413: problem("Form over 16 KiB"),
      415: problem("Not a form"),
    },
  }),
  report: describe({
    summary: "Readiness report page",
    tags: TAGS,
    params: { id: z.uuid() },
    responses: {
      200: { description: "The report", ...PAGE },
      404: { description: "No such report", ...PAGE },
    },
  }),
};

/** What the onboarding pages need. */
export interface OnboardingPagesOptions {
  readonly db: Db;
  readonly store: Pick<TableStore, "snapshot" | "refresh">;
  readonly iam: Pick<Iam, "checker" | "keys" | "issuer">;
  readonly providerClients: ProviderClients;
  readonly config: Pick<
    Config,
    | "environment"
    | "adminToken"
    | "providerAllowedNetworks"
    | "bodyTimeoutMs"
    | "providerTimeoutMs"
    | "rateLimitWindowMs"
    | "rateLimitRegistration"
  >;
  readonly demoProviderIds?: readonly string[];
  /** The registration quota shared with the JSON route. */
  readonly registrationLimits: RateLimits;
}

type Values = Record<string, string | string[]>;

/** The names the form posts; any other is refused. */
const FORM_FIELDS = new Set([
  "kind",
  "organisation",
  "contactName",
  "contactEmail",
  "clientId",
  "jwks",
  "evidenceTypes",
  "purposes",
  "legalBases",
  "endpoint",
  "xnachweisEndpoint",
  "caCert",
  "jurisdictions",
]);
type Errors = Record<string, string>;

const LABELS: Record<string, string> = {
  organisation: "Behörde oder Organisation",
  contactName: "Ansprechperson",
  contactEmail: "E-Mail-Adresse",
  clientId: "Gewünschte Client-ID",
  jwks: "Öffentlicher Schlüssel (JWKS)",
  evidenceTypes: "Nachweisarten",
  purposes: "Zwecke",
  legalBases: "Rechtsgrundlagen",
  endpoint: "Endpunkt (HTTPS)",
  xnachweisEndpoint: "XNachweis-Endpunkt (optional)",
  caCert: "CA-Zertifikat (PEM, optional)",
  jurisdictions: "Zuständigkeitsgebiete",
};

async function readForm(c: Context, maxBytes: number, deadlineMs: number) {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
    throw new Problem("unsupported-media-type", "Expected a form");
  }
  const bytes = await readBytes(c.req.raw.body ?? new ReadableStream(), maxBytes, deadlineMs);
  return new URLSearchParams(new TextDecoder().decode(bytes));
}

const lines = (text: string) => text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");

/** The field of the form a JSON path of the registration belongs to. */
function fieldOf(path: string): string {
  if (path.startsWith("contact.email")) return "contactEmail";
  if (path.startsWith("contact")) return "contactName";
  const head = path.split(".")[0] ?? "";
  return head in LABELS ? head : "form";
}

/** A message of the schema or a check, in the page's language where it is a common one. */
function german(message: string): string {
  if (/received undefined|Required/i.test(message)) return "Bitte ausfüllen.";
  if (/Too small: expected string/i.test(message)) return "Bitte ausfüllen.";
  if (/Too small: expected array/i.test(message)) return "Bitte mindestens einen Eintrag angeben.";
  if (/Too big/i.test(message)) return "Zu lang oder zu viele Einträge.";
  if (/e-mail/i.test(message)) return "Bitte eine gültige E-Mail-Adresse angeben.";
  if (/lower-case letters/.test(message)) {
    return "Nur Kleinbuchstaben, Ziffern und Bindestriche, beginnend mit Buchstabe oder Ziffer, " +
      "höchstens 63 Zeichen.";
  }
  if (/Invalid URL/i.test(message)) return "Bitte eine vollständige Adresse (https://…) angeben.";
  if (/is taken/.test(message)) return `Bereits vergeben: ${message}`;
  if (/another provider is responsible/.test(message)) {
    return `Bereits vergeben: ${
      message.replace(
        "another provider is responsible for",
        "ein " +
          "anderer Anbieter ist zuständig für",
      )
    }`;
  }
  return message;
}

function errorsByField(errors: readonly FieldError[]): Errors {
  const out: Errors = {};
  for (const e of errors) {
    const field = fieldOf(e.path);
    const item = /\.(\d+)$/.exec(e.path);
    const text = german(e.message) +
      (item && field !== "jwks" ? ` (Eintrag ${Number(item[1]) + 1})` : "");
    out[field] = out[field] ? `${out[field]} ${text}` : text;
  }
  return out;
}

/** The form's fields as the registration body, and what cannot be read at all. */
function formToBody(form: URLSearchParams, snapshot: Snapshot) {
  const text = (name: string) => (form.get(name) ?? "").trim();
  const optional = (name: string) => text(name) === "" ? undefined : text(name);
  const problems: FieldError[] = [];
  const kind = text("kind");
  const unknown = [...new Set(form.keys())].filter((k) => !FORM_FIELDS.has(k));
  if (unknown.length > 0) {
    // A crafted form (roles, permissions, …) is refused, not silently trimmed.
    problems.push({
      path: "form",
      message: `Unbekannte Felder: ${unknown.slice(0, 5).map((k) => k.slice(0, 40)).join(", ")}`,
    });
  }
  let jwks: unknown = undefined;
  if (text("jwks") !== "") {
    try {
      const parsed = JSON.parse(text("jwks"));
      jwks = parsed && typeof parsed === "object" && "kty" in parsed ? { keys: [parsed] } : parsed;
    } catch {
      problems.push({
        path: "jwks",
        message: 'Kein gültiges JSON: bitte ein JWKS {"keys":[…]} oder einen JWK einfügen.',
      });
    }
  }
  const body: Record<string, unknown> = {
    kind,
    organisation: text("organisation"),
    contact: { name: text("contactName"), email: text("contactEmail") },
    clientId: text("clientId"),
    jwks,
    evidenceTypes: form.getAll("evidenceTypes"),
  };
  if (kind === "consumer") {
    body.purposes = lines(text("purposes"));
    body.legalBases = lines(text("legalBases"));
  } else {
    body.endpoint = optional("endpoint");
    body.xnachweisEndpoint = optional("xnachweisEndpoint");
    body.caCert = optional("caCert");
    const keys: string[] = [];
    for (const line of lines(text("jurisdictions"))) {
      const resolved = resolveJurisdiction(line, snapshot.nav);
      if ("key" in resolved) keys.push(resolved.key);
      else problems.push({ path: "jurisdictions", message: resolved.error });
    }
    body.jurisdictions = keys;
  }
  const values: Values = {};
  for (const key of new Set(form.keys())) {
    values[key] = key === "evidenceTypes" ? form.getAll(key) : form.get(key) ?? "";
  }
  return { body, problems, values };
}

function Field(
  props: {
    name: string;
    values: Values;
    errors: Errors;
    kind: string;
    hint?: string;
    type?: string;
    area?: boolean;
    autocomplete?: string;
    required?: boolean;
    rows?: number;
  },
) {
  const id = `${props.kind}-${props.name}`;
  const error = props.errors[props.name];
  const value = String(props.values[props.name] ?? "");
  const described = describedBy(id, props.hint !== undefined, error) || undefined;
  return (
    <div class={error ? "field invalid" : "field"}>
      <label for={id}>{LABELS[props.name]}</label>
      {props.hint ? <p class="hint" id={`${id}-hinweis`}>{props.hint}</p> : null}
      <ErrorText id={id} message={error} />
      {props.area
        ? (
          <textarea
            id={id}
            name={props.name}
            rows={props.rows ?? 4}
            aria-describedby={described}
            aria-invalid={error ? "true" : undefined}
            required={props.required}
          >
            {value}
          </textarea>
        )
        : (
          <input
            id={id}
            name={props.name}
            type={props.type ?? "text"}
            value={value}
            autocomplete={props.autocomplete}
            aria-describedby={described}
            aria-invalid={error ? "true" : undefined}
            required={props.required}
          />
        )}
    </div>
  );
}

function EvidenceTypeChoice(
  props: { kind: string; values: Values; errors: Errors; snapshot: Snapshot },
) {
  const chosen = new Set([props.values.evidenceTypes ?? []].flat());
  const error = props.errors.evidenceTypes;
  const id = `${props.kind}-evidenceTypes`;
  return (
    <fieldset
      class={error ? "checks invalid" : "checks"}
      aria-describedby={error ? `${id}-fehler` : undefined}
    >
      <legend>{LABELS.evidenceTypes}</legend>
      <ErrorText id={id} message={error} />
      {props.snapshot.nav.evidenceTypes().map((t) => (
        <label>
          <input
            type="checkbox"
            name="evidenceTypes"
            value={t.id}
            checked={chosen.has(t.id)}
          />
          <span>
            {t.name} <code>{t.id}</code>
          </span>
        </label>
      ))}
    </fieldset>
  );
}

function RegistrationForm(
  props: { kind: "consumer" | "provider"; values: Values; errors: Errors; snapshot: Snapshot },
) {
  const common = { kind: props.kind, values: props.values, errors: props.errors };
  const consumer = props.kind === "consumer";
  return (
    <form method="post" action="/onboarding" id={`form-${props.kind}`} novalidate>
      <input type="hidden" name="kind" value={props.kind} />
      {props.errors.form ? <p class="field-error">{props.errors.form}</p> : null}
      <fieldset>
        <legend>Behörde und Ansprechperson</legend>
        <Field
          name="organisation"
          {...common}
          autocomplete="organization"
          hint={consumer
            ? "z. B. „Stadt Musterstadt – Bewohnerparkausweis online“"
            : "z. B. „Stadt Freiburg im Breisgau – Gewerberegister“"}
          required
        />
        <Field name="contactName" {...common} autocomplete="name" required />
        <Field name="contactEmail" {...common} type="email" autocomplete="email" required />
      </fieldset>
      <fieldset>
        <legend>Zugang</legend>
        <Field
          name="clientId"
          {...common}
          hint="Kleinbuchstaben, Ziffern und Bindestriche, z. B. „musterstadt-parken“. Mit ihr und Ihrem Schlüssel meldet sich Ihr Verfahren an (OAuth 2.0, private_key_jwt)."
          required
        />
        <Field
          name="jwks"
          {...common}
          area
          rows={6}
          hint="Nur den öffentlichen Schlüssel (EC P-256 oder Ed25519) als JWKS einfügen – oder im Browser erzeugen lassen: der private Schlüssel wird heruntergeladen und nie übertragen."
        />
        <button
          type="button"
          class="secondary"
          data-keygen={`${props.kind}-jwks`}
          hidden
        >
          Schlüsselpaar im Browser erzeugen
        </button>
        <p class="hint" id={`${props.kind}-jwks-status`} aria-live="polite"></p>
      </fieldset>
      <EvidenceTypeChoice
        kind={props.kind}
        values={props.values}
        errors={props.errors}
        snapshot={props.snapshot}
      />
      {consumer
        ? (
          <fieldset>
            <legend>Zweck und Rechtsgrundlage</legend>
            <Field
              name="purposes"
              {...common}
              area
              hint="Ein Zweck je Zeile, z. B. „bewohnerparkausweis“."
            />
            <Field
              name="legalBases"
              {...common}
              area
              hint="Eine Rechtsgrundlage je Zeile, z. B. „§ 45 Abs. 1b Satz 1 Nr. 2a StVO“."
            />
          </fieldset>
        )
        : (
          <fieldset>
            <legend>Register (Registerlandkarte)</legend>
            <Field
              name="endpoint"
              {...common}
              type="url"
              hint="Die Adresse, an die Lotse Nachweisabrufe sendet, z. B. https://register.example.de/nachweise."
            />
            <Field name="xnachweisEndpoint" {...common} type="url" />
            <Field name="caCert" {...common} area rows={5} />
            <Field
              name="jurisdictions"
              {...common}
              area
              hint="Ein Gebiet je Zeile: Name einer Gemeinde (z. B. „Freiburg im Breisgau“), eines Landes (z. B. „Bayern“) oder regionaler Schlüssel (Land 2, Regierungsbezirk 3, Kreis 5, Gemeinde 8 Ziffern); „Bund“ für bundesweit."
            />
          </fieldset>
        )}
      <button type="submit">
        {consumer ? "Als Nachweisabrufer registrieren" : "Register anmelden"}
      </button>
    </form>
  );
}

function ErrorSummary(props: { errors: Errors; kind?: string }) {
  const entries = Object.entries(props.errors);
  if (entries.length === 0) return null;
  return (
    <div class="error-summary" role="alert" id="fehler">
      <h2>Bitte prüfen Sie Ihre Angaben</h2>
      <ul>
        {entries.map(([field, message]) => (
          <li>
            {LABELS[field] && props.kind
              ? <a href={`#${props.kind}-${field}`}>{LABELS[field]}</a>
              : <strong>{LABELS[field] ?? "Formular"}</strong>}: {message}
          </li>
        ))}
      </ul>
    </div>
  );
}

function OnboardingPage(
  props: {
    environment: "production" | "test";
    snapshot: Snapshot;
    active?: "consumer" | "provider";
    values?: Values;
    errors?: Errors;
  },
) {
  const form = (kind: "consumer" | "provider") =>
    props.active === kind
      ? { values: props.values ?? {}, errors: props.errors ?? {} }
      : { values: {}, errors: {} };
  return (
    <Layout
      title="Anschluss an Lotse"
      environment={props.environment}
      scripts={["/assets/keygen.js"]}
    >
      <p class="lead">
        Behörden registrieren hier ihre Online-Dienste als Nachweisabrufer und ihre Register als
        Nachweislieferanten (Registerlandkarte). {props.environment === "test"
          ? "In der Testumgebung ist Ihr Zugang sofort freigeschaltet."
          : "Der Betrieb prüft Ihre Angaben und schaltet Sie frei."}
      </p>
      <ErrorSummary errors={props.errors ?? {}} kind={props.active} />
      <nav aria-label="Art der Registrierung">
        <ul>
          <li>
            <a href="#nachweisabrufer">Online-Dienst anschließen (Nachweisabrufer)</a>
          </li>
          <li>
            <a href="#nachweislieferant">Register anschließen (Nachweislieferant)</a>
          </li>
        </ul>
      </nav>
      <section aria-labelledby="nachweisabrufer">
        <h2 id="nachweisabrufer">Online-Dienst anschließen (Nachweisabrufer)</h2>
        <p>
          Ihr Verfahren ruft Nachweise aus Registern ab – nur für die Nachweisarten, Zwecke und
          Rechtsgrundlagen, die Sie hier angeben und der Betrieb freigibt.
        </p>
        <RegistrationForm kind="consumer" snapshot={props.snapshot} {...form("consumer")} />
      </section>
      <section aria-labelledby="nachweislieferant">
        <h2 id="nachweislieferant">Register anschließen (Nachweislieferant)</h2>
        <p>
          Ihr Register liefert Nachweise für die Gebiete, für die es zuständig ist. Vor dem
          Produktivbetrieb prüft ein Readiness-Check Ihren Endpunkt.
        </p>
        <RegistrationForm kind="provider" snapshot={props.snapshot} {...form("provider")} />
      </section>
    </Layout>
  );
}

function Confirmation(
  props: {
    environment: "production" | "test";
    id: string;
    status: "pending" | "approved";
    kind: string;
    clientId: string;
  },
) {
  return (
    <Layout title="Registrierung eingegangen" environment={props.environment}>
      <div class="success" role="status" id="bestaetigung">
        <p>
          <strong>
            {props.status === "approved"
              ? "Ihr Zugang ist freigeschaltet."
              : "Ihre Registrierung wartet auf die Freigabe durch den Betrieb."}
          </strong>
        </p>
        <p>
          Vorgangsnummer: <code id="vorgang">{props.id}</code>
          <br />
          Client-ID: <code>{props.clientId}</code>
        </p>
      </div>
      <h2>Wie geht es weiter?</h2>
      {props.kind === "consumer"
        ? (
          <p>
            {props.status === "approved" ? "Ab sofort" : "Nach der Freigabe"}{" "}
            holt Ihr Verfahren ein Zugangstoken an <code>POST /v1/token</code>{" "}
            (Client Credentials mit private_key_jwt, signiert mit Ihrem privaten Schlüssel) und ruft
            Nachweise über <code>POST /v1/evidence/…</code> ab.
          </p>
        )
        : (
          <p>
            {props.status === "approved" ? "Ab sofort" : "Nach der Freigabe"}{" "}
            kann Ihr Register mit seinem Token (Rolle provider) den Readiness-Check starten:{" "}
            <code>POST /v1/readiness-checks</code> mit{" "}
            <code>{`{"providerId":"${props.clientId}"}`}</code>. Der Betrieb sieht das Ergebnis.
          </p>
        )}
      <p>
        <a href="/onboarding">Weitere Registrierung</a>
      </p>
    </Layout>
  );
}

function regionLabel(key: string, snapshot: Snapshot): string {
  if (key === "") return "Bund (bundesweit)";
  const region = key.length === 8 ? snapshot.nav.region(key) : undefined;
  const level = { 2: "Land", 3: "Regierungsbezirk", 5: "Kreis", 8: "Gemeinde" }[key.length];
  return region ? `${region.name} (${level} ${key})` : `${level ?? "Gebiet"} ${key}`;
}

function PlanList(props: { plan: RegistrationPlan; snapshot: Snapshot }) {
  const type = (id: string) => props.snapshot.nav.evidenceType(id)?.name ?? id;
  return (
    <ul class="diff">
      {props.plan.clients.map((c) => (
        <li>
          + Client <code>{c.id}</code> mit Rolle <code>{c.roles.join(", ")}</code>,{" "}
          {c.jwks.keys.length} öffentliche(r) Schlüssel
        </li>
      ))}
      {props.plan.providers.map((p) => (
        <li>
          + Anbieter <code>{p.id}</code>: {p.endpoint}
          {p.xnachweisEndpoint ? `, XNachweis ${p.xnachweisEndpoint}` : ""}
          {p.caCert ? ", eigene CA" : ""}
        </li>
      ))}
      {props.plan.routes.map((r) => (
        <li>
          + Route: {type(r.evidenceType)} in {regionLabel(r.regionKey, props.snapshot)}
        </li>
      ))}
      {props.plan.permissions.map((p) => (
        <li>
          + Berechtigung: {type(p.evidenceType)}{" "}
          {p.providerId ? `nur bei ${p.providerId}` : "bei jedem zuständigen Register"}; Zwecke:
          {" "}
          {p.purposes.join("; ")}; Rechtsgrundlagen: {p.legalBases.join("; ")}; IDNr: nein
        </li>
      ))}
    </ul>
  );
}

function ReadinessSummary(props: { report?: StoredReadiness }) {
  if (!props.report) return <p>Readiness-Check: noch nicht ausgeführt.</p>;
  const failed = props.report.checks.filter((c) => !c.passed).length;
  return (
    <p>
      Readiness-Check vom {props.report.at.replace("T", " ").replace(/\.\d+Z$/, " UTC")}:{" "}
      {props.report.passed
        ? <span class="pass">bestanden</span>
        : <span class="fail">nicht bestanden ({failed} Prüfung(en) fehlgeschlagen)</span>} –{" "}
      <a href={`/onboarding/readiness/${props.report.id}`}>Bericht</a>
    </p>
  );
}

function OperatorPage(
  props: {
    environment: "production" | "test";
    token: string;
    snapshot: Snapshot;
    pending: readonly { registration: StoredRegistration; plan: RegistrationPlan | null }[];
    readiness: ReadonlyMap<string, StoredReadiness>;
    message?: { ok: boolean; text: string };
  },
) {
  return (
    <Layout title="Registrierungen prüfen" environment={props.environment}>
      {props.message
        ? (
          <p class={props.message.ok ? "notice" : "error-summary"} role="status" id="meldung">
            {props.message.text}
          </p>
        )
        : null}
      {props.pending.length === 0 ? <p id="keine">Keine offenen Registrierungen.</p> : (
        <p>
          {props.pending.length}{" "}
          offene Registrierung(en). Die Freigabe legt die aufgeführten Einträge in einem Schritt an;
          beide Entscheidungen werden protokolliert.
        </p>
      )}
      {props.pending.map(({ registration: r, plan }) => {
        const body = r.body as {
          organisation: string;
          contact: { name: string; email: string };
        };
        return (
          <section class="card" aria-labelledby={`r-${r.id}`} data-registration={r.id}>
            <h2 id={`r-${r.id}`}>
              {body.organisation}{" "}
              <span class="hint">
                ({r.kind === "consumer" ? "Nachweisabrufer" : "Nachweislieferant"})
              </span>
            </h2>
            <p>
              Client-ID <code>{r.clientId}</code>; Kontakt: {body.contact.name},{" "}
              {body.contact.email}; eingegangen{" "}
              {r.createdAt.replace("T", " ").replace(/\.\d+Z$/, " UTC")}
            </p>
            <h3>Bei Freigabe wird angelegt</h3>
            {plan
              ? <PlanList plan={plan} snapshot={props.snapshot} />
              : <p class="fail">Nicht mehr freigebbar (Angaben passen nicht zu den Tabellen).</p>}
            {r.kind === "provider"
              ? <ReadinessSummary report={props.readiness.get(r.clientId)} />
              : null}
            <form method="post" action="/onboarding/betrieb">
              <input type="hidden" name="token" value={props.token} />
              <input type="hidden" name="id" value={r.id} />
              <input type="hidden" name="providerId" value={r.clientId} />
              <div class="field">
                <label for={`grund-${r.id}`}>Begründung einer Ablehnung (optional)</label>
                <input type="text" id={`grund-${r.id}`} name="reason" />
              </div>
              <button type="submit" name="action" value="approve">Freigeben</button>
              <button type="submit" name="action" value="reject" class="danger">Ablehnen</button>
              {r.kind === "provider"
                ? (
                  <button type="submit" name="action" value="readiness" class="secondary">
                    Readiness-Check ausführen
                  </button>
                )
                : null}
            </form>
          </section>
        );
      })}
    </Layout>
  );
}

function SignIn(props: { environment: "production" | "test"; error?: string }) {
  return (
    <Layout title="Registrierungen prüfen" environment={props.environment}>
      <p>Für Betreiber: Anmeldung mit einem Zugangstoken der Rolle operator.</p>
      <form method="post" action="/onboarding/betrieb">
        <div class={props.error ? "field invalid" : "field"}>
          <label for="token">Zugangstoken (Rolle operator)</label>
          <ErrorText id="token" message={props.error} />
          <input
            id="token"
            name="token"
            type="password"
            autocomplete="off"
            aria-describedby={props.error ? "token-fehler" : undefined}
            required
          />
        </div>
        <button type="submit">Anmelden</button>
      </form>
    </Layout>
  );
}

function ReportPage(
  props: { environment: "production" | "test"; report: StoredReadiness },
) {
  const r = props.report;
  return (
    <Layout title="Readiness-Check" environment={props.environment}>
      <p id="ergebnis" class={r.passed ? "success" : "error-summary"} role="status">
        Register <code>{r.providerId}</code>:{" "}
        {r.passed ? <span class="pass">bestanden</span> : (
          <span class="fail">
            nicht bestanden – {r.checks.filter((c) => !c.passed).length} von {r.checks.length}{" "}
            Prüfungen fehlgeschlagen
          </span>
        )}
      </p>
      <p>
        Geprüft am {r.at.replace("T", " ").replace(/\.\d+Z$/, " UTC")}: {r.endpoints.endpoint}
        {r.endpoints.xnachweisEndpoint ? ` und ${r.endpoints.xnachweisEndpoint}` : ""}
      </p>
      <table>
        <caption class="hint">Jede Prüfung mit Ergebnis und Hinweis</caption>
        <thead>
          <tr>
            <th scope="col">Prüfung</th>
            <th scope="col">Ergebnis</th>
            <th scope="col">Hinweis</th>
          </tr>
        </thead>
        <tbody>
          {r.checks.map((c) => (
            <tr data-check={c.id}>
              <th scope="row">{c.title}</th>
              <td class={c.passed ? "pass" : "fail"}>
                {c.passed ? "✓ bestanden" : "✗ fehlgeschlagen"}
              </td>
              <td>{c.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Layout>
  );
}

export function onboardingPages(deps: OnboardingPagesOptions): Hono {
  const app = new Hono();
  const environment = deps.config.environment;
  const snapshotOf = () => {
    const snapshot = deps.store.snapshot;
    if (!snapshot) throw new Problem("unavailable", "Tables are still loading");
    return snapshot;
  };

  app.get("/onboarding", DOCS.form, (c) =>
    c.html(
      <OnboardingPage environment={environment} snapshot={snapshotOf()} />,
      200,
      PAGE_HEADERS,
    ));

  app.post("/onboarding", DOCS.submit, async (c) => {
    const snapshot = snapshotOf();
    const verdict = deps.registrationLimits.take("address", sourceAddress(c));
    const form = await readForm(c, MAX_REGISTRATION_BYTES, deps.config.bodyTimeoutMs);
    const { body, problems, values } = formToBody(form, snapshot);
    const kind = body.kind === "provider" ? "provider" : "consumer";
    const again = (status: 400 | 409 | 429, errors: Errors) =>
      c.html(
        <OnboardingPage
          environment={environment}
          snapshot={snapshot}
          active={kind}
          values={values}
          errors={errors}
        />,
        status,
        PAGE_HEADERS,
      );
    if (verdict && !verdict.allowed) {
      return again(429, {
        form: `Zu viele Registrierungen von Ihrer Adresse; bitte in ${verdict.resetSeconds} s ` +
          "erneut versuchen.",
      });
    }
    if (problems.length > 0) return again(400, errorsByField(problems));
    try {
      const created = await submitRegistration(deps.db, body, {
        ...registrationContext(deps),
        source: sourceAddress(c),
      });
      if (created.status === "approved") await deps.store.refresh();
      return c.html(
        <Confirmation
          environment={environment}
          id={created.id}
          status={created.status}
          kind={kind}
          clientId={String(body.clientId)}
        />,
        201,
        PAGE_HEADERS,
      );
    } catch (error) {
      if (!(error instanceof Problem) || (error.status !== 400 && error.status !== 409)) {
        throw error;
      }
      const errors = (error.extra?.errors as FieldError[] | undefined) ??
        [{ path: "form", message: error.message }];
      return again(error.status as 400 | 409, errorsByField(errors));
    }
  });

  app.get(
    "/onboarding/betrieb",
    DOCS.operatorForm,
    (c) => c.html(<SignIn environment={environment} />, 200, PAGE_HEADERS),
  );

  app.post("/onboarding/betrieb", DOCS.operator, async (c) => {
    const form = await readForm(c, 16 * 1024, deps.config.bodyTimeoutMs);
    const token = form.get("token") ?? "";
    const principal = await operator(token, deps);
    if (principal === null || principal === "forbidden") {
      const text = principal === null
        ? "Das Zugangstoken ist ungültig oder abgelaufen."
        : "Dieses Token hat nicht die Rolle operator.";
      return c.html(
        <SignIn environment={environment} error={text} />,
        principal === null ? 401 : 403,
        PAGE_HEADERS,
      );
    }
    const snapshot = snapshotOf();
    let message: { ok: boolean; text: string } | undefined;
    const action = form.get("action");
    const id = form.get("id") ?? "";
    try {
      if (action === "approve" || action === "reject") {
        if (!z.uuid().safeParse(id).success) throw new Problem("invalid-request", "Bad id");
        if (action === "approve") {
          const { registration } = await approveRegistration(deps.db, id, {
            ...registrationContext(deps),
            actor: principal.clientId,
          });
          await deps.store.refresh();
          message = { ok: true, text: `„${registration.clientId}“ freigegeben.` };
        } else {
          const reason = (form.get("reason") ?? "").trim().slice(0, 1000) || null;
          const registration = await rejectRegistration(deps.db, id, {
            actor: principal.clientId,
            reason,
          });
          message = { ok: true, text: `„${registration.clientId}“ abgelehnt.` };
        }
      } else if (action === "readiness") {
        const providerId = form.get("providerId") ?? "";
        const target = await readinessTarget(deps.db, providerId, { snapshot, pending: true });
        if (!target) throw new Problem("not-found", `Kein Register „${providerId}“`);
        const report = await runReadinessCheck(deps.db, target, {
          ...readinessOptions(deps),
          requestedBy: principal.clientId,
        });
        message = {
          ok: report.passed,
          text: `Readiness-Check für „${providerId}“: ${
            report.passed ? "bestanden" : "nicht bestanden"
          }.`,
        };
      }
    } catch (error) {
      if (!(error instanceof Problem) || error.status >= 500) throw error;
      message = { ok: false, text: `Nicht ausgeführt: ${error.message}` };
    }
    const current = deps.store.snapshot ?? snapshot;
    const rows = await listRegistrations(deps.db, { status: "pending" });
    const context = registrationContext(deps);
    const pending = rows.map((registration) => ({
      registration,
      plan: wouldCreate(registration, { ...context, snapshot: current }),
    }));
    const readiness = await latestReadiness(
      deps.db,
      rows.filter((r) => r.kind === "provider").map((r) => r.clientId),
    );
    return c.html(
      <OperatorPage
        environment={environment}
        token={token}
        snapshot={current}
        pending={pending}
        readiness={readiness}
        message={message}
      />,
      200,
      PAGE_HEADERS,
    );
  });

  app.get("/onboarding/readiness/:id", DOCS.report, async (c) => {
    const id = c.req.param("id");
    let report: StoredReadiness | null = null;
    if (z.uuid().safeParse(id).success) {
      try {
        report = await readinessReport(deps.db, id);
      } catch (error) {
        if (!(error instanceof Problem)) throw error;
      }
    }
    if (!report) {
      return c.html(
        <Layout title="Readiness-Check" environment={environment}>
          <p id="ergebnis">Diesen Bericht gibt es nicht.</p>
        </Layout>,
        404,
        PAGE_HEADERS,
      );
    }
    return c.html(<ReportPage environment={environment} report={report} />, 200, PAGE_HEADERS);
  });
  return app;
}

/** The operator behind a pasted token, null for an invalid one, or "forbidden". */
async function operator(
  token: string,
  deps: Pick<OnboardingPagesOptions, "iam" | "config">,
): Promise<Principal | null | "forbidden"> {
  if (token === "") return null;
  const admin = deps.config.adminToken;
  if (admin !== null && secretEquals(token, admin)) {
    return { clientId: "bootstrap-operator", roles: ["operator"] };
  }
  const principal = await deps.iam.checker.check(token);
  if (!principal) return null;
  return principal.roles.includes("operator") ? principal : "forbidden";
}
