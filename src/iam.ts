/**
 * IAM for authorities, as Lotse runs it: the key ring that signs, the replay guard of
 * client assertions, and the access-token verifier that every protected route asks.
 *
 * @module
 */
import { AccessTokenVerifier, type KeyRing, ReplayCache, type ReplayGuard } from "../crypto/mod.ts";
import type { Principal, TokenChecker } from "./auth.ts";
import type { TableStore } from "./store.ts";

/** The identity services the routes need. */
export interface Iam {
  readonly keys: KeyRing;
  readonly replay: ReplayGuard;
  readonly verifier: AccessTokenVerifier;
  readonly checker: TokenChecker;
  /** `iss` of every token Lotse signs: its public URL. */
  readonly issuer: string;
  /** The token endpoint. A client assertion's `aud` is this or {@linkcode issuer}, alone. */
  readonly tokenUrl: string;
}

/** Options for {@linkcode createIam}. */
export interface IamOptions {
  publicUrl: string;
  now?: () => number;
  replay?: ReplayGuard;
}

/** Wires the key ring and the client table into the token services. */
export function createIam(keys: KeyRing, store: TableStore, options: IamOptions): Iam {
  const issuer = options.publicUrl;
  const verifier = new AccessTokenVerifier(keys, {
    issuer,
    audience: issuer,
    clients: (id) => store.snapshot?.clients.get(id),
    now: options.now,
  });
  // A token signed with a key another instance rotated in a moment ago names a kid this
  // instance has not loaded yet: reload the ring (at most once a second) and try again.
  let lastRefresh = 0;
  const refreshKeys = async (): Promise<boolean> => {
    const now = Date.now();
    if (now - lastRefresh < 1000) return false;
    lastRefresh = now;
    try {
      await keys.refresh();
      return true;
    } catch {
      return false;
    }
  };
  const checker: TokenChecker = {
    check(token) {
      const hit = verifier.cached(token);
      if (hit) return hit as Principal;
      return verifier.verify(token).then(async (r) => {
        if (!r.ok && r.fault === "unknown_key" && await refreshKeys()) {
          r = await verifier.verify(token);
        }
        return r.ok ? { clientId: r.clientId, roles: r.roles } : null;
      });
    },
  };
  return {
    keys,
    replay: options.replay ?? new ReplayCache(),
    verifier,
    checker,
    issuer,
    tokenUrl: `${issuer}/v1/token`,
  };
}
