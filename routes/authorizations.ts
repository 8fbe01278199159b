/**
 * `POST /v1/authorizations` — the Vermittlungsstelle: decides abstractly whether the calling
 * consumer may have this evidence type from this provider for this purpose and legal basis,
 * with or without the IDNr, and seals the decision into an evidence access token. Every
 * decision, granted or refused, goes to the protocol log.
 *
 * @module
 */
import { Hono } from "hono";
import type { AppDeps } from "../src/app.ts";
import { type AuthVariables, requireRole } from "../src/auth.ts";
import { Problem } from "../src/problem.ts";
import { authorizationBody } from "../src/schemas.ts";
import { parseWith, readJson } from "../src/validate.ts";
import { sealEvidenceToken } from "../crypto/mod.ts";

export function authorizationRoutes(deps: AppDeps): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();
  const now = deps.now ?? Date.now;
  app.post("/authorizations", requireRole(deps.iam.checker, ["consumer"]), async (c) => {
    const body = parseWith(
      authorizationBody,
      await readJson(c, 16 * 1024),
      "authorization request",
    );
    const snapshot = deps.store.snapshot;
    if (!snapshot) throw new Problem("unavailable", "Tables are still loading");
    if (!snapshot.nav.evidenceType(body.evidenceType)) {
      throw new Problem("not-found", `Unknown evidence type "${body.evidenceType}"`);
    }
    if (!snapshot.nav.provider(body.providerId)) {
      throw new Problem("not-found", `Unknown provider "${body.providerId}"`);
    }
    const consumerId = c.get("principal").clientId;
    const decision = snapshot.permissions.decide({ consumerId, ...body }, now());
    const transferId = crypto.randomUUID();
    const record = {
      transferId,
      consumerId,
      providerId: body.providerId,
      evidenceType: body.evidenceType,
      purpose: body.purpose,
      legalBasis: body.legalBasis,
      idnrUsed: body.idnrUsed,
    };
    if (!decision.granted) {
      await deps.protocol.refused({ ...record, status: 403, reason: decision.reason });
      throw new Problem("not-permitted", decision.reason, {
        extra: { transferId },
      });
    }
    const sealed = await sealEvidenceToken({ consumerId, ...body }, {
      keys: deps.iam.keys,
      issuer: deps.iam.issuer,
      now: now(),
    });
    try {
      await deps.protocol.granted({ ...record, jti: sealed.jti });
    } catch {
      // Neither PostgreSQL nor the spool took the grant: the token must not be handed out.
      throw new Problem("unavailable", "The authorization cannot be recorded; try again", {
        headers: { "retry-after": "1" },
      });
    }
    return c.json(sealed, 201, { "cache-control": "no-store" });
  });
  return app;
}
