/**
 * The citizens' cockpit pages (routes/cockpit.tsx renders them): one layout with landmarks, a
 * skip link and print styles, the login page, the transfer list in plain German, the print
 * view. No script at all, so the Content-Security-Policy stays `default-src 'none'`; styles
 * inline (`style-src 'unsafe-inline'`). Colours meet WCAG 2.1 AA contrast.
 *
 * @module
 */
import type { ProtocolRecord } from "../src/protocol/mod.ts";

const STYLE = `*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1b1b1b;background:#fff;line-height:1.5}
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5rem}.skip:focus{left:1rem}
header,main,footer{max-width:72rem;margin:0 auto;padding:1rem 1.5rem}
header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;border-bottom:4px solid #004b87}
header .brand{font-weight:700;font-size:1.25rem;color:#004b87;text-decoration:none}
footer{border-top:1px solid #ccc;color:#4a4a4a;font-size:.9rem;margin-top:2rem}
a{color:#004b87}a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid #b35c00;outline-offset:2px}
.button{display:inline-block;font:inherit;padding:.5rem 1rem;background:#004b87;color:#fff;border:2px solid #004b87;border-radius:4px;text-decoration:none;cursor:pointer}
.button.secondary{background:#fff;color:#004b87}
fieldset{border:1px solid #ccc;border-radius:4px;padding:.5rem 1rem 1rem;display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-end}
label{display:block;font-weight:600}input,select{font:inherit;padding:.35rem;border:1px solid #555;border-radius:3px}
table{border-collapse:collapse;width:100%;margin-top:1rem}caption{text-align:left;font-weight:600;padding:.5rem 0}
th,td{border-bottom:1px solid #ccc;padding:.5rem .6rem;text-align:left;vertical-align:top}th{background:#eef2f6}
.actions{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}.muted{color:#4a4a4a}
.notice{border-left:4px solid #004b87;background:#eef2f6;padding:.5rem 1rem}.error{border-left-color:#a00000}
.outcome-refused,.outcome-failed{color:#8a0000;font-weight:600}
@media print{.skip,.noprint,form,.actions{display:none}header{border-bottom:2px solid #000}a{color:#000}th{background:none}}`;

/** Page chrome: landmarks, skip link, the logout form when logged in. */
export function Layout(
  props: { title: string; children?: unknown; logout?: { csrf: string } },
) {
  return (
    <html lang="de">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{props.title}</title>
        <style>{STYLE}</style>
      </head>
      <body>
        <a class="skip" href="#inhalt">Zum Inhalt springen</a>
        <header>
          <a class="brand" href="/cockpit">Datenschutzcockpit</a>
          {props.logout
            ? (
              <form method="post" action="/cockpit/logout" class="noprint">
                <input type="hidden" name="csrf" value={props.logout.csrf} />
                <button type="submit" class="button secondary">Abmelden</button>
              </form>
            )
            : null}
        </header>
        <main id="inhalt">{props.children}</main>
        <footer>
          <p>
            Das Datenschutzcockpit zeigt Ihnen, welche Behörde Daten über Sie aus einem Register
            abgerufen hat (§ 10 OZG, § 9 IDNrG). Die Einträge werden zwei Jahre aufbewahrt.
          </p>
        </footer>
      </body>
    </html>
  );
}

/** A page that says one thing, e.g. a failed login, with a way on. */
export function Message(
  props: { title: string; text: string; link?: { href: string; text: string }; error?: boolean },
) {
  return (
    <Layout title={`${props.title} – Datenschutzcockpit`}>
      <h1>{props.title}</h1>
      <p class={props.error ? "notice error" : "notice"} role={props.error ? "alert" : undefined}>
        {props.text}
      </p>
      {props.link
        ? (
          <p>
            <a href={props.link.href}>{props.link.text}</a>
          </p>
        )
        : null}
    </Layout>
  );
}

/** The page before login: what the cockpit is, and the way to log in. */
export function LoginPage(props: { available: boolean; notice?: string }) {
  return (
    <Layout title="Anmelden – Datenschutzcockpit">
      <h1>Datenschutzcockpit</h1>
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
          <p class="notice error" role="alert">
            Die Anmeldung ist derzeit nicht eingerichtet. Bitte versuchen Sie es später erneut.
          </p>
        )}
    </Layout>
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
    <table id="uebermittlungen">
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">Wann</th>
          <th scope="col">Welche Behörde</th>
          <th scope="col">Welche Daten, aus welchem Register</th>
          <th scope="col">Wozu</th>
          <th scope="col">Rechtsgrundlage</th>
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
            <td>{l.record.purpose}</td>
            <td>{l.record.legalBasis}</td>
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
    <Layout title="Ihre Datenübermittlungen – Datenschutzcockpit" logout={{ csrf: props.csrf }}>
      <h1>Ihre Datenübermittlungen</h1>
      <p>
        Jede Zeile ist ein Abruf von Daten über Sie: welche Behörde sie wann bei welchem Register
        angefragt hat, wozu, auf welcher Rechtsgrundlage, und ob die Daten übermittelt wurden.
      </p>
      {props.error ? <p class="notice error" role="alert" id="fehler">{props.error}</p> : null}
      <form method="get" action="/cockpit" role="search" aria-label="Übermittlungen filtern">
        <fieldset>
          <legend>Filtern</legend>
          <div>
            <label for="von">Von (Datum)</label>
            <input type="date" id="von" name="von" value={filters.from} />
          </div>
          <div>
            <label for="bis">Bis (Datum)</label>
            <input type="date" id="bis" name="bis" value={filters.to} />
          </div>
          <div>
            <label for="behoerde">Behörde</label>
            <select id="behoerde" name="behoerde">
              <option value="">Alle Behörden</option>
              {props.authorities.map((a) => (
                <option value={a.id} selected={a.id === filters.authority}>{a.name}</option>
              ))}
            </select>
          </div>
          <div>
            <button type="submit" class="button">Filter anwenden</button>
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
    </Layout>
  );
}

/** The print view: the same list, no forms, the filters in words. */
export function PrintPage(
  props: { lines: readonly TransferLine[]; more: boolean; range: string; printedAt: string },
) {
  return (
    <Layout title="Druckansicht – Datenschutzcockpit">
      <h1>Auszug aus dem Datenschutzcockpit</h1>
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
    </Layout>
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
