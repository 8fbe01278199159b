/**
 * Builds Lotse's Hono app from its dependencies. No I/O happens at import: every test builds
 * its own app with its own dependencies.
 *
 * @example
 * ```ts
 * const app = createApp(deps);
 * Deno.serve(app.fetch);
 * ```
 *
 * @module
 */
import { Hono } from "hono";
import { routePath } from "hono/route";
import { SegmentRouter } from "./_segment_router.ts";
import { authorizationConsumer, AUTHORIZATIONS_PATH, fastNavigation } from "./fast_path.ts";
import type { CockpitOidcConfig, Config } from "./config.ts";
import type { Metrics } from "./metrics.ts";
import { Problem, problemResponse, toResponse } from "./problem.ts";
import type { TableStore } from "./store.ts";
import type { Iam } from "./iam.ts";
import type { ProtocolPort } from "./protocol/port.ts";
import { recordsForIdnr, type RecordsOptions, transferById } from "./protocol/mod.ts";
import type { Db } from "../db/types.ts";
import { connectionReason, isConnectionError } from "../db/errors.ts";
import type { DbHealth } from "./db_health.ts";
import { type RequestFacts, RequestLog, securityHeaders, withHeaders } from "./request_log.ts";
import { healthRoutes } from "../routes/health.ts";
import { catalogRoutes } from "../routes/catalog.ts";
import { navigationRoutes } from "../routes/navigation.ts";
import { adminRoutes } from "../routes/admin.ts";
import { openapiRoutes } from "../routes/openapi.ts";
import { tokenRoutes } from "../routes/token.ts";
import { jwksRoutes } from "../routes/jwks.ts";
import { oauthMetadataRoutes } from "../routes/oauth_metadata.ts";
import { authorizationAnswer, authorizationRoutes } from "../routes/authorizations.ts";
import { evidenceRoutes } from "../routes/evidence.ts";
import { identityRoutes } from "../routes/identity.ts";
import { xnachweisRoutes } from "../routes/xnachweis.ts";
import { euRoutes } from "../routes/eu.ts";
import { protocolRoutes } from "../routes/protocol.ts";
import { cockpitRoutes } from "../routes/cockpit.tsx";
import { CitizenLogin } from "./citizen_login.ts";
import { onboardingRoutes, registrationLimits } from "../routes/onboarding.ts";
import { registrationAdminRoutes } from "../routes/registrations.ts";
import { readinessRoutes } from "../routes/readiness.ts";
import { onboardingPages } from "../routes/onboarding_pages.tsx";
import { assetRoutes } from "../routes/assets.ts";
import type { ProviderClients } from "./transport.ts";
import { edgeCheck, reportLimit } from "./edge.ts";
import { RateLimits, setRateLimitHeaders } from "./rate_limit.ts";
import { TransferCaps } from "./transfer_caps.ts";
import { EndpointPolicy } from "./endpoint_policy.ts";
import { createLogger, type Logger } from "./log.ts";

/** What the app is built from. */
export interface AppDeps {
  readonly config: Config;
  readonly db: Db;
  readonly store: TableStore;
  readonly metrics: Metrics;
  readonly iam: Iam;
  readonly protocol: ProtocolPort;
  /** Per-provider HTTP clients (CA pinning, pooling). */
  readonly providerClients: ProviderClients;
  /** Caps on concurrent evidence transfers; default from the config. */
  readonly transferCaps?: TransferCaps;
  /** Rate limits per source address and client; default none. */
  readonly rateLimits?: RateLimits;
  /** The request log lines; default: one through `logger`. */
  readonly requests?: RequestLog;
  /** PostgreSQL's reachability; `/readyz` reports it, outages are told to it. */
  readonly health?: DbHealth;
  /** Whether the instance is draining before it stops: `/readyz` says 503 `draining`. */
  readonly draining?: () => boolean;
  /** The keyed hash under which the protocol stores an IDNr. */
  readonly idnrHash: (idnr: string) => string;
  /**
   * Where citizens log in to the cockpit: the configured identity provider, or the demo's in
   * demo mode; default the configuration's (none: the cockpit shows no login).
   */
  readonly cockpitOidc?: CockpitOidcConfig | null;
  /** Milliseconds since the epoch; injected so tests can move time. */
  readonly now?: () => number;
  /** Where unexpected errors go (never to the client); default: standard output, level info. */
  readonly logger?: Logger;
  /** The demo providers' ids (with `LOTSE_DEMO=1`): test-environment consumers use them. */
  readonly demoProviderIds?: readonly string[];
}

/** What a database-backed route answers in `Retry-After` while PostgreSQL is down. */
export const RETRY_AFTER_SECONDS = 5;

/** Creates the Hono app serving the whole public contract. */
export function createApp(deps: AppDeps): Hono {
  // The admin face's row route keeps Hono's fastest router from taking the whole route set: its
  // routes get a router of their own, so the public faces' routes are matched by `RegExpRouter`.
  const app = new Hono({ router: new SegmentRouter("/admin") });
  const { metrics } = deps;
  const logger = deps.logger ?? createLogger();

  // One middleware before every routed request, not two: each layer of Hono's chain costs a
  // promise and closures per request (BENCHMARKS.md, "Session 8, P10"). RFC 9112 leaves a
  // repeated query parameter to the application: Lotse reads each once, so a second value is
  // refused rather than silently ignored.
  app.use(async (c, next) => {
    const start = performance.now();
    const repeated = repeatedParameter(c.req.url);
    if (repeated === null) await next();
    else {
      c.res = toResponse(
        new Problem("invalid-request", `Query parameter "${repeated.slice(0, 100)}" is repeated`),
      );
    }
    const route = routeLabel(c.req.method, routePath(c, -1));
    metrics.observe(route, c.res.status, performance.now() - start);
    const principal = (c as unknown as { get(key: string): { clientId: string } | undefined })
      .get("principal");
    deps.requests?.note(c.req.raw, { route, clientId: principal?.clientId });
  });

  const { db, iam } = deps;
  const checker = iam.checker;
  const caps = deps.transferCaps ?? new TransferCaps({
    total: deps.config.maxTransfers,
    perConsumer: deps.config.maxTransfersPerConsumer,
  });
  metrics.gauge("lotse_transfers_running", "Evidence transfers running now.", () => caps.running);
  app.route("/", healthRoutes(deps));
  app.route("/", openapiRoutes({ publicUrl: deps.config.publicUrl, app: () => app }));
  app.route("/", jwksRoutes(deps));
  app.route("/", oauthMetadataRoutes({ publicUrl: deps.config.publicUrl }));
  app.route("/v1", tokenRoutes(deps));
  app.route("/v1", catalogRoutes(deps));
  app.route("/v1", navigationRoutes(deps));
  app.route("/v1", authorizationRoutes({ ...deps, checker, keys: iam.keys, issuer: iam.issuer }));
  const transfers = {
    ...deps,
    checker,
    keys: iam.keys,
    issuer: iam.issuer,
    limits: {
      maxRequestBytes: deps.config.maxRequestBytes,
      providerTimeoutMs: deps.config.providerTimeoutMs,
      providerIdleTimeoutMs: deps.config.providerIdleTimeoutMs,
      consumerIdleTimeoutMs: deps.config.consumerIdleTimeoutMs,
    },
    endpoints: new EndpointPolicy(deps.config.providerAllowedNetworks),
    caps,
  };
  app.route("/v1", evidenceRoutes({ ...transfers, transferRecord: (id) => transferById(db, id) }));
  app.route("/v1", identityRoutes(transfers));
  app.route("/xnachweis/v1", xnachweisRoutes(transfers));
  app.route("/eu/v1", euRoutes(transfers));
  const protocolRecords = (hash: string, options: RecordsOptions) =>
    recordsForIdnr(db, hash, options);
  app.route("/", protocolRoutes({ ...deps, protocolRecords }));
  const oidc = deps.cockpitOidc === undefined ? deps.config.cockpitOidc : deps.cockpitOidc;
  const https = deps.config.tls !== null || deps.config.publicUrl.startsWith("https:");
  app.route(
    "/",
    cockpitRoutes({
      login: oidc === null ? null : new CitizenLogin({
        oidc,
        idnrClaim: deps.config.cockpitIdnrClaim,
        redirectUri: `${deps.config.publicUrl}/cockpit/callback`,
        db,
        idnrHash: deps.idnrHash,
        ...(deps.now === undefined ? {} : { now: deps.now }),
      }),
      https,
      bodyTimeoutMs: deps.config.bodyTimeoutMs,
      store: deps.store,
      protocolRecords,
      logger,
      ...(deps.now === undefined ? {} : { now: deps.now }),
    }),
  );
  const onboarding = { ...deps, registrationLimits: registrationLimits(deps.config) };
  app.route("/onboarding", onboardingRoutes(onboarding));
  app.route("/v1", readinessRoutes(deps));
  app.route("/", onboardingPages(onboarding));
  app.route("/assets", assetRoutes());
  app.route("/admin/v1", registrationAdminRoutes(onboarding));
  app.route("/admin/v1", adminRoutes({ ...deps, logger }));

  app.notFound((c) => problemResponse("not-found", `No route for ${c.req.method} "${c.req.path}"`));
  const answerError = errorAnswer(deps, logger);
  app.onError((error, c) => answerError(error, c.req.raw, c.req.path));
  return app;
}

/**
 * What Lotse answers for an error a route threw: its problem, 499 for a client that went away,
 * 503 when the database cannot be reached, 400 for an unparsable request, else a 500 whose
 * cause is logged (never sent). Hono's `onError`, and the authorization fast path's.
 */
function errorAnswer(
  deps: Pick<AppDeps, "health">,
  logger: Logger,
): (error: unknown, request: Request, path: string) => Response {
  return (error, request, path) => {
    if (error instanceof Problem) return toResponse(error);
    if (isClientAbort(error, request.signal)) {
      return new Response(null, { status: 499 });
    }
    if (isConnectionError(error)) {
      deps.health?.down(connectionReason(error));
      return problemResponse("unavailable", "The database cannot be reached; try again shortly", {
        headers: { "retry-after": String(RETRY_AFTER_SECONDS) },
      });
    }
    if (
      error instanceof SyntaxError || error instanceof URIError ||
      error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Http
    ) {
      return problemResponse("invalid-request", "Cannot parse the request");
    }
    logger.error("Unexpected error", { method: request.method, path, error });
    return problemResponse("internal", "The request could not be completed");
  };
}

/** The first query parameter `url` names twice, or null. */
function repeatedParameter(url: string): string | null {
  const query = url.indexOf("?");
  if (query === -1) return null;
  const seen = new Set<string>();
  for (const key of new URLSearchParams(url.slice(query + 1)).keys()) {
    if (seen.has(key)) return key;
    seen.add(key);
  }
  return null;
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);
// The labels made so far, by method and pattern: both come from fixed sets, and a label made
// once is not made again for every request.
const LABELS = new Map<string, Map<string, string>>();

/**
 * The metric label of a request: its method and route pattern, from fixed sets. Invented
 * methods fold into `OTHER` and unmatched paths into `unmatched`, so no client can add
 * series to `/metrics`.
 */
export function routeLabel(method: string, pattern: string): string {
  const known = METHODS.has(method) ? method : "OTHER";
  let labels = LABELS.get(known);
  if (labels === undefined) LABELS.set(known, labels = new Map());
  let label = labels.get(pattern);
  if (label === undefined) {
    label = `${known} ${pattern && pattern !== "/*" ? pattern : "unmatched"}`;
    labels.set(pattern, label);
  }
  return label;
}

function isClientAbort(error: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (error instanceof DOMException && error.name === "AbortError");
}

/** The server's request handler: the navigation fast path, then the Hono app. */
export type Handler = (
  request: Request,
  info?: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

/**
 * Builds the app and the handler to serve: {@linkcode fastNavigation} answers the plain
 * success of the hottest route, the Hono app everything else (and every unusual case).
 */
export function createHandler(deps: AppDeps): { app: Hono; fetch: Handler } {
  const logger = deps.logger ?? createLogger();
  const requests = deps.requests ?? new RequestLog(logger);
  const app = createApp({ ...deps, requests, logger });
  // `POST /v1/authorizations` of a known consumer: the route's own answer without Hono's
  // layers (BENCHMARKS.md, "Session 10, P10"); its errors answered as the app answers them.
  const authorization = authorizationAnswer({
    ...deps,
    keys: deps.iam.keys,
    issuer: deps.iam.issuer,
  });
  const answerError = errorAnswer(deps, logger);
  // The label the Hono app gives the route, for its metrics and log line.
  const authorizationsRoute = routeLabel("POST", AUTHORIZATIONS_PATH);
  let answeredRoute: string | undefined;
  let answeredClient: string | undefined;
  const fast = fastNavigation({
    store: deps.store,
    verifier: deps.iam.verifier,
    metrics: deps.metrics,
    // Synchronous: read right after the fast path returns, no per-request map needed.
    served: (_request, route, clientId) => {
      answeredRoute = route;
      answeredClient = clientId;
    },
  });
  const headers = securityHeaders({
    https: deps.config.tls !== null || deps.config.publicUrl.startsWith("https:"),
  });
  const headerNames = Object.keys(headers);
  const limits = deps.rateLimits ??
    new RateLimits({ windowMs: 60_000, token: 0, address: 0, client: 0 });
  const edge = edgeCheck({ limits, verifier: deps.iam.verifier });
  // Every response, from either path, gets the security headers and its log line.
  const finish = (request: Request, response: Response, start: number, head: RequestFacts) => {
    const sent = withHeaders(response, headers);
    requests.write(request, sent, performance.now() - start, head);
    return sent;
  };
  return {
    app,
    fetch: (request, info) => {
      const start = performance.now();
      const head = edge(request, info);
      if (head.refusal !== null) {
        deps.metrics.observe("edge refused", head.refusal.status, 0);
        return finish(request, head.refusal, start, head);
      }
      const { verdict } = head;
      const quick = fast(request, {
        authorization: head.authorization,
        claims: head.claims,
        start,
      });
      if (quick !== null) {
        // Its own answer holds only Content-Type: set, not merged (a header list in
        // `new Response()` costs Deno several times more than `set()` on the one it made).
        const sent = quick.headers;
        for (const name of headerNames) sent.set(name, headers[name]!);
        if (verdict !== null) setRateLimitHeaders(sent, limits, verdict);
        if (requests.enabled) {
          requests.write(request, quick, performance.now() - start, {
            route: answeredRoute,
            clientId: answeredClient,
            requestId: head.requestId,
            traceparent: head.traceparent,
            transferId: null,
          });
        }
        return quick;
      }
      // The rate-limit fields, the security fields and the log line of either way below.
      const done = (r: Response, facts: RequestFacts = head) =>
        finish(request, verdict === null ? r : reportLimit(r, limits, verdict), start, facts);
      const consumer = authorizationConsumer(deps.iam.verifier, request, head);
      if (consumer !== null) {
        const facts = {
          route: authorizationsRoute,
          clientId: consumer,
          requestId: head.requestId,
          traceparent: head.traceparent,
        };
        return authorization(request, consumer).catch((error) =>
          answerError(error, request, AUTHORIZATIONS_PATH)
        ).then((r) => {
          // Timed from the handler's start, as the navigation fast path times its answers.
          deps.metrics.observe(authorizationsRoute, r.status, performance.now() - start);
          return done(r, facts);
        });
      }
      const response = app.fetch(request, info);
      return response instanceof Response ? done(response) : response.then((r) => done(r));
    },
  };
}
