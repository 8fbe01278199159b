/**
 * The Identitätsdatenabruf (IDA, § 6 IDNrG, docs/api.md §3.4): an authority finds a person's
 * IDNr and Basisdaten at the Registermodernisierungsbehörde. It is routed like any evidence:
 * one {@linkcode transferEvidence} for the evidence type `identitaetsdaten` to the provider
 * responsible for all of Germany, authorized and sealed by the Vermittlungsstelle and
 * recorded in the protocol. The provider's answer is checked before anyone sees it: its shape,
 * and the IDNr's check digit (§ 5 Abs. 3 IDNrG); the IDNr found is recorded with the outcome,
 * so the person finds the query in their Datenschutzcockpit.
 *
 * @example
 * ```ts
 * const query = parseIdentityQuery(await readJsonSomehow());
 * const result = await queryIdentity({ consumerId, purpose, legalBasis, query, signal }, deps);
 * if (result.kind === "found") console.log(result.idnr, result.basisdaten.familyName);
 * ```
 *
 * @module
 */
import { z } from "zod";
import { checkIdnr } from "../crypto/mod.ts";
import { formatDigest, sha256Base64 } from "../crypto/digest.ts";
import { isDin91379 } from "./din91379.ts";
import { type Refusal, refusal } from "./refusal.ts";
import { readBytes } from "./validate.ts";
import { type InspectedOutcome, type TransferDeps, transferEvidence } from "./transfer.ts";

/** The evidence type of the Identitätsdatenabruf in the catalogue. */
export const IDENTITY_EVIDENCE_TYPE = "identitaetsdaten";

/** The largest answer a Registermodernisierungsbehörde may give (Basisdaten are small). */
const MAX_ANSWER_BYTES = 64 * 1024;

function din(type: "A" | "B", max: number) {
  return z.string().trim().min(1).max(max).refine(
    (s) => isDin91379(s, type),
    `expected only characters of DIN 91379 data type ${type}`,
  ).transform((s) => s.normalize("NFC"));
}

/** A calendar date `YYYY-MM-DD` from 1870 up to today. */
const DATE = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "expected YYYY-MM-DD").refine((s) => {
  const date = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(s) &&
    s >= "1870-01-01" && date.getTime() <= Date.now();
}, "expected a real date from 1870 up to today");

const IDNR = z.string().superRefine((s, ctx) => {
  const reason = checkIdnr(s);
  if (reason) ctx.addIssue({ code: "custom", message: reason });
});

/** An address as the query and the Basisdaten give it (DIN 91379 data type B). */
export const addressSchema = z.strictObject({
  street: din("B", 100).optional(),
  houseNumber: z.string().trim().regex(/^[0-9]{1,5}(?: ?[a-zA-Z]{1,3}(?:-[0-9]{1,5})?)?$/, {
    message: "expected a house number such as 12 or 12a",
  }).optional(),
  postalCode: z.string().regex(/^\d{5}$/, "expected 5 digits").optional(),
  city: din("B", 100).optional(),
}).meta({ id: "Address" });

/** `POST /v1/identity-queries`: what the authority knows about the person. */
export const identityQuerySchema = z.strictObject({
  familyName: din("A", 120),
  givenNames: din("A", 120),
  dateOfBirth: DATE,
  placeOfBirth: din("B", 120).optional(),
  address: addressSchema.optional(),
  idnr: IDNR.optional(),
}).meta({ id: "IdentityQuery" });

export type IdentityQuery = z.output<typeof identityQuerySchema>;

/** The Basisdaten (§ 4 Abs. 2 IDNrG) Lotse passes on, as the register gives them. */
export const basisdatenSchema = z.strictObject({
  familyName: z.string().min(1).max(120),
  givenNames: z.string().min(1).max(120),
  birthName: z.string().max(120).optional(),
  doctoralDegree: z.string().max(60).optional(),
  dateOfBirth: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  placeOfBirth: z.string().max(120).optional(),
  sex: z.enum(["m", "w", "d", "x"]).optional(),
  nationalities: z.array(z.string().regex(/^[A-Z]{3}$/)).max(10).optional(),
  address: z.strictObject({
    street: z.string().max(100),
    houseNumber: z.string().max(20),
    postalCode: z.string().regex(/^\d{5}$/),
    city: z.string().max(100),
  }).optional(),
}).meta({ id: "Basisdaten" });

export type Basisdaten = z.output<typeof basisdatenSchema>;

/** `200` of `POST /v1/identity-queries`. */
export const identityResultSchema = z.object({
  idnr: z.string().regex(/^\d{11}$/),
  basisdaten: basisdatenSchema,
}).meta({ id: "IdentityResult" });

/** One Identitätsdatenabruf as the face parsed it. */
export interface IdentityRequest {
  readonly consumerId: string;
  readonly purpose: string;
  readonly legalBasis: string;
  readonly query: IdentityQuery;
  readonly signal: AbortSignal;
}

/** What the query found; every kind but `refused` has its transfer recorded. */
export type IdentityResult =
  | {
    readonly kind: "found";
    readonly transferId: string;
    readonly idnr: string;
    readonly basisdaten: Basisdaten;
  }
  | { readonly kind: "no-match"; readonly transferId: string }
  | { readonly kind: "several"; readonly transferId: string }
  | { readonly kind: "refused"; readonly refusal: Refusal };

/**
 * Asks the Registermodernisierungsbehörde for the person `request.query` describes, through
 * the one transfer use case; never throws for a refusal.
 */
export async function queryIdentity(
  request: IdentityRequest,
  deps: TransferDeps,
): Promise<IdentityResult> {
  const bytes = new TextEncoder().encode(JSON.stringify(request.query));
  // What the answer turned out to be, once read: the person found, or why it was refused.
  let settle!: (read: { idnr: string | null; outcome: InspectedOutcome }) => void;
  const read = new Promise<{ idnr: string | null; outcome: InspectedOutcome }>((resolve) =>
    settle = resolve
  );
  const found = (subject: { idnr: string | null; failure?: string }) =>
    settle({
      idnr: subject.idnr,
      outcome: subject.failure === undefined ? null : { failed: subject.failure },
    });
  const result = await transferEvidence({
    consumerId: request.consumerId,
    evidenceType: IDENTITY_EVIDENCE_TYPE,
    target: { nationwide: true },
    purpose: request.purpose,
    legalBasis: request.legalBasis,
    idnr: request.query.idnr ?? null,
    body: new Blob([bytes]).stream(),
    contentType: "application/json",
    contentLength: bytes.byteLength,
    requestDigest: formatDigest("sha-256", sha256Base64(bytes)),
    signal: request.signal,
    upstream: {
      inspect: (response) => ({
        response,
        outcome: read.then((r) => r.outcome),
        subject: read.then((r) => r.idnr),
      }),
    },
  }, deps);
  if (!result.ok) return { kind: "refused", refusal: result.refusal };
  const { transferId, provider, response } = result;
  const failed = (detail: string): IdentityResult => {
    found({ idnr: null, failure: detail });
    return {
      kind: "refused",
      refusal: refusal("provider-failed", detail, { transferId, providerId: provider.id }),
    };
  };
  // The register's answer is small: whole within the pause allowed inside a provider's body.
  const text = await readAnswer(response, deps.limits.providerIdleTimeoutMs);
  if (text === null) return failed("The register's answer is too large or cut short");
  if (response.status === 404 || response.status === 409) {
    found({ idnr: null });
    return { kind: response.status === 404 ? "no-match" : "several", transferId };
  }
  if (response.status !== 200) {
    return failed(`The register answered with status ${response.status}`);
  }
  let answer: z.output<typeof identityResultSchema>;
  try {
    answer = identityResultSchema.parse(JSON.parse(text));
  } catch {
    return failed("The register's answer is not the Basisdaten of one person");
  }
  // § 5 Abs. 3 IDNrG: a wrong IDNr is detected and processing stops, whoever sent it.
  if (checkIdnr(answer.idnr) !== null) {
    return failed("The register's IDNr fails its check (check digit or form)");
  }
  if (request.query.idnr !== undefined && request.query.idnr !== answer.idnr) {
    return failed("The register answered with another IDNr than the one asked for");
  }
  found({ idnr: answer.idnr });
  return { kind: "found", transferId, idnr: answer.idnr, basisdaten: answer.basisdaten };
}

async function readAnswer(response: Response, deadlineMs: number): Promise<string | null> {
  if (response.body === null) return "";
  try {
    const bytes = await readBytes(response.body, MAX_ANSWER_BYTES, deadlineMs);
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    await response.body.cancel().catch(() => {});
    return null;
  }
}
