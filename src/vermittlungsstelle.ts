/**
 * The Vermittlungsstelle: decides abstractly whether a consumer may have an evidence type
 * from a provider for a purpose and legal basis, records a refusal durably, and seals a
 * grant into an evidence access token. One function for every face that authorizes:
 * `POST /v1/authorizations` and the evidence transfer (src/transfer.ts).
 *
 * @example
 * ```ts
 * const result = await authorize(grant, { snapshot, protocol, keys, issuer, now: Date.now() });
 * if (!result.granted) return refusalResponse(result.refusal);
 * await protocol.granted({ ...record, jti: result.sealed.jti });
 * ```
 *
 * @module
 */
import {
  type EvidenceGrant,
  type KeyRing,
  type SealedEvidenceToken,
  sealEvidenceToken,
} from "../crypto/mod.ts";
import type { PermissionIndex } from "./permissions.ts";
import type { ProtocolPort } from "./protocol/port.ts";
import { type Refusal, refusal } from "./refusal.ts";

/** Options for {@linkcode authorize}. */
export interface AuthorizeOptions {
  /** The permissions of the snapshot the request runs on. */
  readonly permissions: Pick<PermissionIndex, "decide">;
  /** Where a refusal is recorded before it is answered. */
  readonly protocol: Pick<ProtocolPort, "refused">;
  readonly keys: Pick<KeyRing, "signingKey">;
  /** `iss` of the token: Lotse's public URL. */
  readonly issuer: string;
  /** Epoch ms of the decision. */
  readonly now: number;
  /** The transfer the decision belongs to; default a fresh UUID. */
  readonly transferId?: string;
  /**
   * Whether the provider is on a route for the evidence type. One that is not gets no
   * request, whatever a permission's wildcard (`providerId: null`) says: data minimisation.
   * Default true.
   */
  readonly responsible?: boolean;
  /** The IDNr in clear, for the protocol record of a refusal (only its HMAC is kept). */
  readonly idnr?: string | null;
  /**
   * A token the consumer brought (XNachweis: an `IssuedToken` from `POST /v1/authorizations`,
   * checked by the face): the decision is made again, and this token goes on instead of a
   * new one.
   */
  readonly presealed?: SealedEvidenceToken;
}

/** What {@linkcode authorize} decided: a sealed token, or a recorded refusal. */
export type Authorization =
  | { readonly granted: true; readonly transferId: string; readonly sealed: SealedEvidenceToken }
  | { readonly granted: false; readonly transferId: string; readonly refusal: Refusal };

/**
 * Decides, records a refusal (durably, before it is answered) and seals a grant. The
 * grant's `requestDigest` and `extraClaims` go into the token as they are. Recording a
 * grant is the caller's: a transfer records it with its start, an authorization by itself.
 */
export async function authorize(
  grant: EvidenceGrant & { readonly onBehalfOf?: string },
  options: AuthorizeOptions,
): Promise<Authorization> {
  const transferId = options.transferId ?? crypto.randomUUID();
  const decision = options.responsible === false
    ? {
      granted: false as const,
      reason: `provider "${grant.providerId}" is not responsible for "${grant.evidenceType}"`,
    }
    : options.permissions.decide(grant, options.now);
  if (!decision.granted) {
    await options.protocol.refused({
      transferId,
      consumerId: grant.consumerId,
      providerId: grant.providerId,
      evidenceType: grant.evidenceType,
      purpose: grant.purpose,
      legalBasis: grant.legalBasis,
      idnrUsed: grant.idnrUsed,
      ...(options.idnr === undefined ? {} : { idnr: options.idnr }),
      ...(grant.onBehalfOf === undefined ? {} : { onBehalfOf: grant.onBehalfOf }),
      status: 403,
      reason: decision.reason,
    });
    return {
      granted: false,
      transferId,
      refusal: refusal("not-permitted", decision.reason, { transferId }),
    };
  }
  // The seal reads the grant's fields by name: without `onBehalfOf` the grant goes as it is,
  // not copied once more per token.
  const { onBehalfOf } = grant;
  const claims = onBehalfOf === undefined
    ? grant
    : { ...grant, extraClaims: { ...grant.extraClaims, on_behalf_of: onBehalfOf } };
  const sealed = options.presealed ?? await sealEvidenceToken(claims, {
    keys: options.keys,
    issuer: options.issuer,
    now: options.now,
  });
  return { granted: true, transferId, sealed };
}
