/**
 * The citizens' Datenschutzcockpit (docs/api.md §3.5): `GET /cockpit` shows a logged-in
 * person their own transfers in plain German, and nothing but the login to anyone else. Login
 * with OpenID Connect (src/citizen_login.ts), sessions in an `HttpOnly`, `SameSite=Strict`
 * cookie (`Secure` under HTTPS), the logout form carries the session's CSRF token, filters by
 * time and authority, CSV export, print view. No script; the shared pages' CSP (`PAGE_CSP`).
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { stringify } from "csv-stringify/sync";
import { z } from "zod";
import { type CitizenLogin, type CitizenSession, sameToken } from "../src/citizen_login.ts";
import { describe } from "../src/openapi.ts";
import type { ProtocolRecord, RecordsOptions } from "../src/protocol/mod.ts";
import type { Snapshot } from "../src/store.ts";
import { readBytes } from "../src/validate.ts";
import type { Logger } from "../src/log.ts";
import {
  type Filters,
  LoggedInPage,
  LoginPage,
  Message,
  PrintPage,
  RecordsPage,
  type TransferLine,
} from "./_cockpit_page.tsx";
import { PAGE_HEADERS } from "./_layout.tsx";

const HTML = { type: "text/html", schema: { type: "string" } } as const;
const REDIRECT = { type: "*/*" } as const;

const FILTER_QUERY = z.object({
  von: z.string().optional().describe("From this day (YYYY-MM-DD, German time), inclusive"),
  bis: z.string().optional().describe("Up to this day (YYYY-MM-DD, German time), inclusive"),
  behoerde: z.string().optional().describe("Only this authority (client id)"),
});

const COCKPIT_DOC = describe({
  summary: "Datenschutzcockpit for citizens: the login, or the person's own transfers",
  description: "Without a session only the login. With one (cookie from the OpenID Connect " +
    "login), the transfers about the logged-in person, filtered by time and authority.",
  tags: ["Datenschutzcockpit"],
  query: FILTER_QUERY,
  responses: {
    200: { description: "The login page, or the person's transfers", ...HTML },
    400: { description: "A filter that is not a date", ...HTML },
  },
});

const LOGIN_DOC = describe({
  summary: "Start the OpenID Connect login (authorization code with PKCE)",
  description: "Sets the login cookie (SameSite=Lax, 10 minutes) and redirects to the identity " +
    "provider's authorization endpoint.",
  tags: ["Datenschutzcockpit"],
  responses: {
    303: { description: "To the identity provider", ...REDIRECT },
    503: { description: "No identity provider is configured, or it cannot be reached", ...HTML },
  },
});

const CALLBACK_DOC = describe({
  summary: "The identity provider sends the person back here",
  description: "Checks state, exchanges the code with the PKCE verifier, checks the ID token's " +
    "nonce and IDNr claim, opens a new session (a previous one ends).",
  tags: ["Datenschutzcockpit"],
  query: z.object({
    code: z.string().optional(),
    state: z.string().optional(),
    iss: z.string().optional(),
    error: z.string().optional(),
  }),
  responses: {
    200: { description: "Logged in: on to /cockpit", ...HTML },
    400: { description: "The login failed or was cancelled", ...HTML },
  },
});

const LOGOUT_DOC = describe({
  summary: "Log out (the form carries the session's CSRF token)",
  tags: ["Datenschutzcockpit"],
  body: {
    type: "application/x-www-form-urlencoded",
    schema: z.object({ csrf: z.string() }).meta({ id: "CockpitLogoutForm" }),
  },
  responses: {
    303: { description: "Logged out: back to /cockpit", ...REDIRECT },
    403: { description: "No session, or the CSRF check failed", ...HTML },
  },
});

const EXPORT_DOC = describe({
  summary: "The person's transfers as CSV (semicolon-separated, UTF-8 with BOM)",
  tags: ["Datenschutzcockpit"],
  query: FILTER_QUERY,
  responses: {
    200: { description: "CSV", type: "text/csv", schema: { type: "string" } },
    400: { description: "A filter that is not a date", ...HTML },
    401: { description: "Not logged in", ...HTML },
  },
});

const PRINT_DOC = describe({
  summary: "The person's transfers as a page for printing",
  tags: ["Datenschutzcockpit"],
  query: FILTER_QUERY,
  responses: {
    200: { description: "The print view", ...HTML },
    400: { description: "A filter that is not a date", ...HTML },
    401: { description: "Not logged in", ...HTML },
  },
});

/** What the cockpit routes need. */
export interface CockpitRoutesOptions {
  /** The login, or null when no identity provider is configured. */
  readonly login: CitizenLogin | null;
  /** Whether Lotse is served over HTTPS (cookies get `Secure`). */
  readonly https: boolean;
  /** How long the logout form may take to arrive (`LOTSE_BODY_TIMEOUT_MS`). */
  readonly bodyTimeoutMs: number;
  readonly store: { readonly snapshot: Snapshot | null };
  /** One page of a person's protocol (src/protocol's `recordsForIdnr` on the database). */
  readonly protocolRecords: (
    idnrHash: string,
    options: RecordsOptions,
  ) => Promise<{ records: ProtocolRecord[]; nextCursor: string | null }>;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
  /** Where failed logins are told (the reason is for operators, not the page). */
  readonly logger?: Logger;
}

const SESSION_COOKIE = "lotse_cockpit";
const LOGIN_COOKIE = "lotse_cockpit_login";
const MAX_RECORDS = 1000;

const OUTCOME_TEXT: Record<string, string> = {
  "delivered": "übermittelt",
  "deferred": "angekündigt – die Daten folgen später",
  "failed": "nicht übermittelt (technischer Fehler)",
  "refused": "abgelehnt – die Behörde durfte diese Daten nicht abrufen",
  "granted": "Abruf erlaubt",
  "in-flight": "läuft noch",
};

const BERLIN = "Europe/Berlin";
/**
 * The cockpit's date format, made on the first page that shows a date: making it loads ICU's
 * German locale and time zone data, ~20 ms that every start paid at import, before serving
 * (BENCHMARKS.md, "Session 9, P8").
 */
let whenFormatMade: Intl.DateTimeFormat | null = null;
function whenFormat(): Intl.DateTimeFormat {
  return whenFormatMade ??= new Intl.DateTimeFormat("de-DE", {
    timeZone: BERLIN,
    dateStyle: "medium",
    timeStyle: "short",
  });
}

/** Milliseconds Berlin is ahead of UTC at `instant`. */
function berlinOffset(instant: number): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: BERLIN,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(instant));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"));
  return asUtc - Math.floor(instant / 60_000) * 60_000;
}

/** Midnight of a `YYYY-MM-DD` day in Germany, as an instant; null for anything else. */
function berlinDayStart(day: string, plusDays = 0): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  const utc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + plusDays);
  const check = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (check.toISOString().slice(0, 10) !== day) return null;
  return new Date(utc - berlinOffset(utc));
}

function readFilters(query: Record<string, string>): { filters: Filters; error?: string } {
  const filters = {
    from: (query.von ?? "").trim(),
    to: (query.bis ?? "").trim(),
    authority: (query.behoerde ?? "").trim().slice(0, 100),
  };
  const bad = (filters.from && !berlinDayStart(filters.from)) ||
    (filters.to && !berlinDayStart(filters.to));
  if (bad) {
    return {
      filters: { ...filters, from: "", to: "" },
      error: "Bitte geben Sie Daten im Format JJJJ-MM-TT an; der Zeitfilter wurde nicht angewandt.",
    };
  }
  if (filters.from && filters.to && filters.from > filters.to) {
    return {
      filters: { ...filters, from: "", to: "" },
      error: "Das Datum „Von“ liegt nach dem Datum „Bis“; der Zeitfilter wurde nicht angewandt.",
    };
  }
  return { filters };
}

export function cockpitRoutes(deps: CockpitRoutesOptions): Hono {
  const app = new Hono();
  const now = () => (deps.now ?? Date.now)();
  const cookieBase = { httpOnly: true, secure: deps.https, path: "/" } as const;

  const html = (c: Context, page: unknown, status: 200 | 400 | 401 | 403 | 503 = 200) =>
    c.html(`<!DOCTYPE html>${page}`, status, PAGE_HEADERS);

  const currentSession = async (c: Context): Promise<CitizenSession | null> =>
    deps.login === null ? null : await deps.login.session(getCookie(c, SESSION_COOKIE));

  /** The person's transfers under the filters, in the page's words, newest first. */
  async function lines(session: CitizenSession, filters: Filters) {
    const page = await deps.protocolRecords(session.idnrHmac, {
      ...(filters.from ? { from: berlinDayStart(filters.from)! } : {}),
      ...(filters.to ? { to: berlinDayStart(filters.to, 1)! } : {}),
      limit: MAX_RECORDS,
    });
    const snapshot = deps.store.snapshot;
    const client = (id: string) => snapshot?.clients.get(id)?.name ?? id;
    const all = page.records.slice().reverse();
    const authorities = [...new Set(all.flatMap((r) => [r.consumer, r.onBehalfOf ?? []].flat()))]
      .map((id) => ({ id, name: client(id) }))
      .sort((a, b) => a.name.localeCompare(b.name, "de"));
    const chosen = filters.authority
      ? all.filter((r) => r.consumer === filters.authority || r.onBehalfOf === filters.authority)
      : all;
    const result: TransferLine[] = chosen.map((record) => ({
      record,
      when: `${whenFormat().format(new Date(record.time))} Uhr`,
      authority: client(record.consumer),
      onBehalfOf: record.onBehalfOf ? client(record.onBehalfOf) : null,
      register: record.provider
        ? snapshot?.nav.provider(record.provider)?.name ?? record.provider
        : "—",
      evidence: snapshot?.nav.evidenceType(record.evidenceType)?.name ?? record.evidenceType,
      outcome: OUTCOME_TEXT[record.outcome] ?? record.outcome,
    }));
    return { lines: result, more: page.nextCursor !== null, authorities };
  }

  const notLoggedIn = (c: Context) =>
    html(
      c,
      <Message
        title="Bitte melden Sie sich an"
        text="Diese Seite zeigt Daten über eine Person und ist nur nach der Anmeldung erreichbar."
        link={{ href: "/cockpit", text: "Zur Anmeldung" }}
        error
      />,
      401,
    );

  app.get("/cockpit", COCKPIT_DOC, async (c) => {
    const session = await currentSession(c);
    if (session === null) {
      if (getCookie(c, SESSION_COOKIE)) deleteCookie(c, SESSION_COOKIE, cookieBase);
      const notice = c.req.query("abgemeldet") !== undefined ? "Sie wurden abgemeldet." : undefined;
      return html(c, <LoginPage available={deps.login !== null} notice={notice} />);
    }
    const { filters, error } = readFilters(c.req.query());
    const found = await lines(session, filters);
    return html(
      c,
      <RecordsPage {...found} filters={filters} csrf={session.csrf} error={error} />,
      error ? 400 : 200,
    );
  });

  app.get("/cockpit/login", LOGIN_DOC, async (c) => {
    if (deps.login === null) return html(c, <LoginPage available={false} />, 503);
    let started;
    try {
      started = await deps.login.start();
    } catch (error) {
      deps.logger?.warn("Cockpit login cannot start", { error });
      return html(
        c,
        <Message
          title="Anmeldung nicht möglich"
          text="Der Anmeldedienst ist gerade nicht erreichbar. Bitte versuchen Sie es später erneut."
          link={{ href: "/cockpit", text: "Zurück" }}
          error
        />,
        503,
      );
    }
    // Lax, not Strict: the identity provider's redirect back is a cross-site navigation.
    setCookie(c, LOGIN_COOKIE, started.loginId, {
      ...cookieBase,
      path: "/cockpit/callback",
      sameSite: "Lax",
      maxAge: 600,
    });
    return c.redirect(started.authorizationUrl.toString(), 303);
  });

  app.get("/cockpit/callback", CALLBACK_DOC, async (c) => {
    const loginId = getCookie(c, LOGIN_COOKIE);
    deleteCookie(c, LOGIN_COOKIE, { ...cookieBase, path: "/cockpit/callback" });
    const cancelled = c.req.query("error") === "access_denied";
    const done = deps.login === null
      ? null
      : await deps.login.finish(loginId, new URL(c.req.url), getCookie(c, SESSION_COOKIE));
    if (done === null || !done.ok) {
      deps.logger?.info("Cockpit login failed", {
        reason: done?.reason ?? "no identity provider configured",
      });
      return html(
        c,
        <Message
          title={cancelled ? "Anmeldung abgebrochen" : "Anmeldung fehlgeschlagen"}
          text={cancelled
            ? "Sie haben die Anmeldung abgebrochen."
            : "Die Anmeldung konnte nicht abgeschlossen werden. Bitte melden Sie sich erneut an."}
          link={{ href: "/cockpit/login", text: "Erneut anmelden" }}
          error
        />,
        400,
      );
    }
    setCookie(c, SESSION_COOKIE, done.session.id, {
      ...cookieBase,
      sameSite: "Strict",
      expires: done.session.expiresAt,
    });
    return html(c, <LoggedInPage />);
  });

  app.post("/cockpit/logout", LOGOUT_DOC, async (c) => {
    const session = await currentSession(c);
    const type = c.req.header("content-type") ?? "";
    let csrf = "";
    if (/^application\/x-www-form-urlencoded\b/i.test(type) && c.req.raw.body) {
      const bytes = await readBytes(c.req.raw.body, 4096, deps.bodyTimeoutMs);
      csrf = new URLSearchParams(new TextDecoder().decode(bytes)).get("csrf") ?? "";
    }
    if (session === null || !sameToken(csrf, session.csrf)) {
      return html(
        c,
        <Message
          title="Abgelehnt"
          text="Diese Anfrage wurde aus Sicherheitsgründen abgelehnt (Anmeldung abgelaufen oder Formular nicht von dieser Seite)."
          link={{ href: "/cockpit", text: "Zum Datenschutzcockpit" }}
          error
        />,
        403,
      );
    }
    await deps.login!.end(session.id);
    deleteCookie(c, SESSION_COOKIE, cookieBase);
    return c.redirect("/cockpit?abgemeldet", 303);
  });

  app.get("/cockpit/export.csv", EXPORT_DOC, async (c) => {
    const session = await currentSession(c);
    if (session === null) return notLoggedIn(c);
    const { filters, error } = readFilters(c.req.query());
    if (error) {
      return html(c, <Message title="Ungültiger Filter" text={error} error />, 400);
    }
    const found = await lines(session, filters);
    const rows = found.lines.map((l) =>
      [
        l.when,
        l.authority,
        l.onBehalfOf ?? "",
        l.evidence,
        l.register,
        l.record.purpose,
        l.record.legalBasis,
        l.outcome,
        l.record.transferId,
      ].map(cell)
    );
    const csv = stringify([
      [
        "Zeitpunkt",
        "Behörde",
        "im Auftrag von",
        "Daten",
        "Register",
        "Zweck",
        "Rechtsgrundlage",
        "Ergebnis",
        "Vorgangsnummer",
      ],
      ...rows,
    ], { delimiter: ";", bom: true, record_delimiter: "windows" });
    return c.body(csv, 200, {
      ...PAGE_HEADERS,
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": 'attachment; filename="datenschutzcockpit.csv"',
    });
  });

  app.get("/cockpit/druck", PRINT_DOC, async (c) => {
    const session = await currentSession(c);
    if (session === null) return notLoggedIn(c);
    const { filters, error } = readFilters(c.req.query());
    if (error) {
      return html(c, <Message title="Ungültiger Filter" text={error} error />, 400);
    }
    const found = await lines(session, filters);
    const day = (d: string) => d.split("-").reverse().join(".");
    const range = filters.from || filters.to
      ? `${filters.from ? `ab ${day(filters.from)}` : ""}${filters.from && filters.to ? " " : ""}${
        filters.to ? `bis ${day(filters.to)}` : ""
      }`
      : "alle protokollierten Übermittlungen";
    const authority = filters.authority
      ? `, nur ${found.authorities.find((a) => a.id === filters.authority)?.name ?? "—"}`
      : "";
    return html(
      c,
      <PrintPage
        lines={found.lines}
        more={found.more}
        range={range + authority}
        printedAt={`${whenFormat().format(new Date(now()))} Uhr`}
      />,
    );
  });
  return app;
}

/** A CSV cell that a spreadsheet will not run as a formula (OWASP CSV injection). */
function cell(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}
