/**
 * Builds the OpenAPI 3.1 document from the zod schemas of the contract. Operations are
 * declared as data next to their schemas; the JSON Schemas come from `z.toJSONSchema`, so
 * the document cannot drift from the validation.
 *
 * @module
 */
import { z } from "zod";

/** One operation of the document. */
export interface Operation {
  readonly method: "get" | "put" | "post" | "delete";
  readonly path: string;
  readonly summary: string;
  readonly tags: readonly string[];
  /** Roles admitted; empty for public routes. */
  readonly roles?: readonly string[];
  readonly query?: z.ZodObject;
  readonly params?: Readonly<Record<string, z.ZodType>>;
  readonly headers?: Readonly<Record<string, { schema: z.ZodType; required?: boolean }>>;
  readonly body?: { readonly type: string; readonly schema?: z.ZodType };
  /** Status → description and optional JSON schema. */
  readonly responses: Readonly<
    Record<number, { description: string; schema?: z.ZodType; type?: string }>
  >;
}

function jsonSchema(schema: z.ZodType): unknown {
  const out = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "any",
  }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

/** Collects the schemas that carry a `meta({ id })` as components. */
function components(operations: readonly Operation[]): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  const add = (schema: z.ZodType | undefined) => {
    const id = schema ? z.globalRegistry.get(schema)?.id : undefined;
    if (schema && id && !registry.has(schema)) registry.add(schema, { id });
  };
  for (const op of operations) {
    add(op.body?.schema);
    for (const response of Object.values(op.responses)) add(response.schema);
  }
  const { schemas } = z.toJSONSchema(registry, {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "any",
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, Record<string, unknown>> };
  for (const schema of Object.values(schemas)) delete schema.$schema;
  return schemas;
}

function ref(schema: z.ZodType): unknown {
  const id = z.globalRegistry.get(schema)?.id;
  return id ? { $ref: `#/components/schemas/${id}` } : jsonSchema(schema);
}

/** The whole document. */
export function buildOpenApi(
  operations: readonly Operation[],
  info: { title: string; version: string; description: string; serverUrl: string },
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of operations) {
    const parameters: unknown[] = [];
    for (const [name, schema] of Object.entries(op.params ?? {})) {
      parameters.push({ name, in: "path", required: true, schema: jsonSchema(schema) });
    }
    if (op.query) {
      for (const [name, schema] of Object.entries(op.query.shape)) {
        const s = schema as z.ZodType;
        parameters.push({
          name,
          in: "query",
          required: !s.safeParse(undefined).success,
          schema: jsonSchema(s),
        });
      }
    }
    for (const [name, h] of Object.entries(op.headers ?? {})) {
      parameters.push({
        name,
        in: "header",
        required: h.required ?? false,
        schema: jsonSchema(h.schema),
      });
    }
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(op.responses)) {
      const type = r.type ??
        (Number(status) >= 400 ? "application/problem+json" : "application/json");
      responses[status] = {
        description: r.description,
        ...(r.schema || type !== "application/json"
          ? { content: { [type]: r.schema ? { schema: ref(r.schema) } : {} } }
          : {}),
      };
    }
    const openapiPath = op.path.replace(/:(\w+)/g, "{$1}");
    paths[openapiPath] ??= {};
    paths[openapiPath][op.method] = {
      summary: op.summary,
      tags: op.tags,
      ...(op.roles?.length
        ? { security: [{ bearer: [] }], description: `Roles: ${op.roles.join(", ")}.` }
        : { security: [] }),
      ...(parameters.length ? { parameters } : {}),
      ...(op.body
        ? {
          requestBody: {
            required: true,
            content: { [op.body.type]: op.body.schema ? { schema: ref(op.body.schema) } : {} },
          },
        }
        : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: info.title, version: info.version, description: info.description },
    servers: [{ url: info.serverUrl }],
    paths,
    components: {
      schemas: components(operations),
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
      },
    },
  };
}
