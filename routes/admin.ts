/**
 * Data management (role `operator`, or the bootstrap `LOTSE_ADMIN_TOKEN`): read, create or
 * replace, and delete rows of every table, bulk imports, and table versions. A change is
 * visible to this instance's index when the response is sent, and to every other instance
 * through `NOTIFY` within a second.
 *
 * @module
 */
import { Hono } from "hono";
import type { Config } from "../src/config.ts";
import type { Iam } from "../src/iam.ts";
import type { TableStore } from "../src/store.ts";
import type { Logger } from "../src/log.ts";
import { type AuthVariables, requireRole } from "../src/auth.ts";
import { Problem } from "../src/problem.ts";
import { TABLE_BODIES, TABLE_IDS } from "../src/schemas.ts";
import { TABLE_NAMES, type TableName } from "../src/model.ts";
import { isoTime, parseWith, readJson } from "../src/validate.ts";
import { EndpointPolicy } from "../src/endpoint_policy.ts";
import { checkCaCert, checkPublicJwk } from "../crypto/registration.ts";
import {
  type Db,
  deleteRow,
  getRow,
  importRows,
  putRow,
  queryAudit,
  type TableRows,
} from "../src/onboard.ts";
import { describe, LOADING, problem, type RouteDoc } from "../src/openapi.ts";
import { problemSchema } from "../src/schemas.ts";
import { z } from "zod";

const TAGS = ["Data management"];
const ADMIN = { tags: TAGS, roles: ["operator"], adminToken: true } as const;
const TABLE = z.enum(TABLE_NAMES);
const ID = z.string().describe("The row's id: an AGS, a PLZ or a slug, by table");
// The body's shape depends on the table in the path.
const ROW = z.union(Object.values(TABLE_BODIES)).meta({ id: "TableRow" });
const ROW_PARAMS = { table: TABLE, id: ID };
const BAD_ROW = problem("Bad id or body, or a reference to a missing row");

const TABLES_DOC = describe({
  ...ADMIN,
  summary: "Table versions and counts",
  responses: {
    200: {
      description: "Versions and counts",
      schema: z.object({
        tablesVersion: z.int(),
        loadedAt: z.iso.datetime(),
        tables: z.array(z.object({ name: TABLE, version: z.int(), count: z.int() })),
      }).meta({ id: "TableVersions" }),
    },
    ...LOADING,
  },
});

const IMPORT_DOC = describe({
  ...ADMIN,
  summary: "Bulk import (NDJSON or CSV), streamed, all or nothing",
  params: { table: TABLE },
  body: { type: ["application/x-ndjson", "text/csv"], description: "One row a line, with its id" },
  responses: {
    200: {
      description: "Imported",
      schema: z.object({ table: TABLE, imported: z.int(), version: z.int() }),
    },
    400: problem("Empty or unreadable body"),
    404: problem("Unknown table"),
    413: problem("A line or the row count over the limit"),
    415: problem("Neither NDJSON nor CSV"),
    422: problem(
      "Bad rows, listed per line; nothing written",
      problemSchema.extend({ errors: z.array(z.unknown()) }).meta({ id: "ImportProblem" }),
    ),
  },
});

const ROW_DOCS: Record<"get" | "put" | "delete", RouteDoc> = {
  get: {
    ...ADMIN,
    summary: "Read one row",
    params: ROW_PARAMS,
    responses: {
      200: { description: "The row", schema: z.looseObject({}) },
      400: BAD_ROW,
      404: problem("Unknown table or no such row"),
    },
  },
  put: {
    ...ADMIN,
    summary: "Create or replace one row",
    params: ROW_PARAMS,
    body: { type: "application/json", schema: ROW },
    responses: {
      200: { description: "Replaced", schema: z.looseObject({}) },
      201: { description: "Created", schema: z.looseObject({}) },
      400: BAD_ROW,
      404: problem("Unknown table"),
      409: problem("Collides with another row"),
      413: problem("Body over 256 KiB"),
      415: problem("Body is not JSON"),
    },
  },
  delete: {
    ...ADMIN,
    summary: "Delete one row",
    params: ROW_PARAMS,
    responses: {
      204: { description: "Deleted" },
      400: BAD_ROW,
      404: problem("Unknown table or no such row"),
      409: problem("Still referenced"),
    },
  },
};

const AUDIT_FILTERS = ["table", "key", "actor", "action"] as const;

const AUDIT_DOC = describe({
  ...ADMIN,
  summary: "Audit trail of data changes: who, when, table, key, before and after",
  query: z.object({
    table: z.string().optional(),
    key: z.string().optional(),
    actor: z.string().optional(),
    action: z.string().optional(),
    from: z.string().optional(),
    to: z.string().optional(),
    cursor: z.string().optional(),
    limit: z.string().optional(),
  }),
  responses: {
    200: { description: "Entries, newest first, paged by nextCursor" },
    400: problem("Bad parameters"),
  },
});

function tableName(raw: string): TableName {
  if ((TABLE_NAMES as readonly string[]).includes(raw)) return raw as TableName;
  throw new Problem(
    "not-found",
    `Unknown table "${raw}": expected one of ${TABLE_NAMES.join(", ")}`,
  );
}

function rowId(table: TableName, raw: string): string {
  return parseWith(TABLE_IDS[table], raw, `${table} id`);
}

/** Options for {@linkcode toRow}. */
export interface ToRowOptions {
  /** The provider endpoint rule; default public addresses and loopback. */
  readonly endpoints?: EndpointPolicy;
}

/** Builds the typed row from its id and validated body, checking what the schema cannot. */
export function toRow<K extends TableName>(
  table: K,
  rawId: string,
  body: unknown,
  options: ToRowOptions = {},
): TableRows[K] {
  const id = rowId(table, rawId);
  // deno-lint-ignore no-explicit-any
  const b = parseWith(TABLE_BODIES[table], body, `${table} body`) as any;
  switch (table) {
    case "regions": {
      if (b.ars && `${b.ars.slice(0, 5)}${b.ars.slice(9)}` !== id) {
        throw new Problem(
          "invalid-request",
          `ARS "${b.ars}" does not belong to AGS "${id}": its first 5 and last 3 digits must be the AGS`,
        );
      }
      return { ags: id, ars: b.ars ?? null, name: b.name } as TableRows[K];
    }
    case "postcodes":
      return { plz: id, places: b.places } as TableRows[K];
    case "evidence-types":
      return {
        id,
        name: b.name,
        description: b.description ?? null,
        classification: b.classification ?? null,
      } as TableRows[K];
    case "providers": {
      const policy = options.endpoints ?? EndpointPolicy.LOOPBACK;
      for (const endpoint of [b.endpoint, b.xnachweisEndpoint]) {
        const problem = endpoint ? policy.check(endpoint) : null;
        if (problem) throw new Problem("invalid-request", problem);
      }
      const caProblem = b.caCert ? checkCaCert(b.caCert) : null;
      if (caProblem) throw new Problem("invalid-request", caProblem);
      return {
        id,
        name: b.name,
        endpoint: b.endpoint,
        caCert: b.caCert ?? null,
        xnachweisEndpoint: b.xnachweisEndpoint ?? null,
      } as TableRows[K];
    }
    case "routes":
      return { id, ...b } as TableRows[K];
    case "clients":
      for (const [i, key] of (b.jwks.keys as Record<string, unknown>[]).entries()) {
        const keyProblem = checkPublicJwk(key);
        if (keyProblem) throw new Problem("invalid-request", `jwks.keys.${i}: ${keyProblem}`);
      }
      return {
        id,
        name: b.name,
        roles: [...new Set(b.roles)],
        jwks: b.jwks,
      } as unknown as TableRows[
        K
      ];
    case "permissions": {
      if (b.validFrom && b.validUntil && Date.parse(b.validFrom) >= Date.parse(b.validUntil)) {
        throw new Problem("invalid-request", "validFrom must lie before validUntil");
      }
      return {
        id,
        ...b,
        validFrom: b.validFrom ? new Date(b.validFrom).toISOString() : null,
        validUntil: b.validUntil ? new Date(b.validUntil).toISOString() : null,
        onBehalfOf: b.onBehalfOf ? [...new Set(b.onBehalfOf)] : null,
      } as TableRows[K];
    }
  }
  throw new Problem("not-found", `Unknown table "${table}"`);
}

/**
 * Maps a database refusal to the problem it means for the caller, or null. The database's
 * own text (constraint messages, key values) never reaches the caller: only the field a
 * foreign key of ours names.
 */
export function databaseProblem(error: unknown, action: "write" | "delete"): Problem | null {
  const code = (error as { code?: unknown })?.code;
  const named = error as { constraint_name?: unknown; constraint?: unknown } | null;
  const constraint = String(named?.constraint_name ?? named?.constraint ?? "");
  const column = /^[a-z_]+?_([a-z]+(?:_[a-z]+)*)_fkey$/.exec(constraint)?.[1];
  const field = column
    ? ` (${column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())})`
    : "";
  if (code === "23503") {
    return action === "delete"
      ? new Problem("conflict", "Row is still referenced by rows of another table")
      : new Problem("invalid-request", `Row refers to a row that does not exist${field}`);
  }
  if (code === "23505") {
    return new Problem("conflict", "Row collides with an existing row");
  }
  if (typeof code === "string" && (code === "23514" || code.startsWith("22"))) {
    return new Problem("invalid-request", "Row violates a constraint of its table");
  }
  return null;
}

/** What the admin routes need. */
export interface AdminRoutesOptions {
  readonly db: Db;
  readonly store: Pick<TableStore, "snapshot" | "refresh">;
  readonly iam: Pick<Iam, "checker">;
  readonly config: Pick<Config, "adminToken" | "providerAllowedNetworks" | "bodyTimeoutMs">;
  /** Where a failed import preview is reported (the import goes on without it). */
  readonly logger?: Pick<Logger, "warn">;
}

export function adminRoutes(deps: AdminRoutesOptions): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();
  const { db, store } = deps;
  app.use(requireRole(deps.iam.checker, ["operator"], { adminToken: deps.config.adminToken }));
  const rowOptions: ToRowOptions = {
    endpoints: new EndpointPolicy(deps.config.providerAllowedNetworks),
  };
  const parseRow = <K extends TableName>(table: K, id: string, body: unknown) =>
    toRow(table, id, body, rowOptions);

  app.get("/tables", TABLES_DOC, (c) => {
    const snapshot = store.snapshot;
    if (!snapshot) throw new Problem("unavailable", "Tables are still loading");
    const counts: Record<TableName, number> = {
      "regions": snapshot.tables.regions.length,
      "postcodes": snapshot.tables.postcodes.length,
      "evidence-types": snapshot.tables.evidenceTypes.length,
      "providers": snapshot.tables.providers.length,
      "routes": snapshot.tables.routes.length,
      "clients": snapshot.tables.clients.length,
      "permissions": snapshot.tables.permissions.length,
    };
    return c.json({
      tablesVersion: snapshot.version,
      loadedAt: new Date(snapshot.loadedAt).toISOString(),
      tables: TABLE_NAMES.map((name) => ({
        name,
        version: snapshot.versions[name],
        count: counts[name],
      })),
    });
  });

  // Who changed what when: newest first, filtered, paged by `next`.
  app.get("/audit", AUDIT_DOC, async (c) => {
    const q = c.req.query();
    const filter: Record<string, string> = {};
    for (const name of AUDIT_FILTERS) {
      const value = q[name];
      if (value === undefined || value === "") continue;
      if (value.length > 200) throw new Problem("invalid-request", `Parameter ${name} is too long`);
      filter[name] = value;
    }
    let limit = 100;
    if (q.limit !== undefined) {
      limit = Number(q.limit);
      if (!/^\d{1,4}$/.test(q.limit) || limit < 1 || limit > 1000) {
        throw new Problem("invalid-request", "Parameter limit must be 1 to 1000");
      }
    }
    if (q.cursor !== undefined && q.cursor !== "" && !/^\d{1,18}$/.test(q.cursor)) {
      throw new Problem("invalid-request", "Cannot parse cursor");
    }
    const page = await queryAudit(db, {
      ...filter,
      from: isoTime(q.from, "from"),
      to: isoTime(q.to, "to"),
      before: q.cursor || undefined,
      limit,
    });
    return c.json({ entries: page.entries, nextCursor: page.next });
  });

  app.post("/imports/:table", IMPORT_DOC, async (c) => {
    const table = tableName(c.req.param("table"));
    const result = await importRows(db, table, c.req.raw, {
      toRow: parseRow,
      idleMs: deps.config.bodyTimeoutMs,
      actor: c.get("principal").clientId,
      onPreviewError: (error) =>
        deps.logger?.warn("Import preview failed; instances read the table whole", { error }),
    });
    if (!result.ok) {
      throw new Problem(
        "unprocessable",
        `Import refused: ${result.errorCount} bad row(s), nothing written`,
        {
          extra: { errors: result.errors },
        },
      );
    }
    await store.refresh();
    return c.json({ table, imported: result.count, version: result.version });
  });

  app.get("/:table/:id", describe(ROW_DOCS.get), async (c) => {
    const table = tableName(c.req.param("table"));
    const id = rowId(table, c.req.param("id"));
    const row = await getRow(db, table, id);
    if (!row) throw new Problem("not-found", `No ${table} row "${id}"`);
    return c.json(row);
  });

  app.put("/:table/:id", describe(ROW_DOCS.put), async (c) => {
    const table = tableName(c.req.param("table"));
    const id = rowId(table, c.req.param("id"));
    const row = parseRow(table, id, await readJson(c, undefined, deps.config.bodyTimeoutMs));
    let result;
    try {
      result = await putRow(db, table, row, { actor: c.get("principal").clientId });
    } catch (error) {
      throw databaseProblem(error, "write") ?? error;
    }
    await store.refresh();
    return c.json(row, result.created ? 201 : 200);
  });

  app.delete("/:table/:id", describe(ROW_DOCS.delete), async (c) => {
    const table = tableName(c.req.param("table"));
    const id = rowId(table, c.req.param("id"));
    let version;
    try {
      version = await deleteRow(db, table, id, { actor: c.get("principal").clientId });
    } catch (error) {
      throw databaseProblem(error, "delete") ?? error;
    }
    if (version === null) throw new Problem("not-found", `No ${table} row "${id}"`);
    await store.refresh();
    return c.body(null, 204);
  });

  return app;
}
