/**
 * The frame of Lotse's pages for people (onboarding, operator decisions, readiness reports):
 * a public-sector service look, German, accessible (skip link, landmarks, visible focus,
 * contrast of at least 4.5:1), no inline style or script, so the pages' Content-Security-Policy
 * allows only files served by Lotse itself (`/assets/…`, routes/assets.ts).
 *
 * @example
 * ```tsx
 * return c.html(<Layout title="Registrierung">…</Layout>, 200, PAGE_HEADERS);
 * ```
 *
 * @module
 */
import type { Child } from "hono/jsx";

/** The policy of every page: only Lotse's own style and script files, forms to Lotse only. */
export const PAGE_CSP = "default-src 'none'; style-src 'self'; script-src 'self'; " +
  "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** The headers every page answers with. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "cache-control": "no-store",
  "content-security-policy": PAGE_CSP,
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
});

/** Props of {@linkcode Layout}. */
export interface LayoutProps {
  readonly title: string;
  /** `test` shows the test environment's banner. */
  readonly environment?: "production" | "test";
  /** Scripts of `/assets/` to load (deferred). */
  readonly scripts?: readonly string[];
  /** The header's name and link; default Lotse's, to `/onboarding`. */
  readonly brand?: { readonly href: string; readonly name: string; readonly tagline: string };
  /** Controls at the header's end (e.g. the cockpit's logout form). */
  readonly actions?: Child;
  readonly children?: Child;
}

/** A whole page. */
export function Layout(props: LayoutProps) {
  return (
    <html lang="de">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} – Lotse`}</title>
        <link rel="stylesheet" href="/assets/lotse.css" />
        {(props.scripts ?? []).map((src) => <script key={src} src={src} defer></script>)}
      </head>
      <body>
        <a class="skip" href="#inhalt">Zum Inhalt springen</a>
        <header class="site">
          <div class="wrap">
            <p class="brand">
              <a href={props.brand?.href ?? "/onboarding"}>{props.brand?.name ?? "Lotse"}</a>
              <span>
                {props.brand?.tagline ??
                  "Nachweisvermittlung im Once-Only-Technical-System (NOOTS)"}
              </span>
            </p>
            {props.actions ?? null}
          </div>
        </header>
        {props.environment === "test"
          ? (
            <div class="test-banner" role="note" id="testumgebung">
              <div class="wrap">
                <strong>Testumgebung (Referenzumgebung).</strong>{" "}
                Registrierungen werden sofort freigeschaltet; Berechtigungen gelten nur für die
                Demo-Register. Keine echten Daten eingeben.
              </div>
            </div>
          )
          : null}
        <main id="inhalt" class="wrap">
          <h1>{props.title}</h1>
          {props.children}
        </main>
        <footer class="site">
          <div class="wrap">
            Lotse – Open-Source-Nachweisvermittlung nach dem Vorbild des NOOTS. API:{" "}
            <a href="/docs">/docs</a>
          </div>
        </footer>
      </body>
    </html>
  );
}

/** An error message for one field, tied to it by `aria-describedby`. */
export function FieldError(props: { id: string; message?: string }) {
  return props.message
    ? <p class="field-error" id={`${props.id}-fehler`}>{props.message}</p>
    : null;
}

/** The `aria-describedby` of a field with a hint and maybe an error. */
export function describedBy(id: string, hint: boolean, error: string | undefined): string {
  return [hint ? `${id}-hinweis` : "", error ? `${id}-fehler` : ""].filter(Boolean).join(" ");
}
