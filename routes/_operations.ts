/** The operations of the public contract, for the OpenAPI document. */
import { z } from "zod";
import type { Operation } from "../src/openapi.ts";
import {
  ambiguousProblem,
  authorizationBody,
  authorizationResult,
  evidenceTypeSchema,
  navigationQuery,
  navigationResult,
  problemSchema,
  regionSchema,
  regionsQuery,
  slugSchema,
  TABLE_BODIES,
  TABLE_IDS,
} from "../src/schemas.ts";
import { TABLE_NAMES } from "../src/model.ts";

const problem = (description: string) => ({ description, schema: problemSchema });
const auth = { 401: problem("No valid access token"), 403: problem("Wrong role") };

const adminOperations: Operation[] = TABLE_NAMES.flatMap((table): Operation[] => {
  const params = { id: TABLE_IDS[table] };
  const path = `/admin/v1/${table}/:id`;
  const roles = ["operator"];
  const tags = ["Data management"];
  return [
    {
      method: "get",
      path,
      summary: `Read one ${table} row`,
      tags,
      roles,
      params,
      responses: { 200: { description: "The row" }, ...auth, 404: problem("No such row") },
    },
    {
      method: "put",
      path,
      summary: `Create or replace one ${table} row`,
      tags,
      roles,
      params,
      body: { type: "application/json", schema: TABLE_BODIES[table] },
      responses: {
        200: { description: "Replaced" },
        201: { description: "Created" },
        400: problem("Invalid body or reference to a missing row"),
        ...auth,
        409: problem("Collides with another row"),
      },
    },
    {
      method: "delete",
      path,
      summary: `Delete one ${table} row`,
      tags,
      roles,
      params,
      responses: {
        204: { description: "Deleted" },
        ...auth,
        404: problem("No such row"),
        409: problem("Still referenced"),
      },
    },
  ];
});

export const OPERATIONS: readonly Operation[] = [
  {
    method: "get",
    path: "/healthz",
    summary: "Liveness",
    tags: ["Operations"],
    responses: { 200: { description: "The process runs" } },
  },
  {
    method: "get",
    path: "/readyz",
    summary: "Readiness: tables loaded",
    tags: ["Operations"],
    responses: { 200: { description: "Ready" }, 503: { description: "Loading" } },
  },
  {
    method: "get",
    path: "/metrics",
    summary: "Prometheus metrics",
    tags: ["Operations"],
    responses: { 200: { description: "Text format 0.0.4", type: "text/plain" } },
  },
  {
    method: "get",
    path: "/v1/evidence-types",
    summary: "The evidence catalogue",
    tags: ["Catalogue"],
    roles: ["consumer", "provider", "dsc", "operator"],
    responses: {
      200: {
        description: "All evidence types",
        schema: z.object({ evidenceTypes: z.array(evidenceTypeSchema) }),
      },
      ...auth,
    },
  },
  {
    method: "get",
    path: "/v1/evidence-types/:id",
    summary: "One evidence type",
    tags: ["Catalogue"],
    roles: ["consumer", "provider", "dsc", "operator"],
    params: { id: slugSchema },
    responses: {
      200: { description: "The evidence type", schema: evidenceTypeSchema },
      ...auth,
      404: problem("Unknown evidence type"),
    },
  },
  {
    method: "get",
    path: "/v1/regions",
    summary: "Regions by PLZ (and Ort), AGS, ARS or name prefix",
    tags: ["Catalogue"],
    roles: ["consumer", "provider", "dsc", "operator"],
    query: regionsQuery,
    responses: {
      200: {
        description: "Matching regions",
        schema: z.object({ regions: z.array(regionSchema) }),
      },
      400: problem("Malformed or conflicting parameters"),
      ...auth,
      404: problem("Unknown region"),
    },
  },
  {
    method: "get",
    path: "/v1/providers/:id",
    summary: "A provider's public entry",
    tags: ["Catalogue"],
    roles: ["consumer", "provider", "dsc", "operator"],
    params: { id: slugSchema },
    responses: { 200: { description: "The provider" }, ...auth, 404: problem("Unknown provider") },
  },
  {
    method: "get",
    path: "/v1/navigation",
    summary: "Which provider is responsible for an evidence type in a place",
    tags: ["Navigation"],
    roles: ["consumer", "operator"],
    query: navigationQuery,
    responses: {
      200: { description: "The responsible provider", schema: navigationResult },
      400: problem("Malformed key or parameters"),
      ...auth,
      404: problem("Unknown region, unknown evidence type or no responsible provider"),
      409: { description: "The PLZ covers several Gemeinden", schema: ambiguousProblem },
    },
  },
  {
    method: "get",
    path: "/.well-known/jwks.json",
    summary: "Public keys that verify Lotse's tokens",
    tags: ["IAM"],
    responses: { 200: { description: "JWKS (RFC 7517)" } },
  },
  {
    method: "post",
    path: "/v1/token",
    summary: "OAuth 2.0 client credentials with private_key_jwt (RFC 7523)",
    tags: ["IAM"],
    body: {
      type: "application/x-www-form-urlencoded",
      schema: z.object({
        grant_type: z.literal("client_credentials"),
        client_id: slugSchema,
        client_assertion_type: z.literal(
          "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        client_assertion: z.string(),
      }),
    },
    responses: {
      200: {
        description: "Access token",
        schema: z.object({
          access_token: z.string(),
          token_type: z.literal("Bearer"),
          expires_in: z.int(),
        }),
      },
      400: { description: "RFC 6749 § 5.2 error", type: "application/json" },
      401: { description: "invalid_client (RFC 6749 § 5.2)", type: "application/json" },
    },
  },
  {
    method: "post",
    path: "/v1/authorizations",
    summary: "Vermittlungsstelle: decide and seal an evidence access token",
    tags: ["Vermittlungsstelle"],
    roles: ["consumer"],
    body: { type: "application/json", schema: authorizationBody },
    responses: {
      201: { description: "Evidence access token (ES256 JWS)", schema: authorizationResult },
      400: problem("Invalid body"),
      ...auth,
      404: problem("Unknown evidence type or provider"),
    },
  },
  {
    method: "post",
    path: "/v1/evidence/:evidenceType",
    summary: "Transfer evidence: navigate, authorize, stream the request and the answer",
    tags: ["Transport"],
    roles: ["consumer"],
    params: { evidenceType: slugSchema },
    query: navigationQuery.omit({ evidenceType: true }).extend({
      providerId: slugSchema.optional(),
    }),
    headers: {
      "Lotse-Purpose": { schema: z.string().max(200), required: true },
      "Lotse-Legal-Basis": { schema: z.string().max(200), required: true },
      "Lotse-Idnr": { schema: z.string().regex(/^\d{11}$/) },
      "Repr-Digest": { schema: z.string() },
    },
    body: { type: "*/*" },
    responses: {
      200: {
        description: "The provider's evidence, streamed; its status and type pass through",
        type: "*/*",
      },
      400: problem("Malformed input, wrong IDNr or request digest mismatch"),
      ...auth,
      404: problem("Unknown region or evidence type, or no responsible provider"),
      409: { description: "Ambiguous PLZ", schema: ambiguousProblem },
      413: problem("Request body over LOTSE_MAX_REQUEST_BYTES"),
      502: problem("The provider failed"),
      504: problem("The provider did not answer in time"),
    },
  },
  {
    method: "get",
    path: "/v1/transfers/:id",
    summary: "The protocol record of one of the caller's transfers",
    tags: ["Transport"],
    roles: ["consumer"],
    params: { id: z.uuid() },
    responses: {
      200: { description: "The record" },
      ...auth,
      404: problem("Not yours or unknown"),
    },
  },
  {
    method: "get",
    path: "/v1/protocol",
    summary: "Datenschutzcockpit: the transfers about one person",
    tags: ["Datenschutzcockpit"],
    roles: ["dsc"],
    query: z.object({
      idnr: z.string().regex(/^\d{11}$/),
      from: z.string().optional(),
      to: z.string().optional(),
      cursor: z.string().optional(),
      limit: z.string().optional(),
    }),
    responses: {
      200: { description: "Records, oldest first, paged by nextCursor" },
      400: problem("Wrong IDNr or bad parameters"),
      ...auth,
    },
  },
  {
    method: "get",
    path: "/admin/v1/tables",
    summary: "Table versions and counts",
    tags: ["Data management"],
    roles: ["operator"],
    responses: { 200: { description: "Versions and counts" }, ...auth },
  },
  {
    method: "post",
    path: "/admin/v1/imports/:table",
    summary: "Bulk import (NDJSON or CSV), all or nothing",
    tags: ["Data management"],
    roles: ["operator"],
    params: { table: z.enum(TABLE_NAMES) },
    body: { type: "application/x-ndjson" },
    responses: {
      200: { description: "Imported" },
      ...auth,
      422: problem("Bad rows, listed per line; nothing written"),
    },
  },
  ...adminOperations,
];
