/**
 * The OpenAPI 3.1 document, generated from the routes themselves. A route states what it
 * accepts and answers right where it is declared, with a {@linkcode describe} middleware
 * (`hono-openapi`'s `describeRoute` pattern); {@linkcode buildOpenApi} walks the Hono app's
 * routes (through `hono-openapi`'s `generateSpecs`) and turns those statements into the
 * document. There is no second list of operations to keep in step.
 *
 * The middleware only calls the next handler: no validation runs per request (the routes
 * parse their input themselves), and the navigation fast path never reaches it.
 *
 * Any media type can be described, so a JSON route, an XML route and an HTML page document
 * themselves the same way. zod schemas become JSON Schema components (`z.toJSONSchema`);
 * a schema named with `.meta({ id })` is a named component, every other one gets the name of
 * its operation and status.
 *
 * @example
 * ```ts
 * app.get("/evidence-types/:id", auth, describe({
 *   summary: "One evidence type",
 *   tags: ["Catalogue"],
 *   roles: ["consumer"],
 *   params: { id: slugSchema },
 *   responses: {
 *     200: { description: "The evidence type", schema: evidenceTypeSchema },
 *     404: problem("Unknown evidence type"),
 *   },
 * }), (c) => c.json(find(c.req.param("id"))));
 *
 * app.post("/xnachweis/v1/evidence-requests", auth, describe({
 *   summary: "XNachweis evidence request",
 *   tags: ["XNachweis"],
 *   roles: ["consumer"],
 *   body: { type: "application/xml", description: "A DE.EvidenceRequest.0101" },
 *   responses: {
 *     200: { description: "DE.EvidenceResponse.0102", type: "application/xml" },
 *     400: { description: "DE.EvidenceErrorResponse.0103", type: "application/xml" },
 *   },
 * }), handler);
 * ```
 *
 * @module
 */
import type { Hono, MiddlewareHandler } from "hono";
import { findTargetHandler } from "hono/utils/handler";
import { generateSpecs, uniqueSymbol } from "hono-openapi";
import { z } from "zod";
import { problemSchema } from "./schemas.ts";

/** A JSON Schema written out by hand (for what zod does not describe, e.g. a raw body). */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** What one response of an operation looks like. */
export interface ResponseDoc {
  readonly description: string;
  /** Media type; default `application/json`. */
  readonly type?: string;
  readonly schema?: z.ZodType | JsonSchema;
  readonly headers?: Readonly<Record<string, { description: string; schema?: JsonSchema }>>;
}

/** What one operation accepts and answers. */
export interface RouteDoc {
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  /**
   * Roles admitted (OAuth 2.0 client credentials); omitted or empty for a public route. A
   * protected route answers 401 and 403 problems, added here for every such operation.
   */
  readonly roles?: readonly string[];
  /** `LOTSE_ADMIN_TOKEN` is accepted as well. */
  readonly adminToken?: boolean;
  readonly params?: Readonly<Record<string, z.ZodType>>;
  readonly query?: z.ZodObject;
  readonly headers?: Readonly<
    Record<string, { schema: z.ZodType; required?: boolean; description?: string }>
  >;
  readonly body?: {
    /** One media type or several. */
    readonly type: string | readonly string[];
    readonly schema?: z.ZodType | JsonSchema;
    readonly description?: string;
  };
  readonly responses: Readonly<Record<number, ResponseDoc>>;
}

/** A problem+json response (RFC 9457) with the project's problem schema. */
export function problem(description: string, schema: z.ZodType = problemSchema): ResponseDoc {
  return { description, type: "application/problem+json", schema };
}

/** The 503 every route that reads the tables answers while they load. */
export const LOADING: Readonly<Record<number, ResponseDoc>> = {
  503: problem("The tables are still loading"),
};

const docs = new WeakMap<object, RouteDoc>();

/** What {@linkcode buildOpenApi} reads of a Hono app: its routes. */
export interface RoutedApp {
  readonly routes: readonly { method: string; path: string; handler: unknown }[];
}

/**
 * A middleware that carries `doc` for the OpenAPI document; put it before the handler. At
 * request time it only calls the next handler: it validates nothing.
 */
export function describe(doc: RouteDoc): MiddlewareHandler {
  const middleware: MiddlewareHandler = (_c, next) => next();
  docs.set(middleware, doc);
  // hono-openapi reads a `spec` stored under its symbol; it is filled in at build time.
  return Object.assign(middleware, { [uniqueSymbol]: { spec: {} } });
}

/** What {@linkcode buildOpenApi} reads of a Hono app: its routes. */
export interface RoutedApp {
  readonly routes: readonly { method: string; path: string; handler: unknown }[];
}

/** Options for {@linkcode buildOpenApi}. */
export interface OpenApiOptions {
  readonly title: string;
  readonly version: string;
  readonly description: string;
  /** Lotse's public URL: the server, and the base of the token URL. */
  readonly publicUrl: string;
}

const OAUTH = "oauth2";
const ADMIN_TOKEN = "adminToken";

/**
 * Builds the whole document from the routes of `app`. Call once and keep the result: the
 * routes do not change after the app is built.
 */
export async function buildOpenApi(
  app: RoutedApp,
  options: OpenApiOptions,
): Promise<Record<string, unknown>> {
  const schemas = new SchemaSet();
  const routes = new Set<string>();
  const documented = new Set<string>();
  // Every documented handler: fill in the spec hono-openapi will read, in OpenAPI terms.
  for (const route of app.routes) {
    const key = `${route.method} ${route.path}`;
    if (route.method !== "ALL") routes.add(key);
    const handler = findTargetHandler(route.handler as Parameters<typeof findTargetHandler>[0]);
    const doc = docs.get(handler);
    if (!doc) continue;
    documented.add(key);
    const holder = (handler as unknown as Record<symbol, { spec: Record<string, unknown> }>)[
      uniqueSymbol
    ]!;
    holder.spec = operation(doc, operationName(route.method, route.path), schemas);
  }
  const missing = [...routes].filter((key) => !documented.has(key));
  if (missing.length > 0) {
    throw new Error(`Route ${missing.join(", ")} has no describe(): the document would omit it`);
  }
  const generated = await generateSpecs(app as unknown as Hono, {
    documentation: {
      info: { title: options.title, version: options.version, description: options.description },
      servers: [{ url: options.publicUrl }],
    },
    excludeStaticFile: false,
    defaultValidationErrorResponse: false,
  }) as unknown as Record<string, unknown>;
  return {
    ...generated,
    components: {
      schemas: schemas.components(),
      securitySchemes: {
        [OAUTH]: {
          type: "oauth2",
          description: "OAuth 2.0 client credentials with private_key_jwt (RFC 7523); " +
            `metadata at ${options.publicUrl}/.well-known/oauth-authorization-server`,
          flows: {
            clientCredentials: { tokenUrl: `${options.publicUrl}/v1/token`, scopes: {} },
          },
        },
        [ADMIN_TOKEN]: {
          type: "http",
          scheme: "bearer",
          description: "The operator's LOTSE_ADMIN_TOKEN",
        },
      },
    },
  };
}

function operationName(method: string, path: string): string {
  const words = path.split("/").filter(Boolean).map((segment) =>
    segment.startsWith(":") ? `By-${segment.slice(1)}` : segment
  );
  return [method.toLowerCase(), ...words].join("-").split(/[^A-Za-z0-9]+/)
    .map((w, i) => i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1)).join("");
}

function operation(doc: RouteDoc, name: string, schemas: SchemaSet): Record<string, unknown> {
  const parameters: unknown[] = [];
  for (const [param, schema] of Object.entries(doc.params ?? {})) {
    parameters.push({ name: param, in: "path", required: true, schema: inline(schema) });
  }
  for (const [param, schema] of Object.entries(doc.query?.shape ?? {})) {
    const s = schema as z.ZodType;
    parameters.push({
      name: param,
      in: "query",
      required: !s.safeParse(undefined).success,
      schema: inline(s),
    });
  }
  for (const [header, h] of Object.entries(doc.headers ?? {})) {
    parameters.push({
      name: header,
      in: "header",
      required: h.required ?? false,
      ...(h.description ? { description: h.description } : {}),
      schema: inline(h.schema),
    });
  }
  const roles = doc.roles ?? [];
  // What the edge may answer on any route (rate limits, overload) and on any body it reads.
  const responses: Record<string, ResponseDoc> = {
    ...(doc.body ? { 408: problem("The request body did not arrive in time") } : {}),
    429: {
      ...problem("A rate limit is reached"),
      headers: { "Retry-After": { description: "Seconds until the next window" } },
    },
    500: problem("An unexpected error (never with internals)"),
    503: problem("Overloaded, or the tables are still loading"),
    ...(roles.length > 0
      ? {
        401: problem("No valid access token"),
        403: problem(`The caller's client has none of the roles ${roles.join(", ")}`),
      }
      : {}),
    ...doc.responses,
  };
  const out: Record<string, unknown> = {
    operationId: name,
    summary: doc.summary,
    ...(doc.description || roles.length > 0
      ? {
        description: [doc.description, roles.length > 0 ? `Roles: ${roles.join(", ")}.` : ""]
          .filter(Boolean).join("\n\n"),
      }
      : {}),
    tags: [...doc.tags],
    security: roles.length === 0
      ? []
      : [{ [OAUTH]: [] }, ...(doc.adminToken ? [{ [ADMIN_TOKEN]: [] }] : [])],
    ...(parameters.length > 0 ? { parameters } : {}),
    responses: Object.fromEntries(
      Object.entries(responses).map(([status, r]) => [status, response(r, `${name}${status}`)]),
    ),
  };
  if (doc.body) {
    const types = typeof doc.body.type === "string" ? [doc.body.type] : doc.body.type;
    const schema = doc.body.schema ? schemas.ref(doc.body.schema, `${name}Body`) : undefined;
    out.requestBody = {
      required: true,
      ...(doc.body.description ? { description: doc.body.description } : {}),
      content: Object.fromEntries(types.map((t) => [t, schema ? { schema } : {}])),
    };
  }
  return out;

  function response(r: ResponseDoc, fallbackId: string): Record<string, unknown> {
    const type = r.type ?? "application/json";
    return {
      description: r.description,
      ...(r.headers
        ? {
          headers: Object.fromEntries(
            Object.entries(r.headers).map(([h, v]) => [h, {
              description: v.description,
              schema: v.schema ?? { type: "string" },
            }]),
          ),
        }
        : {}),
      content: { [type]: r.schema ? { schema: schemas.ref(r.schema, fallbackId) } : {} },
    };
  }
}

const TO_JSON = {
  target: "draft-2020-12",
  io: "input",
  unrepresentable: "any",
} as const;

// A parameter's schema is small and stands alone: inline, without the draft's `$schema`.
function inline(schema: z.ZodType): unknown {
  const { $schema: _, ...out } = z.toJSONSchema(schema, TO_JSON) as Record<string, unknown>;
  return out;
}

function isZod(schema: unknown): schema is z.ZodType {
  return typeof schema === "object" && schema !== null && "_zod" in schema;
}

/** The zod schemas of the document, each a component under one name. */
class SchemaSet {
  #registry = z.registry<{ id: string }>();
  #ids = new Set<string>();

  /** A `$ref` to the component for `schema` (named by its `meta({ id })` or `fallbackId`). */
  ref(schema: z.ZodType | JsonSchema, fallbackId: string): unknown {
    if (!isZod(schema)) return schema;
    let id = this.#registry.get(schema)?.id;
    if (id === undefined) {
      id = z.globalRegistry.get(schema)?.id ?? fallbackId;
      if (this.#ids.has(id)) throw new Error(`Two OpenAPI schemas are named "${id}"`);
      this.#ids.add(id);
      this.#registry.add(schema, { id });
    }
    return { $ref: `#/components/schemas/${id}` };
  }

  /**
   * All components. A named schema nested in another but not used on its own lands in zod's
   * `__shared` definitions; it is lifted to a component of its own name so that every `$ref`
   * points into `#/components/schemas`.
   */
  components(): Record<string, unknown> {
    const { schemas } = z.toJSONSchema(this.#registry, {
      ...TO_JSON,
      uri: (id) => `#/components/schemas/${id}`,
    }) as { schemas: Record<string, Record<string, unknown>> };
    const shared = (schemas.__shared?.$defs ?? {}) as Record<string, Record<string, unknown>>;
    delete schemas.__shared;
    const all: Record<string, Record<string, unknown>> = { ...schemas };
    for (const [id, schema] of Object.entries(shared)) {
      if (id in all) throw new Error(`Two OpenAPI schemas are named "${id}"`);
      all[id] = schema;
    }
    return rewriteRefs(all) as Record<string, unknown>;
  }
}

const SHARED_REF = /^#\/components\/schemas\/__shared#\/\$defs\/(.+)$/;

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === "$schema" || key === "$id") continue;
    if (key === "$ref" && typeof v === "string") {
      out.$ref = v.replace(SHARED_REF, "#/components/schemas/$1");
    } else out[key] = rewriteRefs(v);
  }
  return out;
}
