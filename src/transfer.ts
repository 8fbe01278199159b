/**
 * The evidence transfer, the one use case behind every face that fetches evidence (JSON
 * `POST /v1/evidence/{evidenceType}`, the XNachweis XML face, the EU bridge): find the
 * provider, let the Vermittlungsstelle decide and seal, record the decision durably while
 * the provider is asked, stream its answer back, record how it ended. It knows no HTTP
 * dialect: a face parses its request into a {@linkcode TransferRequest} and renders the
 * {@linkcode TransferResult} — the provider's streamed answer, or a {@linkcode Refusal}.
 *
 * @example
 * ```ts
 * const result = await transferEvidence({
 *   consumerId, evidenceType: "fahrzeugzulassung", target: { location: { plz: "70173" } },
 *   purpose, legalBasis, idnr: null, body: request.body, contentType: "application/json",
 *   contentLength: null, requestDigest: null, signal: request.signal,
 * }, deps);
 * if (!result.ok) return refusalResponse(result.refusal);
 * return result.response; // carries Lotse-Transfer-Id and Lotse-Provider
 * ```
 *
 * @module
 */
import { checkIdnr, type KeyRing } from "../crypto/mod.ts";
import { findProvider, findRegion, type LocationParams } from "./locate.ts";
import { createLogger, type Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { Provider } from "./model.ts";
import type { ProtocolPort } from "./protocol/port.ts";
import { type Refusal, refusal } from "./refusal.ts";
import type { Snapshot } from "./store.ts";
import {
  forward,
  type ForwardFailure,
  type ProviderClients,
  type TransferSummary,
  type TransportLimits,
} from "./transport.ts";
import type { EndpointPolicy } from "./endpoint_policy.ts";
import type { TransferCaps } from "./transfer_caps.ts";
import { authorize } from "./vermittlungsstelle.ts";

/**
 * Whom to ask: a provider the caller names, the one responsible for a place, or the one
 * responsible for all of Germany (the route with the empty region key, Bund: the
 * Registermodernisierungsbehörde for `identitaetsdaten`).
 */
export type TransferTarget =
  | { readonly providerId: string }
  | { readonly location: LocationParams }
  | { readonly nationwide: true };

/**
 * How a face shapes the request to the provider. Default: the provider's JSON `endpoint`,
 * the token as `Authorization: Bearer`, the caller's body as it came.
 */
export interface UpstreamShape {
  /**
   * The provider's endpoint for this face (e.g. its XNachweis endpoint); `null` when the
   * provider has none, which is refused as `no-responsible-provider`.
   */
  readonly endpoint?: (provider: Provider) => string | null;
  /**
   * The body to send once the token is sealed (e.g. an XML message with the token inside);
   * default: the request's `body`.
   */
  readonly body?: (
    sealed: SealedTransfer,
  ) => ReadableStream<Uint8Array> | Uint8Array<ArrayBuffer> | null;
  /** Further upstream headers (e.g. a SOAP action). */
  readonly headers?: (sealed: SealedTransfer) => Readonly<Record<string, string>>;
  /** `false` when the face carries the token in the body instead of `Authorization`. */
  readonly bearer?: boolean;
  /**
   * Watches the provider's answer chunk by chunk as the transport streams it, with no stream
   * of its own in between (e.g. for an XNachweis 0102 that announces the evidence for
   * later): `see` is shown every chunk, `outcome` asked once a 200 answer was delivered whole.
   * Cheaper than `inspect` for a watch that only looks.
   */
  readonly watch?: () => AnswerWatch;
  /**
   * Watches the provider's answer as it streams (e.g. for an XNachweis 0102 that announces
   * the evidence for later): the response to pass on, and the outcome to record instead of
   * `delivered` when the watch says so (`null`: keep it).
   */
  readonly inspect?: (response: Response) => {
    readonly response: Response;
    readonly outcome: Promise<InspectedOutcome>;
    /**
     * The IDNr of the person the answer names, as the face read and checked it (the
     * Identitätsdatenabruf): recorded with the outcome so the person's cockpit shows the
     * transfer; it wins over a `Lotse-Subject-IDNr` header. `null`: none.
     */
    readonly subject?: Promise<string | null>;
  };
}

/** A face's look at the provider's answer as it passes (see {@linkcode UpstreamShape.watch}). */
export interface AnswerWatch {
  see(chunk: Uint8Array): void;
  /** What the answer delivered whole turned out to be. */
  outcome(): InspectedOutcome;
}

/**
 * What a face's watch on the provider's answer says: `deferred` (the evidence comes later),
 * `failed` with a reason for operators (the answer was unusable, e.g. not the message the
 * face expected, although every byte arrived), or `null`: the transport's outcome stands.
 */
export type InspectedOutcome = "deferred" | { readonly failed: string } | null;

/** What a face knows once the Vermittlungsstelle granted, to shape the upstream request. */
export interface SealedTransfer {
  readonly transferId: string;
  readonly provider: Provider;
  /** The evidence access token (compact JWS). */
  readonly token: string;
  readonly jti: string;
}

/** One evidence request as a face parsed it. */
export interface TransferRequest {
  /** The authenticated caller's client id (a consumer, or a gateway for a foreign authority). */
  readonly consumerId: string;
  /** A slug; the face checked its form. */
  readonly evidenceType: string;
  readonly target: TransferTarget;
  readonly purpose: string;
  readonly legalBasis: string;
  /** The IDNr, already checked by the face (crypto's `checkIdnr`), or null. */
  readonly idnr: string | null;
  /** The caller's body, streamed to the provider. */
  readonly body: ReadableStream<Uint8Array> | null;
  readonly contentType: string | null;
  /** The announced body length; a length over the limit is refused before anything else. */
  readonly contentLength: number | null;
  /**
   * `sha-256=:<base64>:` of the body as the face computed or received it: sealed into the
   * token as `req_digest`, sent upstream as `Repr-Digest` and checked while the body streams.
   */
  readonly requestDigest: string | null;
  /** The caller went away. */
  readonly signal: AbortSignal;
  /** Claims a face adds to the evidence token (e.g. the authority a gateway acts for). */
  readonly extraClaims?: Readonly<Record<string, string | number | boolean>>;
  /**
   * A digest the face computed over its message by its own rule (XNachweis: the request
   * hash), sealed as `req_digest` instead of `requestDigest` and not checked against the
   * body's bytes.
   */
  readonly sealedDigest?: string;
  /**
   * The authority the consumer (an EfA service) acts for: checked against the permission's
   * `onBehalfOf`, sealed as `on_behalf_of`.
   */
  readonly onBehalfOf?: string;
  /**
   * The foreign authority a gateway forwards for (the EU face): recorded as the transfer's
   * on-behalf-of authority, not checked against the permission, which covers the gateway.
   */
  readonly requester?: string;
  /** A token the consumer brought and the face checked; sent on instead of a new one. */
  readonly presealed?: { readonly token: string; readonly jti: string; readonly expiresAt: string };
  readonly upstream?: UpstreamShape;
}

/** What a transfer became: the provider's answer streaming, or a refusal. */
export type TransferResult =
  | {
    readonly ok: true;
    readonly transferId: string;
    readonly provider: Provider;
    /**
     * The provider's answer (status < 500, its `Content-Type`, `Repr-Digest` and
     * `Content-Length`, plus `Lotse-Transfer-Id` and `Lotse-Provider`), its body watched.
     */
    readonly response: Response;
  }
  | { readonly ok: false; readonly refusal: Refusal };

/** What the transfer use case works with; {@linkcode createApp}'s dependencies provide it. */
export interface TransferDeps {
  readonly store: { readonly snapshot: Snapshot | null };
  readonly protocol: ProtocolPort;
  readonly keys: Pick<KeyRing, "signingKey">;
  /** `iss` of evidence tokens. */
  readonly issuer: string;
  readonly metrics: Metrics;
  /** Per-provider HTTP clients (CA pinning, pooling). */
  readonly providerClients: ProviderClients;
  readonly limits: TransportLimits;
  /** Which provider endpoint addresses may be called; default public ones and loopback. */
  readonly endpoints?: EndpointPolicy;
  /** Caps on concurrent transfers per consumer and in total; default none. */
  readonly caps?: TransferCaps;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
  /** Where a failure to record a transfer's end goes; default a JSON-lines logger. */
  readonly logger?: Logger;
}

/** Runs one evidence transfer; never throws for a refusal, only for a bug. */
export async function transferEvidence(
  request: TransferRequest,
  deps: TransferDeps,
): Promise<TransferResult> {
  const refused = (r: Refusal): TransferResult => ({ ok: false, refusal: r });
  const { limits } = deps;
  if (request.contentLength !== null && request.contentLength > limits.maxRequestBytes) {
    return refused(
      refusal("payload-too-large", `Request body exceeds ${limits.maxRequestBytes} bytes`),
    );
  }
  const snapshot = deps.store.snapshot;
  if (!snapshot) return refused(refusal("unavailable", "Tables are still loading"));
  const { evidenceType } = request;

  let provider: Provider;
  if ("providerId" in request.target) {
    const chosen = request.target.providerId;
    if (!snapshot.nav.evidenceType(evidenceType)) {
      return refused(refusal("not-found", `Unknown evidence type "${evidenceType}"`));
    }
    const found = snapshot.nav.provider(chosen);
    if (!found) return refused(refusal("not-found", `Unknown provider "${chosen}"`));
    provider = found;
  } else if ("nationwide" in request.target) {
    if (!snapshot.nav.evidenceType(evidenceType)) {
      return refused(refusal("not-found", `Unknown evidence type "${evidenceType}"`));
    }
    const federal = snapshot.nav.federal(evidenceType);
    if (!federal) {
      return refused(
        refusal(
          "no-responsible-provider",
          `No provider is responsible for "${evidenceType}" for all of Germany`,
        ),
      );
    }
    provider = federal.provider;
  } else {
    const region = findRegion(snapshot.nav, request.target.location);
    if (region.kind !== "found") return refused(region);
    const found = findProvider(snapshot.nav, evidenceType, region.region);
    if (found.kind !== "resolved") return refused(found);
    provider = found.provider;
  }
  let endpoint: string | undefined;
  if (request.upstream?.endpoint !== undefined) {
    const chosen = request.upstream.endpoint(provider);
    if (chosen === null) {
      return refused(
        refusal("no-responsible-provider", `Provider "${provider.id}" has no endpoint for this`),
      );
    }
    endpoint = chosen;
  }

  // A running transfer holds a provider connection: capped per consumer and in total,
  // before anything is decided or recorded.
  const release = deps.caps === undefined ? () => {} : deps.caps.acquire(request.consumerId);
  if (release === null) {
    await request.body?.cancel().catch(() => {});
    return refused(
      refusal("too-many-requests", "Too many transfers running; try again shortly", {
        retryAfterSeconds: 1,
      }),
    );
  }
  let released = false;
  try {
    const result = await decideAndForward(request, deps, provider, endpoint);
    if (result.done) {
      released = true;
      result.done.finally(release);
    }
    return result.result;
  } finally {
    if (!released) release();
  }
}

async function decideAndForward(
  request: TransferRequest,
  deps: TransferDeps,
  provider: Provider,
  endpoint: string | undefined,
): Promise<{ result: TransferResult; done?: Promise<unknown> }> {
  const refused = (r: Refusal) => ({ result: { ok: false, refusal: r } as TransferResult });
  const { limits, protocol } = deps;
  const now = deps.now ?? Date.now;
  const { evidenceType } = request;
  const snapshot = deps.store.snapshot!;
  const grant = {
    consumerId: request.consumerId,
    providerId: provider.id,
    evidenceType,
    purpose: request.purpose,
    legalBasis: request.legalBasis,
    idnrUsed: request.idnr !== null,
  };
  const sealedDigest = request.sealedDigest ?? request.requestDigest;
  const authorization = await authorize({
    ...grant,
    ...(sealedDigest === null ? {} : { requestDigest: sealedDigest }),
    ...(request.onBehalfOf === undefined ? {} : { onBehalfOf: request.onBehalfOf }),
    ...(request.extraClaims === undefined ? {} : { extraClaims: request.extraClaims }),
  }, {
    permissions: snapshot.permissions,
    protocol,
    keys: deps.keys,
    issuer: deps.issuer,
    now: now(),
    idnr: request.idnr,
    responsible: snapshot.nav.serves(provider.id, evidenceType),
    ...(request.presealed === undefined ? {} : { presealed: request.presealed }),
  });
  if (!authorization.granted) return refused(authorization.refusal);
  const { transferId, sealed } = authorization;
  const upstream = request.upstream;
  const shaped: SealedTransfer = { transferId, provider, token: sealed.token, jti: sealed.jti };

  // The decision becomes durable while the provider is asked: both must succeed before
  // the first evidence byte leaves.
  const abort = new AbortController();
  const durable = protocol.begin({
    ...grant,
    transferId,
    idnr: request.idnr,
    jti: sealed.jti,
    ...(request.onBehalfOf === undefined && request.requester === undefined
      ? {}
      : { onBehalfOf: request.onBehalfOf ?? request.requester }),
  });
  durable.catch(() => abort.abort());
  const watch = upstream?.watch?.() ?? null;
  const result = await forward({
    body: upstream?.body === undefined ? request.body : upstream.body(shaped),
  }, {
    provider,
    ...(endpoint === undefined ? {} : { endpoint }),
    token: upstream?.bearer === false ? null : sealed.token,
    ...(upstream?.headers === undefined ? {} : { headers: upstream.headers(shaped) }),
    transferId,
    evidenceType,
    contentType: request.contentType,
    reprDigest: request.requestDigest,
    limits,
    endpoints: deps.endpoints,
    signal: AbortSignal.any([request.signal, abort.signal]),
    clients: deps.providerClients,
    serverErrorIsFailure: true,
    onRequestBytes: (bytes) => deps.metrics.addTransferBytes("request", bytes),
    ...(watch === null ? {} : { onResponseChunk: (chunk: Uint8Array) => watch.see(chunk) }),
  });
  const waitStart = performance.now();
  try {
    await durable;
    deps.metrics.observeProtocolWait(performance.now() - waitStart);
  } catch {
    if (result.ok) await result.response.body?.cancel().catch(() => {});
    protocol.finish(transferId, { outcome: "failed", status: 503, reason: "protocol" })
      .catch(() => {});
    return {
      ...refused(
        refusal("unavailable", "The transfer cannot be recorded; try again", {
          transferId,
          retryAfterSeconds: 1,
        }),
      ),
      done: result.done,
    };
  }
  let response = result.ok ? result.response : null;
  let verdict: Promise<InspectedOutcome> | null = null;
  let subject: Promise<string | null> | null = null;
  if (response !== null && upstream?.inspect !== undefined) {
    const inspected = upstream.inspect(response);
    ({ response, outcome: verdict } = inspected);
    subject = inspected.subject ?? null;
  }
  result.done.then(async (done) => {
    let summary = done;
    let outcome: TransferOutcomeKind = summary.outcome;
    const judge = (seen: InspectedOutcome) => {
      if (seen === "deferred") outcome = seen;
      else if (seen !== null) {
        outcome = "failed";
        summary = { ...summary, outcome, reason: seen.failed };
      }
    };
    // The transport showed the watch every byte before it settled `done`.
    if (watch !== null && outcome === "delivered" && summary.status === 200) {
      judge(watch.outcome());
    }
    if (verdict !== null && outcome === "delivered") {
      // The inspection sits behind the transport's own; give it a moment to see the last bytes.
      judge(await watched(verdict));
    }
    const read = subject === null ? null : await watched(subject);
    return finish(
      deps,
      transferId,
      provider,
      summary,
      outcome,
      read ?? reportedSubject(request, summary, {
        transferId,
        logger: deps.logger,
      }),
    );
  })
    .catch((error) =>
      (deps.logger ?? createLogger()).error("Cannot record the end of a transfer", {
        transferId,
        error,
      })
    );
  if (!result.ok) {
    return { ...refused(forwardRefusal(result.failure, provider, transferId)), done: result.done };
  }
  return {
    result: { ok: true, transferId, provider, response: response ?? result.response },
    done: result.done,
  };
}

type TransferOutcomeKind = TransferSummary["outcome"] | "deferred";

async function watched<T>(verdict: Promise<T | null>): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), 1000));
  try {
    return await Promise.race([verdict.catch(() => null), late]);
  } finally {
    clearTimeout(timer);
  }
}
/** A failure of forward() — where every provider failure is mapped — as a refusal. */
function forwardRefusal(failure: ForwardFailure, provider: Provider, transferId: string): Refusal {
  return refusal(FAILURE_KINDS[failure.type], failure.detail, {
    transferId,
    providerId: provider.id,
    ...(failure.providerStatus === undefined ? {} : { providerStatus: failure.providerStatus }),
  });
}

const FAILURE_KINDS: { readonly [K in ForwardFailure["type"]]: Refusal["kind"] } = {
  "invalid-request": "invalid-request",
  "payload-too-large": "payload-too-large",
  "provider-failed": "provider-failed",
  "provider-timeout": "provider-timeout",
  "client-closed": "client-closed",
};

/**
 * The subject's IDNr a provider reported (`Lotse-Subject-IDNr`), when the request carried
 * none and the number is valid; a wrong one is logged (without the number) and not recorded.
 */
function reportedSubject(
  request: TransferRequest,
  summary: TransferSummary,
  context: { transferId: string; logger: Logger | undefined },
): string | null {
  const reported = summary.subjectIdnr?.trim();
  if (reported === undefined || request.idnr !== null) return null;
  const wrong = checkIdnr(reported);
  if (wrong === null) return reported;
  (context.logger ?? createLogger()).warn("Provider reported an invalid subject IDNr", {
    transferId: context.transferId,
    reason: wrong,
  });
  return null;
}

function finish(
  deps: TransferDeps,
  transferId: string,
  provider: Provider,
  summary: TransferSummary,
  outcome: TransferOutcomeKind = summary.outcome,
  subjectIdnr: string | null = null,
) {
  deps.metrics.count(`lotse_transfers_total{outcome="${outcome}"}`);
  // A failure on the provider's side (not a consumer's cut or bad body), per provider.
  if (summary.outcome === "failed" && summary.status >= 500 && summary.status !== 503) {
    deps.metrics.count(
      `lotse_provider_errors_total{provider="${provider.id}",status="${summary.status}"}`,
    );
  }
  if (summary.bytes) deps.metrics.addTransferBytes("response", summary.bytes);
  return deps.protocol.finish(transferId, {
    outcome,
    status: summary.status,
    bytes: summary.bytes,
    digest: summary.digest,
    durationMs: Math.round(summary.durationMs),
    reason: summary.reason ?? null,
    ...(subjectIdnr === null ? {} : { subjectIdnr }),
  });
}
