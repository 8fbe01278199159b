/** The operations of the public contract, for the OpenAPI document. */
import { z } from "zod";
import type { Operation } from "../src/openapi.ts";
import {
  ambiguousProblem,
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
import { TABLE_NAMES } from "../src/tables.ts";

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
