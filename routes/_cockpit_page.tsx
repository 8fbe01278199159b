/**
 * The citizens' cockpit pages (routes/cockpit.tsx renders them) in the shared page frame
 * (routes/_layout.tsx: landmarks, skip link, the style sheet of `/assets/lotse.css` with its
 * print rules): the login page, the transfer list in plain German, the print view. No script
 * at all; the pages' Content-Security-Policy is the shared one (`PAGE_CSP`).
 *
 * @module
 */
import type { Child } from "hono/jsx";
import type { ProtocolRecord } from "../src/protocol/mod.ts";
import { Layout } from "./_layout.tsx";

const BRAND = {
  href: "/cockpit",
  name: "Datenschutzcockpit",
  tagline: "Wer hat welche Daten über Sie abgerufen, wann, wozu?",
} as const;

/** The shared page frame (routes/_layout.tsx) with the cockpit's name, and logout when in. */
function Page(props: { title: string; children?: Child; logout?: { csrf: string } }) {
  return (
    <Layout
      title={props.title}
      brand={BRAND}
      actions={props.logout
        ? (
          <form method="post" action="/cockpit/logout" class="noprint">
            <input type="hidden" name="csrf" value={props.logout.csrf} />
            <button type="submit" class="secondary">Abmelden</button>
          </form>
        )
        : undefined}
    >
      {props.children}
      <p class="hint">
        Das Datenschutzcockpit zeigt Ihnen, welche Behörde Daten über Sie aus einem Register
        abgerufen hat (§ 10 OZG, § 9 IDNrG). Die Einträge werden zwei Jahre aufbewahrt.
      </p>
    </Layout>
  );
}

/** A page that says one thing, e.g. a failed login, with a way on. */
export function Message(
  props: { title: string; text: string; link?: { href: string; text: string }; error?: boolean },
) {
  return (
    <Page title={props.title}>
      <p class={props.error ? "error-summary" : "notice"} role={props.error ? "alert" : undefined}>
        {props.text}
      </p>
      {props.link
        ? (
          <p>
            <a href={props.link.href}>{props.link.text}</a>
          </p>
        )
        : null}
    </Page>
  );
}

/** The page before login: what the cockpit is, and the way to log in. */
export function LoginPage(props: { available: boolean; notice?: string }) {
  return (
    <Page title="Datenschutzcockpit">
      {props.notice ? <p class="notice" role="status">{props.notice}</p> : null}
      <p>
        Hier sehen Sie, welche Behörde wann welche Daten über Sie abgerufen hat, wozu und auf
        welcher Rechtsgrundlage. Melden Sie sich dazu mit Ihrem Nutzerkonto an; Sie sehen danach nur
        die Einträge zu Ihrer Person.
      </p>
      {props.available
        ? (
          <p>
            <a class="button" id="login" href="/cockpit/login">Mit Nutzerkonto anmelden</a>
          </p>
        )
        : (
          <p class="notice" role="alert">
            Die Anmeldung ist derzeit nicht eingerichtet. Bitte versuchen Sie es später erneut.
          </p>
        )}
    </Page>
  );
}

/** One transfer in the words of the page. */
export interface TransferLine {
  readonly record: ProtocolRecord;
  /** The time in Germany, e.g. `29.11.2026, 14:03 Uhr`. */
  readonly when: string;
  readonly authority: string;
  readonly onBehalfOf: string | null;
  readonly register: string;
  readonly evidence: string;
  readonly outcome: string;
}

/** The filters as the person set them. */
export interface Filters {
  readonly from: string;
  readonly to: string;
  readonly authority: string;
}

/** The query string of the filters (for export and print links). */
export function filterQuery(filters: Filters): string {
  const params = new URLSearchParams();
  if (filters.from) params.set("von", filters.from);
  if (filters.to) params.set("bis", filters.to);
  if (filters.authority) params.set("behoerde", filters.authority);
  const text = params.toString();
  return text ? `?${text}` : "";
}

function Table(props: { lines: readonly TransferLine[]; caption: string }) {
  return (
    <table id="uebermittlungen" class="transfers">
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">Wann</th>
          <th scope="col">Welche Behörde</th>
          <th scope="col">Welche Daten, aus welchem Register</th>
          <th scope="col">Wozu, auf welcher Rechtsgrundlage</th>
          <th scope="col">Ergebnis</th>
        </tr>
      </thead>
      <tbody>
        {props.lines.map((l) => (
          <tr>
            <td>
              <time datetime={l.record.time}>{l.when}</time>
            </td>
            <td>
              {l.authority}
              {l.onBehalfOf ? <div class="muted">im Auftrag von {l.onBehalfOf}</div> : null}
            </td>
            <td>
              {l.evidence}
              <div class="muted">aus: {l.register}</div>
            </td>
            <td>
              {l.record.purpose}
              <div class="muted">Rechtsgrundlage: {l.record.legalBasis}</div>
            </td>
            <td class={`outcome-${l.record.outcome}`}>{l.outcome}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function caption(count: number, more: boolean): string {
  const n = count === 1 ? "1 Übermittlung" : `${count} Übermittlungen`;
  return more ? `${n}; es gibt weitere – bitte grenzen Sie den Zeitraum ein` : n;
}

/** The logged-in page: filters, export, print view, the transfers. */
export function RecordsPage(
  props: {
    lines: readonly TransferLine[];
    more: boolean;
    filters: Filters;
    authorities: readonly { id: string; name: string }[];
    csrf: string;
    error?: string;
  },
) {
  const { filters } = props;
  const query = filterQuery(filters);
  return (
    <Page title="Ihre Datenübermittlungen" logout={{ csrf: props.csrf }}>
      <p>
        Jede Zeile ist ein Abruf von Daten über Sie: welche Behörde sie wann bei welchem Register
        angefragt hat, wozu, auf welcher Rechtsgrundlage, und ob die Daten übermittelt wurden.
      </p>
      {props.error ? <p class="error-summary" role="alert" id="fehler">{props.error}</p> : null}
      <form method="get" action="/cockpit" role="search" aria-label="Übermittlungen filtern">
        <fieldset class="filters">
          <legend>Filtern</legend>
          <div class="field">
            <label for="von">Von (Datum)</label>
            <input type="date" id="von" name="von" value={filters.from} />
          </div>
          <div class="field">
            <label for="bis">Bis (Datum)</label>
            <input type="date" id="bis" name="bis" value={filters.to} />
          </div>
          <div class="field">
            <label for="behoerde">Behörde</label>
            <select id="behoerde" name="behoerde">
              <option value="">Alle Behörden</option>
              {props.authorities.map((a) => (
                <option value={a.id} selected={a.id === filters.authority}>{a.name}</option>
              ))}
            </select>
          </div>
          <div class="field">
            <button type="submit">Filter anwenden</button>
          </div>
          {query ? <a href="/cockpit">Filter zurücksetzen</a> : null}
        </fieldset>
      </form>
      <div class="actions">
        <a id="export" href={`/cockpit/export.csv${query}`} download="datenschutzcockpit.csv">
          Als Tabelle herunterladen (CSV)
        </a>
        <a id="druck" href={`/cockpit/druck${query}`}>Druckansicht</a>
      </div>
      {props.lines.length === 0
        ? (
          <p id="keine" role="status">
            Für diesen Zeitraum sind keine Übermittlungen über Sie protokolliert.
          </p>
        )
        : <Table lines={props.lines} caption={caption(props.lines.length, props.more)} />}
    </Page>
  );
}

/** The print view: the same list, no forms, the filters in words. */
export function PrintPage(
  props: { lines: readonly TransferLine[]; more: boolean; range: string; printedAt: string },
) {
  return (
    <Page title="Auszug aus dem Datenschutzcockpit">
      <p>
        Zeitraum: {props.range}. Stand: {props.printedAt}.
      </p>
      <p class="noprint">
        <a href="/cockpit">Zurück zum Datenschutzcockpit</a>{" "}
        – drucken Sie diese Seite mit der Druckfunktion Ihres Browsers.
      </p>
      {props.lines.length === 0
        ? <p>Für diesen Zeitraum sind keine Übermittlungen protokolliert.</p>
        : <Table lines={props.lines} caption={caption(props.lines.length, props.more)} />}
    </Page>
  );
}

/** After the login: on to the cockpit by a same-site navigation, so the session cookie goes. */
export function LoggedInPage() {
  return (
    <html lang="de">
      <head>
        <meta charset="utf-8" />
        <meta http-equiv="refresh" content="0;url=/cockpit" />
        <title>Angemeldet – Datenschutzcockpit</title>
      </head>
      <body>
        <main>
          <h1>Sie sind angemeldet</h1>
          <p>
            <a href="/cockpit">Weiter zum Datenschutzcockpit</a>
          </p>
        </main>
      </body>
    </html>
  );
}
