/**
 * The Vermittlungsstelle's abstract check: may this consumer ask this provider for this
 * evidence type, for this purpose, on this legal basis, with or without the IDNr — decided
 * from the declared values alone, never from content.
 *
 * @module
 */
import type { Permission } from "./model.ts";

/** What a consumer declares it wants. */
export interface AccessRequest {
  readonly consumerId: string;
  readonly evidenceType: string;
  readonly providerId: string;
  readonly purpose: string;
  readonly legalBasis: string;
  readonly idnrUsed: boolean;
  /** The authority an EfA service acts for; the permission's `onBehalfOf` must name it. */
  readonly onBehalfOf?: string;
}

export type Decision =
  | { readonly granted: true; readonly permission: Permission }
  | { readonly granted: false; readonly reason: string };

interface Compiled {
  readonly permission: Permission;
  readonly purposes: ReadonlySet<string>;
  readonly legalBases: ReadonlySet<string>;
  readonly from: number;
  readonly until: number;
}

/** The permissions, indexed by consumer and evidence type; immutable. */
export class PermissionIndex {
  readonly #byKey = new Map<string, Compiled[]>();
  readonly size: number;

  constructor(permissions: readonly Permission[]) {
    for (const permission of permissions) {
      const key = `${permission.consumerId}\n${permission.evidenceType}`;
      let list = this.#byKey.get(key);
      if (!list) this.#byKey.set(key, list = []);
      list.push({
        permission,
        purposes: new Set(permission.purposes),
        legalBases: new Set(permission.legalBases),
        from: permission.validFrom ? Date.parse(permission.validFrom) : -Infinity,
        until: permission.validUntil ? Date.parse(permission.validUntil) : Infinity,
      });
    }
    this.size = permissions.length;
  }

  /** Decides `request` at time `now` (ms since the epoch). */
  decide(request: AccessRequest, now: number): Decision {
    const list = this.#byKey.get(`${request.consumerId}\n${request.evidenceType}`);
    if (!list) {
      return {
        granted: false,
        reason:
          `No permission for consumer "${request.consumerId}" and evidence type "${request.evidenceType}"`,
      };
    }
    let reason = "";
    for (const c of list) {
      if (c.permission.providerId !== null && c.permission.providerId !== request.providerId) {
        reason ||= `Permission does not cover provider "${request.providerId}"`;
      } else if (!c.purposes.has(request.purpose)) {
        reason ||= `Permission does not cover purpose "${request.purpose}"`;
      } else if (!c.legalBases.has(request.legalBasis)) {
        reason ||= `Permission does not cover legal basis "${request.legalBasis}"`;
      } else if (request.idnrUsed && !c.permission.idnrAllowed) {
        reason ||= "Permission does not allow the use of the IDNr";
      } else if (
        request.onBehalfOf !== undefined && !c.permission.onBehalfOf?.includes(request.onBehalfOf)
      ) {
        reason ||= `Permission does not allow acting for "${request.onBehalfOf}"`;
      } else if (now < c.from || now >= c.until) {
        reason ||= "Permission is not valid at this time";
      } else {
        return { granted: true, permission: c.permission };
      }
    }
    return { granted: false, reason };
  }
}
