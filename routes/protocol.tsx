/**
 * The Datenschutzcockpit's view of the protocol: `GET /v1/protocol` (role `dsc`) lists the
 * transfers about one person, found by the keyed hash of the IDNr; `/cockpit` shows the same
 * to people. The IDNr travels in a POST body on the page, never in a URL, so it does not
 * land in access logs or browser history.
 *
 * @module
 */
import { Hono } from "hono";
import type { Iam } from "../src/iam.ts";
import type { Snapshot } from "../src/store.ts";
import { type AuthVariables, requireRole } from "../src/auth.ts";
import { Problem } from "../src/problem.ts";
import { checkIdnr } from "../crypto/mod.ts";
import { isoTime, readBytes } from "../src/validate.ts";
import type { Config } from "../src/config.ts";
import type { ProtocolRecord, RecordsOptions } from "../src/protocol/mod.ts";
import { describe, problem } from "../src/openapi.ts";
import { protocolPageSchema } from "../src/schemas.ts";
import { z } from "zod";

const PROTOCOL_DOC = describe({
  summary: "Datenschutzcockpit: the transfers about one person",
  tags: ["Datenschutzcockpit"],
  roles: ["dsc"],
  query: z.object({
    idnr: z.string().regex(/^\d{11}$/),
    from: z.string().optional().describe("ISO 8601, inclusive"),
    to: z.string().optional().describe("ISO 8601, exclusive"),
    cursor: z.string().optional(),
    limit: z.string().regex(/^\d{1,4}$/).optional().describe("1 to 1000, default 100"),
  }),
  responses: {
    200: { description: "Records, oldest first, paged by nextCursor", schema: protocolPageSchema },
    400: problem("Wrong IDNr or bad parameters"),
  },
});

const PAGE = { type: "text/html", schema: { type: "string" } } as const;

const COCKPIT_DOC = describe({
  summary: "Datenschutzcockpit page for people",
  tags: ["Datenschutzcockpit"],
  responses: { 200: { description: "The form", ...PAGE } },
});

const COCKPIT_POST_DOC = describe({
  summary: "Datenschutzcockpit: show the transfers about one person",
  description: "A form post, so the IDNr never lands in a URL. The page says what went wrong.",
  tags: ["Datenschutzcockpit"],
  body: {
    type: "application/x-www-form-urlencoded",
    schema: z.object({ idnr: z.string(), token: z.string() }).meta({ id: "CockpitForm" }),
  },
  responses: {
    200: { description: "The records", ...PAGE },
    400: { description: "Wrong IDNr", ...PAGE },
    401: { description: "Invalid or expired token", ...PAGE },
    403: { description: "The token lacks the role dsc", ...PAGE },
    413: problem("Form over 16 KiB"),
    415: problem("Not a form"),
  },
});

function idnrOrProblem(idnr: string | undefined): string {
  if (idnr === undefined) throw new Problem("invalid-request", "Missing parameter idnr");
  const reason = checkIdnr(idnr);
  if (reason) throw new Problem("invalid-request", reason);
  return idnr;
}

/** What the protocol routes need. */
export interface ProtocolRoutesOptions {
  readonly iam: Pick<Iam, "checker">;
  readonly config: Pick<Config, "bodyTimeoutMs">;
  readonly store: { readonly snapshot: Snapshot | null };
  /** The keyed hash under which the protocol stores an IDNr. */
  readonly idnrHash: (idnr: string) => string;
  /** One page of a person's protocol (src/protocol's `recordsForIdnr` on the database). */
  readonly protocolRecords: (
    idnrHash: string,
    options: RecordsOptions,
  ) => Promise<{ records: ProtocolRecord[]; nextCursor: string | null }>;
}

async function query(
  deps: ProtocolRoutesOptions,
  params: { idnr?: string; from?: string; to?: string; cursor?: string; limit?: string },
) {
  const idnr = idnrOrProblem(params.idnr);
  const from = isoTime(params.from, "from");
  const to = isoTime(params.to, "to");
  let limit = 100;
  if (params.limit !== undefined) {
    limit = Number(params.limit);
    if (!/^\d{1,4}$/.test(params.limit) || limit < 1 || limit > 1000) {
      throw new Problem("invalid-request", "Parameter limit must be 1 to 1000");
    }
  }
  try {
    return await deps.protocolRecords(deps.idnrHash(idnr), {
      from,
      to,
      limit,
      cursor: params.cursor || null,
    });
  } catch (error) {
    if (error instanceof RangeError) throw new Problem("invalid-request", "Cannot parse cursor");
    throw error;
  }
}

const OUTCOME_TEXT: Record<string, string> = {
  "delivered": "übermittelt",
  "deferred": "angekündigt (Nachweis folgt)",
  "failed": "fehlgeschlagen",
  "refused": "abgelehnt",
  "granted": "genehmigt",
  "in-flight": "laufend",
};

function Page(props: { children?: unknown; title: string }) {
  return (
    <html lang="de">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title}</title>
        <style>
          {`body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#1b1b1b}
table{border-collapse:collapse;width:100%;margin-top:1rem}th,td{border-bottom:1px solid #ccc;padding:.4rem .6rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}label{display:block;margin:.6rem 0 .2rem}input{font:inherit;padding:.3rem;width:24rem;max-width:100%}
button{font:inherit;margin-top:.8rem;padding:.4rem 1rem}.error{color:#a00000}.muted{color:#555}`}
        </style>
      </head>
      <body>
        <h1>Datenschutzcockpit</h1>
        {props.children}
      </body>
    </html>
  );
}

function Form(props: { idnr?: string }) {
  return (
    <form method="post" action="/cockpit">
      <label for="idnr">Identifikationsnummer (IDNr)</label>
      <input
        id="idnr"
        name="idnr"
        inputmode="numeric"
        autocomplete="off"
        value={props.idnr ?? ""}
        required
      />
      <label for="token">Zugangstoken (Rolle dsc)</label>
      <input id="token" name="token" type="password" autocomplete="off" required />
      <div>
        <button type="submit">Übermittlungen anzeigen</button>
      </div>
    </form>
  );
}

function Records(
  props: {
    records: ProtocolRecord[];
    more: boolean;
    name: (kind: "client" | "provider" | "type", id: string) => string;
  },
) {
  if (props.records.length === 0) {
    return <p id="result">Für diese IDNr sind keine Übermittlungen protokolliert.</p>;
  }
  return (
    <div id="result">
      <p>{props.records.length} Übermittlung(en){props.more ? " (weitere vorhanden)" : ""}</p>
      <table>
        <thead>
          <tr>
            <th>Zeitpunkt (UTC)</th>
            <th>Wer hat angefragt</th>
            <th>Register</th>
            <th>Nachweis</th>
            <th>Zweck</th>
            <th>Rechtsgrundlage</th>
            <th>Ergebnis</th>
          </tr>
        </thead>
        <tbody>
          {props.records.map((r) => (
            <tr>
              <td>{r.time.replace("T", " ").replace(/\.\d+Z$/, "")}</td>
              <td>
                {props.name("client", r.consumer)} <span class="muted">({r.consumer})</span>
                {r.onBehalfOf
                  ? (
                    <>
                      <br />
                      im Auftrag von {props.name("client", r.onBehalfOf)}{" "}
                      <span class="muted">({r.onBehalfOf})</span>
                    </>
                  )
                  : null}
              </td>
              <td>{r.provider ? props.name("provider", r.provider) : "—"}</td>
              <td>{props.name("type", r.evidenceType)}</td>
              <td>{r.purpose}</td>
              <td>{r.legalBasis}</td>
              <td>{OUTCOME_TEXT[r.outcome] ?? r.outcome}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function protocolRoutes(deps: ProtocolRoutesOptions): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();

  app.get("/v1/protocol", requireRole(deps.iam.checker, ["dsc"]), PROTOCOL_DOC, async (c) => {
    return c.json(await query(deps, c.req.query()), 200, { "cache-control": "no-store" });
  });

  const headers = {
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
  };

  app.get("/cockpit", COCKPIT_DOC, (c) =>
    c.html(
      <Page title="Datenschutzcockpit">
        <p class="muted">
          Wer hat welche Nachweise über eine Person abgerufen, wann, wozu und auf welcher
          Rechtsgrundlage.
        </p>
        <Form />
      </Page>,
      200,
      headers,
    ));

  app.post("/cockpit", COCKPIT_POST_DOC, async (c) => {
    const type = c.req.header("content-type") ?? "";
    if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
      throw new Problem("unsupported-media-type", "Expected a form");
    }
    const bytes = await readBytes(
      c.req.raw.body ?? new ReadableStream(),
      16 * 1024,
      deps.config.bodyTimeoutMs,
    );
    const text = new TextDecoder().decode(bytes);
    const form = new URLSearchParams(text);
    const idnr = (form.get("idnr") ?? "").replace(/\s+/g, "");
    const token = form.get("token") ?? "";
    const show = (status: 200 | 400 | 401 | 403, body: unknown) =>
      c.html(
        <Page title="Datenschutzcockpit">
          <Form idnr={status === 200 ? idnr : undefined} />
          {body}
        </Page>,
        status,
        headers,
      );
    const principal = token ? await deps.iam.checker.check(token) : null;
    if (!principal) {
      return show(
        401,
        <p class="error" id="error">Das Zugangstoken ist ungültig oder abgelaufen.</p>,
      );
    }
    if (!principal.roles.includes("dsc")) {
      return show(403, <p class="error" id="error">Dieses Token hat nicht die Rolle dsc.</p>);
    }
    const reason = checkIdnr(idnr);
    if (reason) {
      return show(
        400,
        <p class="error" id="error">Diese IDNr ist nicht gültig (Prüfziffer oder Aufbau).</p>,
      );
    }
    const page = await query(deps, { idnr, limit: "1000" });
    const snapshot = deps.store.snapshot;
    const name = (kind: "client" | "provider" | "type", id: string) =>
      (kind === "client"
        ? snapshot?.clients.get(id)?.name
        : kind === "provider"
        ? snapshot?.nav.provider(id)?.name
        : snapshot?.nav.evidenceType(id)?.name) ?? id;
    return show(
      200,
      <Records records={page.records} more={page.nextCursor !== null} name={name} />,
    );
  });
  return app;
}
