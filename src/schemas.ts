/**
 * The zod schemas of Lotse's public contract (docs/api.md §3): request bodies and parameters are
 * validated with them, and `/openapi.json` is generated from them. The hot routes check
 * their few parameters with the same patterns by hand, so they pay no parsing machinery.
 *
 * @module
 */
import { z } from "zod";

export const AGS = /^\d{8}$/;
export const ARS = /^\d{12}$/;
export const PLZ = /^\d{5}$/;
export const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const REGION_KEY = /^(\d{2}|\d{3}|\d{5}|\d{8})?$/;
/** A UUID of RFC 9562 (versions 1 to 8, the RFC's variant), any case: transfer ids. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** Any control character (C0, DEL, C1): never part of a name, purpose or legal basis. */
// deno-lint-ignore no-control-regex
export const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const text = (max: number) =>
  z.string().trim().min(1).max(max).refine(
    (s) => !CONTROL.test(s),
    "must not contain control characters",
  );

export const agsSchema = z.string().regex(AGS, "expected 8 digits").meta({ example: "08111000" });
export const arsSchema = z.string().regex(ARS, "expected 12 digits").meta({
  example: "081110000000",
});
export const plzSchema = z.string().regex(PLZ, "expected 5 digits").meta({ example: "70173" });
export const slugSchema = z.string().regex(
  SLUG,
  "expected lower-case letters, digits and hyphens, at most 63",
);

export const regionBody = z.strictObject({
  name: text(200),
  ars: arsSchema.nullish(),
}).meta({ id: "RegionBody" });

export const postcodeBody = z.strictObject({
  places: z.array(z.strictObject({ ags: agsSchema, ort: text(200) })).min(1).max(1000),
}).meta({ id: "PostcodeBody" });

/** An EU Semantic Repository evidence type classification (XNachweis and EDM). */
export const CLASSIFICATION =
  /^https:\/\/sr\.oots\.tech\.ec\.europa\.eu\/evidencetypeclassifications\/[\x21-\x7e]+$/;

export const classificationSchema = z.string().max(500).regex(
  CLASSIFICATION,
  "expected an EU Semantic Repository URI (https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/…)",
).meta({ example: "https://sr.oots.tech.ec.europa.eu/evidencetypeclassifications/ec/3cbc8f35" });

export const evidenceTypeBody = z.strictObject({
  name: text(200),
  description: z.string().max(2000).refine(
    // deno-lint-ignore no-control-regex
    (s) => !/[\u0000\u007f]/.test(s),
    "must not contain NUL or DEL",
  ).nullish(),
  classification: classificationSchema.nullish(),
}).meta({ id: "EvidenceTypeBody" });

const pem = z.string().max(64 * 1024).regex(
  /^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----\s*$/,
  "expected a PEM certificate",
);

export const providerBody = z.strictObject({
  name: text(200),
  endpoint: z.url({ protocol: /^https?$/ }).max(2000),
  caCert: pem.nullish(),
  xnachweisEndpoint: z.url({ protocol: /^https?$/ }).max(2000).nullish(),
}).meta({ id: "ProviderBody" });

export const routeBody = z.strictObject({
  evidenceType: slugSchema,
  regionKey: z.string().regex(REGION_KEY, 'expected "" or 2, 3, 5 or 8 digits'),
  providerId: slugSchema,
}).meta({ id: "RouteBody" });

export const roleSchema = z.enum(["consumer", "provider", "dsc", "operator", "gateway"]);

const jwk = z.looseObject({ kty: z.string() });

export const clientBody = z.strictObject({
  name: text(200),
  roles: z.array(roleSchema).min(1).max(5),
  jwks: z.strictObject({ keys: z.array(jwk).min(1).max(10) }),
}).meta({ id: "ClientBody" });

/** The contact person of a registration. */
export const contactSchema = z.strictObject({
  name: text(200),
  email: z.email("expected an e-mail address").max(254),
}).meta({ id: "RegistrationContact" });

/**
 * `POST /onboarding/v1/registrations` (docs/api.md §3.3): what an authority asks for. It names
 * no roles, ids of rows or permissions of its own: approval derives them (src/registration.ts).
 */
export const registrationBody = z.strictObject({
  kind: z.enum(["consumer", "provider"]),
  organisation: text(200),
  contact: contactSchema,
  clientId: slugSchema,
  jwks: clientBody.shape.jwks,
  evidenceTypes: z.array(slugSchema).min(1).max(50),
  purposes: z.array(text(200)).min(1).max(100).optional(),
  legalBases: z.array(text(200)).min(1).max(100).optional(),
  endpoint: providerBody.shape.endpoint.optional(),
  xnachweisEndpoint: providerBody.shape.xnachweisEndpoint,
  caCert: providerBody.shape.caCert,
  jurisdictions: z.array(z.string().regex(REGION_KEY, 'expected "" or 2, 3, 5 or 8 digits'))
    .min(1).max(1000).optional(),
}).superRefine((r, ctx) => {
  const need = (field: keyof typeof r, why: string) => {
    if (r[field] === undefined) ctx.addIssue({ code: "custom", path: [field], message: why });
  };
  const forbid = (field: keyof typeof r, why: string) => {
    if (r[field] !== undefined && r[field] !== null) {
      ctx.addIssue({ code: "custom", path: [field], message: why });
    }
  };
  if (r.kind === "consumer") {
    need("purposes", "a consumer names the purposes it asks for");
    need("legalBases", "a consumer names the legal bases it asks under");
    for (const f of ["endpoint", "xnachweisEndpoint", "caCert", "jurisdictions"] as const) {
      forbid(f, "only a provider registers this");
    }
  } else {
    need("endpoint", "a provider registers its endpoint");
    need("jurisdictions", "a provider names the regions it is responsible for");
    for (const f of ["purposes", "legalBases"] as const) forbid(f, "only a consumer asks for this");
  }
}).meta({ id: "Registration" });

export const registrationStatusSchema = z.enum(["pending", "approved", "rejected"]);

export const registrationCreated = z.object({
  id: z.uuid(),
  status: registrationStatusSchema,
}).meta({ id: "RegistrationCreated" });

/** One readiness check result (docs/api.md §3.3). */
export const readinessCheckSchema = z.object({
  id: z.string(),
  title: z.string(),
  passed: z.boolean(),
  detail: z.string(),
}).meta({ id: "ReadinessCheckItem" });

export const readinessReportSchema = z.object({
  id: z.uuid(),
  providerId: slugSchema,
  at: z.iso.datetime(),
  passed: z.boolean(),
  checks: z.array(readinessCheckSchema),
}).meta({ id: "ReadinessReport" });

const isoDate = z.iso.datetime({ offset: true });

export const permissionBody = z.strictObject({
  consumerId: slugSchema,
  evidenceType: slugSchema,
  providerId: slugSchema.nullable(),
  purposes: z.array(text(200)).min(1).max(100),
  legalBases: z.array(text(200)).min(1).max(100),
  idnrAllowed: z.boolean(),
  validFrom: isoDate.nullish(),
  validUntil: isoDate.nullish(),
  /** The authorities (client ids) an EfA service may act for (XNachweis EvidenceRequester). */
  onBehalfOf: z.array(slugSchema).min(1).max(100).nullish(),
}).meta({ id: "PermissionBody" });

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string(),
}).catchall(z.unknown()).meta({ id: "Problem" });

export const regionSchema = z.object({
  ags: agsSchema,
  ars: arsSchema.nullable(),
  name: z.string(),
}).meta({ id: "Region" });

export const evidenceTypeSchema = z.object({
  id: slugSchema,
  name: z.string(),
  description: z.string().nullable(),
  classification: z.string().nullable().optional(),
}).meta({ id: "EvidenceType" });

export const publicProviderSchema = z.object({
  id: slugSchema,
  name: z.string(),
  endpoint: z.string(),
}).meta({ id: "Provider" });

export const matchedLevelSchema = z.enum(["gemeinde", "kreis", "regierungsbezirk", "land", "bund"]);

export const navigationQuery = z.object({
  evidenceType: slugSchema,
  ags: agsSchema.optional(),
  ars: arsSchema.optional(),
  plz: plzSchema.optional(),
  ort: z.string().max(200).optional(),
});

export const navigationResult = z.object({
  evidenceType: z.string(),
  region: regionSchema,
  provider: publicProviderSchema,
  matchedLevel: matchedLevelSchema,
}).meta({ id: "NavigationResult" });

export const ambiguousProblem = problemSchema.extend({
  candidates: z.array(z.object({ ags: agsSchema, name: z.string() })),
}).meta({ id: "AmbiguousRegionProblem" });

export const regionsQuery = z.object({
  plz: plzSchema.optional(),
  ort: z.string().max(200).optional(),
  ags: agsSchema.optional(),
  ars: arsSchema.optional(),
  q: z.string().min(1).max(100).optional(),
  limit: z.string().regex(/^\d{1,3}$/).optional(),
});

/** The body schema of each admin table. */
export const TABLE_BODIES = {
  "regions": regionBody,
  "postcodes": postcodeBody,
  "evidence-types": evidenceTypeBody,
  "providers": providerBody,
  "routes": routeBody,
  "clients": clientBody,
  "permissions": permissionBody,
} as const;

/** The id schema of each admin table. */
export const TABLE_IDS = {
  "regions": agsSchema,
  "postcodes": plzSchema,
  "evidence-types": slugSchema,
  "providers": slugSchema,
  "routes": slugSchema,
  "clients": slugSchema,
  "permissions": slugSchema,
} as const;

/** `sha-256=:<base64 of 32 bytes>:` (RFC 9530). */
export const SHA256_DIGEST = /^sha-256=:[A-Za-z0-9+/]{43}=:$/;

export const authorizationBody = z.strictObject({
  evidenceType: slugSchema,
  providerId: slugSchema,
  purpose: text(200),
  legalBasis: text(200),
  idnrUsed: z.boolean(),
  requestDigest: z.string().regex(SHA256_DIGEST, 'expected "sha-256=:<base64>:"').optional(),
}).meta({ id: "AuthorizationRequest" });

export const authorizationResult = z.object({
  token: z.string(),
  expiresAt: z.iso.datetime(),
  jti: z.string(),
}).meta({ id: "EvidenceAccessToken" });

const outcomeSchema = z.enum(["in-flight", "refused", "granted", "delivered", "failed"]);

/** `GET /v1/transfers/{id}`: the protocol record of one transfer. */
export const transferRecordSchema = z.object({
  transferId: z.uuid(),
  time: z.string(),
  consumerId: z.string(),
  providerId: z.string().nullable(),
  evidenceType: z.string(),
  purpose: z.string(),
  legalBasis: z.string(),
  idnrUsed: z.boolean(),
  jti: z.string().nullable(),
  outcome: outcomeSchema,
  finishedAt: z.string().nullable(),
  status: z.int().nullable(),
  bytes: z.int().nullable(),
  responseDigest: z.string().nullable(),
  durationMs: z.number().nullable(),
  reason: z.string().nullable(),
}).meta({ id: "TransferRecord" });

/** `GET /v1/protocol`: one page of a person's protocol, oldest first. */
export const protocolPageSchema = z.object({
  records: z.array(z.object({
    transferId: z.uuid(),
    time: z.string(),
    consumer: z.string(),
    provider: z.string().nullable(),
    evidenceType: z.string(),
    purpose: z.string(),
    legalBasis: z.string(),
    outcome: outcomeSchema,
  })),
  nextCursor: z.string().nullable(),
}).meta({ id: "ProtocolPage" });
