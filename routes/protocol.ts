/**
 * The Datenschutzcockpit's API: `GET /v1/protocol` (role `dsc`) lists the transfers about one
 * person, found by the keyed hash of the IDNr, for a DSC operator's own portal. The page for
 * the person themself is `/cockpit` (routes/cockpit.tsx), behind their own login.
 *
 * @module
 */
import { Hono } from "hono";
import type { Iam } from "../src/iam.ts";
import { type AuthVariables, requireRole } from "../src/auth.ts";
import { Problem } from "../src/problem.ts";
import { checkIdnr } from "../crypto/mod.ts";
import { isoTime } from "../src/validate.ts";
import type { ProtocolRecord, RecordsOptions } from "../src/protocol/mod.ts";
import { describe, problem } from "../src/openapi.ts";
import { protocolPageSchema } from "../src/schemas.ts";
import { z } from "zod";

const PROTOCOL_DOC = describe({
  summary: "Datenschutzcockpit: the transfers about one person",
  tags: ["Datenschutzcockpit"],
  roles: ["dsc"],
  query: z.object({
    idnr: z.string().regex(/^\d{11}$/),
    from: z.string().optional().describe("ISO 8601, inclusive"),
    to: z.string().optional().describe("ISO 8601, exclusive"),
    cursor: z.string().optional(),
    limit: z.string().regex(/^\d{1,4}$/).optional().describe("1 to 1000, default 100"),
  }),
  responses: {
    200: { description: "Records, oldest first, paged by nextCursor", schema: protocolPageSchema },
    400: problem("Wrong IDNr or bad parameters"),
  },
});

function idnrOrProblem(idnr: string | undefined): string {
  if (idnr === undefined) throw new Problem("invalid-request", "Missing parameter idnr");
  const reason = checkIdnr(idnr);
  if (reason) throw new Problem("invalid-request", reason);
  return idnr;
}

/** What the protocol routes need. */
export interface ProtocolRoutesOptions {
  readonly iam: Pick<Iam, "checker">;
  /** The keyed hash under which the protocol stores an IDNr. */
  readonly idnrHash: (idnr: string) => string;
  /** One page of a person's protocol (src/protocol's `recordsForIdnr` on the database). */
  readonly protocolRecords: (
    idnrHash: string,
    options: RecordsOptions,
  ) => Promise<{ records: ProtocolRecord[]; nextCursor: string | null }>;
}

async function query(
  deps: ProtocolRoutesOptions,
  params: { idnr?: string; from?: string; to?: string; cursor?: string; limit?: string },
) {
  const idnr = idnrOrProblem(params.idnr);
  const from = isoTime(params.from, "from");
  const to = isoTime(params.to, "to");
  let limit = 100;
  if (params.limit !== undefined) {
    limit = Number(params.limit);
    if (!/^\d{1,4}$/.test(params.limit) || limit < 1 || limit > 1000) {
      throw new Problem("invalid-request", "Parameter limit must be 1 to 1000");
    }
  }
  try {
    return await deps.protocolRecords(deps.idnrHash(idnr), {
      from,
      to,
      limit,
      cursor: params.cursor || null,
    });
  } catch (error) {
    if (error instanceof RangeError) throw new Problem("invalid-request", "Cannot parse cursor");
    throw error;
  }
}

export function protocolRoutes(deps: ProtocolRoutesOptions): Hono<{ Variables: AuthVariables }> {
  const app = new Hono<{ Variables: AuthVariables }>();

  app.get("/v1/protocol", requireRole(deps.iam.checker, ["dsc"]), PROTOCOL_DOC, async (c) => {
    return c.json(await query(deps, c.req.query()), 200, { "cache-control": "no-store" });
  });

  return app;
}
