/**
 * The evidence transport: streams a consumer's request body to the responsible provider and
 * the provider's answer back, never buffering, with size limit, RFC 9530 digest checks and
 * timeouts. The route does auth, navigation, authorization and the protocol log; this module
 * only moves bytes and reports what happened.
 *
 * ```ts
 * const clients = new ProviderClients();
 * const result = await forward(c.req.raw, {
 *   provider, token, transferId, evidenceType,
 *   limits: { maxRequestBytes: 1 << 20, providerTimeoutMs: 30_000, providerIdleTimeoutMs: 30_000 },
 *   clients,
 * });
 * result.done.then((summary) => protocol.finish(transferId, summary));
 * if (!result.ok) return problem(c, result.failure.status, result.failure.type, result.failure.detail);
 * return result.response; // already carries Lotse-Transfer-Id and Lotse-Provider
 * ```
 *
 * @module
 */
import { type DigestValues, parseDigest } from "../crypto/digest.ts";
import {
  type DigestCheck,
  limitedBody,
  newHash,
  type StopReason,
  watchedBody,
} from "./_streams.ts";
import type { Provider } from "./model.ts";
import type { ProviderClients } from "./_http_clients.ts";
import { EndpointPolicy } from "./endpoint_policy.ts";
import { SUBJECT_IDNR_HEADER } from "./header_names.ts";

export { ProviderClients, type ProviderClientsOptions } from "./_http_clients.ts";

/** Size and time limits of one transfer (config: `LOTSE_MAX_REQUEST_BYTES`, …). */
export interface TransportLimits {
  /** Largest consumer request body, counted while it streams. */
  readonly maxRequestBytes: number;
  /** From the start of the transfer until the provider's response headers. */
  readonly providerTimeoutMs: number;
  /** Longest wait for the next chunk of the provider's body. */
  readonly providerIdleTimeoutMs: number;
  /**
   * Longest wait for the consumer to take the next chunk of the answer; past it the transfer
   * is cut and recorded as failed. Default: no limit.
   */
  readonly consumerIdleTimeoutMs?: number;
}

/** The `fetch` this module calls; Deno's, with its `client` extension. */
export type ForwardFetch = (
  input: URL,
  init: RequestInit & { client?: Deno.HttpClient },
) => Promise<Response>;

/**
 * The consumer's side of a transfer: a `Request`, or just a body with the headers a face
 * read itself (then pass `contentType` and `reprDigest` in the options; without `headers`
 * no announced length is checked here, the caller did). A body a face already holds whole
 * (an XML message it parsed and re-serialised) goes as bytes: sent with its length in one
 * write instead of as a stream.
 */
export interface ForwardBody {
  readonly body: ReadableStream<Uint8Array> | Uint8Array<ArrayBuffer> | null;
  readonly headers?: Headers;
}

/** Options for {@linkcode forward}. */
export interface ForwardOptions {
  /** The provider navigation chose; only its registered endpoints are ever called. */
  readonly provider: Provider;
  /**
   * Which of the provider's registered endpoints to call; default `provider.endpoint`. The
   * same endpoint rule (HTTPS, plain HTTP on loopback only) applies to it.
   */
  readonly endpoint?: string;
  /**
   * Evidence access token (compact JWS) sent as `Authorization: Bearer`; `null` for a face
   * that carries it in the body.
   */
  readonly token: string | null;
  /** Further upstream headers a face needs (e.g. a SOAP action); the fixed ones win. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly transferId: string;
  readonly evidenceType: string;
  /** Consumer's `Content-Type`; default: the request's header. */
  readonly contentType?: string | null;
  /** Consumer's `Repr-Digest` of its body; default: the request's header. */
  readonly reprDigest?: string | null;
  readonly limits: TransportLimits;
  /**
   * Consumer hang-up before the provider's headers (pass `c.req.raw.signal`); after the
   * headers a hang-up arrives as a cancel of the returned body.
   */
  readonly signal?: AbortSignal;
  /**
   * Which endpoint addresses may be called (`LOTSE_PROVIDER_ALLOWED_NETWORKS`); default
   * public addresses and loopback.
   */
  readonly endpoints?: EndpointPolicy;
  /** Per-provider HTTP clients (CA pinning, pooling); without it providers' `caCert` is ignored. */
  readonly clients?: ProviderClients;
  /** Told the size of every chunk of the consumer's body passed on to the provider. */
  readonly onRequestBytes?: (bytes: number) => void;
  /** Injectable `fetch`; default `globalThis.fetch`. */
  readonly fetch?: ForwardFetch;
  /**
   * Shown every chunk of the provider's body as it streams through (a face's watch on the
   * answer, without a stream of its own in between); not with `directWhenUnverified`.
   */
  readonly onResponseChunk?: (chunk: Uint8Array) => void;
  /** Verify the provider's `Repr-Digest` while streaming (default `true`). */
  readonly verifyResponseDigest?: boolean;
  /**
   * When the provider sends no digest to verify, hand its body to the consumer untouched
   * (Deno then pipes socket to socket in Rust at wire speed) instead of through the watching
   * stream. The price: no idle timeout on the body, no byte count (`bytes` is the announced
   * Content-Length or null) and `done` settles at the headers. Default `false`.
   */
  readonly directWhenUnverified?: boolean;
  /**
   * Treat the provider's own 5xx as a failed provider (`provider-failed`, 502, with
   * `providerStatus`) instead of passing it through: what a consumer of Lotse sees. Default
   * `false`.
   */
  readonly serverErrorIsFailure?: boolean;
  /** Clock for `durationMs`; default `performance.now`. */
  readonly now?: () => number;
}

/**
 * Why a transfer failed before any evidence reached the consumer. Every way a provider can
 * fail is mapped here (and in `failureFor`), in one place.
 */
export interface ForwardFailure {
  readonly status: 400 | 413 | 499 | 502 | 504;
  /** Problem type suffix from docs/api.md §3 (`client-closed` for a consumer that went away). */
  readonly type:
    | "invalid-request"
    | "payload-too-large"
    | "provider-failed"
    | "provider-timeout"
    | "client-closed";
  readonly detail: string;
  /** The provider's own status behind a `provider-failed` (see `serverErrorIsFailure`). */
  readonly providerStatus?: number;
}

/** What the protocol log records once a transfer is over. */
export interface TransferSummary {
  readonly outcome: "delivered" | "failed";
  /** Status the consumer saw: the provider's, or the failure's. */
  readonly status: number;
  /** Evidence bytes handed to the consumer (null when not observed, see `directWhenUnverified`). */
  readonly bytes: number | null;
  /** `sha-256=:…:` of the bytes sent, when computed (provider sent a digest to verify). */
  readonly digest: string | null;
  readonly durationMs: number;
  /** Why it failed (or how it was delivered), for operators; never shown to the consumer. */
  readonly reason?: string;
  /**
   * What the provider sent in `Lotse-Subject-IDNr` (src/headers.ts), unchecked: the subject's IDNr
   * when the request named the person otherwise. Never passed on to the consumer.
   */
  readonly subjectIdnr?: string;
}

/** Result of {@linkcode forward}: a streaming response, or a failure before the first byte. */
export type ForwardResult =
  | { readonly ok: true; readonly response: Response; readonly done: Promise<TransferSummary> }
  | {
    readonly ok: false;
    readonly failure: ForwardFailure;
    readonly done: Promise<TransferSummary>;
  };

/** Response headers a provider may pass to the consumer; everything else stays behind. */
const PASSED_RESPONSE_HEADERS = ["content-type", "repr-digest", "content-length"] as const;

// Why the upstream exchange was ended: a body stopped, or no headers within the timeout.
type Cause = StopReason | "timeout";

/**
 * Forwards `request`'s body to `options.provider` and streams the answer back.
 *
 * Upstream gets exactly `Authorization: Bearer <token>`, `Lotse-Transfer-Id`,
 * `Lotse-Evidence-Type`, `Content-Type`, `Repr-Digest` (plus `Accept-Encoding: identity`, so
 * no content coding changes the bytes under the digest). The response passes the provider's
 * status, `Content-Type`, `Repr-Digest` and `Content-Length` and adds `Lotse-Transfer-Id`
 * and `Lotse-Provider`. Once the response is returned, any failure (digest mismatch, idle
 * timeout, reset) errors its body, so the consumer's connection is cut rather than closed
 * cleanly; when verifying, the last chunk is held back until the digest is confirmed.
 */
export async function forward(
  request: ForwardBody,
  options: ForwardOptions,
): Promise<ForwardResult> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const { provider, limits } = options;
  let settle!: (summary: TransferSummary) => void;
  const done = new Promise<TransferSummary>((resolve) => settle = resolve);
  let settled = false;
  let subjectIdnr: string | null = null;
  const finish = (summary: Omit<TransferSummary, "durationMs">) => {
    if (settled) return;
    settled = true;
    settle({
      ...summary,
      durationMs: now() - started,
      ...(subjectIdnr === null ? {} : { subjectIdnr }),
    });
  };
  const fail = (failure: ForwardFailure, reason = failure.detail): ForwardResult => {
    finish({ outcome: "failed", status: failure.status, bytes: 0, digest: null, reason });
    return { ok: false, failure, done };
  };

  const endpoint = providerUrl(
    options.endpoint === undefined ? provider : { ...provider, endpoint: options.endpoint },
    options.endpoints,
  );
  if (typeof endpoint === "string") {
    await discard(request.body);
    return fail({ status: 502, type: "provider-failed", detail: endpoint });
  }

  const announced = request.headers?.get("content-length") ?? null;
  if (announced !== null && Number(announced) > limits.maxRequestBytes) {
    await discard(request.body);
    return fail({
      status: 413,
      type: "payload-too-large",
      detail: `Request body of ${announced} bytes exceeds the limit of ${limits.maxRequestBytes}`,
    });
  }

  const contentType = options.contentType !== undefined
    ? options.contentType
    : request.headers?.get("content-type") ?? null;
  const reprDigest = options.reprDigest !== undefined
    ? options.reprDigest
    : request.headers?.get("repr-digest") ?? null;
  let requestCheck: DigestCheck | null = null;
  if (reprDigest !== null) {
    const parsed = parseDigest(reprDigest);
    if (parsed === null) {
      await discard(request.body);
      return fail({
        status: 400,
        type: "invalid-request",
        detail: `Cannot parse Repr-Digest "${reprDigest.slice(0, 200)}"`,
      });
    }
    requestCheck = strongest(parsed);
  }

  // One controller ends the upstream exchange for every reason; `cause` says which.
  const upstream = new AbortController();
  let cause: Cause | null = null;
  const abort = (why: Cause) => {
    cause ??= why;
    upstream.abort();
  };
  // The consumer's signal matters only until the headers: afterwards a hang-up reaches us
  // as a cancel of the response body, and Deno.serve's request.signal also fires after a
  // successful response (legacy behaviour), which must not cut a finished transfer.
  const onConsumerGone = () => abort("consumer");
  const consumerSignal = options.signal;
  if (consumerSignal?.aborted) onConsumerGone();
  consumerSignal?.addEventListener("abort", onConsumerGone, { once: true });
  const unwatchConsumer = () => consumerSignal?.removeEventListener("abort", onConsumerGone);

  const headers = new Headers(options.headers);
  if (options.token !== null) headers.set("authorization", `Bearer ${options.token}`);
  headers.set("lotse-transfer-id", options.transferId);
  headers.set("lotse-evidence-type", options.evidenceType);
  headers.set("accept-encoding", "identity");
  if (contentType !== null) headers.set("content-type", contentType);
  if (reprDigest !== null) headers.set("repr-digest", reprDigest);

  let body: ReadableStream<Uint8Array> | Uint8Array<ArrayBuffer> | null;
  if (request.body instanceof Uint8Array) {
    // Whole already: checked here, not while it streams.
    const refusal = wholeBodyRefusal(request.body, requestCheck, limits.maxRequestBytes);
    if (refusal !== null) return fail(failureFor(refusal, provider, limits));
    options.onRequestBytes?.(request.body.byteLength);
    body = request.body;
  } else {
    body = request.body === null ? null : limitedBody(request.body, limits.maxRequestBytes, {
      check: requestCheck,
      abort,
      onBytes: options.onRequestBytes,
    });
  }

  const headerTimer = setTimeout(() => abort("timeout"), limits.providerTimeoutMs);
  const fetchFn: ForwardFetch = options.fetch ?? fetch;
  let response: Response;
  try {
    response = await fetchFn(endpoint, {
      method: "POST",
      headers,
      body,
      signal: upstream.signal,
      redirect: "manual",
      client: options.clients?.get(provider),
      ...(body === null || body instanceof Uint8Array ? {} : { duplex: "half" }),
    });
  } catch (error) {
    const failure = failureFor(cause, provider, limits);
    return fail(failure, cause === null ? describe(error) : failure.detail);
  } finally {
    clearTimeout(headerTimer);
    unwatchConsumer();
  }

  const status = response.status;
  if (status < 200 || (status >= 300 && status < 400)) {
    upstream.abort();
    return fail({
      status: 502,
      type: "provider-failed",
      detail: `Provider "${provider.id}" answered with unexpected status ${status}`,
    });
  }

  if (status >= 500 && options.serverErrorIsFailure === true) {
    await response.body?.cancel().catch(() => {});
    return fail({
      status: 502,
      type: "provider-failed",
      detail: `Provider "${provider.id}" answered ${status}`,
      providerStatus: status,
    }, `provider answered ${status}`);
  }

  subjectIdnr = response.headers.get(SUBJECT_IDNR_HEADER);
  const outHeaders = new Headers();
  for (const name of PASSED_RESPONSE_HEADERS) {
    const value = response.headers.get(name);
    if (value !== null) outHeaders.set(name, value);
  }
  outHeaders.set("lotse-transfer-id", options.transferId);
  outHeaders.set("lotse-provider", provider.id);

  let responseCheck: DigestCheck | null = null;
  const providerDigest = response.headers.get("repr-digest");
  if (providerDigest !== null && options.verifyResponseDigest !== false) {
    const parsed = parseDigest(providerDigest);
    if (parsed === null) {
      upstream.abort();
      return fail({
        status: 502,
        type: "provider-failed",
        detail: `Provider "${provider.id}" sent a malformed Repr-Digest`,
      });
    }
    responseCheck = strongest(parsed);
  }

  if (response.body === null) {
    finish({ outcome: "delivered", status, bytes: 0, digest: null });
    return { ok: true, response: new Response(null, { status, headers: outHeaders }), done };
  }

  const length = response.headers.get("content-length");
  if (responseCheck === null && options.directWhenUnverified === true) {
    // Deno hands a fetch body given to a Response to Rust untouched; consumer hang-up still
    // cancels it there, which closes the provider connection.
    finish({
      outcome: "delivered",
      status,
      bytes: length === null ? null : Number(length),
      digest: null,
      reason: "Passed through unobserved",
    });
    return {
      ok: true,
      response: new Response(response.body, { status, headers: outHeaders }),
      done,
    };
  }

  const watched = watchedBody(response.body, {
    check: responseCheck,
    expectedLength: length === null ? null : Number(length),
    idleTimeoutMs: limits.providerIdleTimeoutMs,
    consumerIdleTimeoutMs: limits.consumerIdleTimeoutMs,
    abort,
    stopped: () => cause === "timeout" ? null : cause,
    describe,
    ...(options.onResponseChunk === undefined ? {} : { onChunk: options.onResponseChunk }),
    onEnd(result) {
      finish({
        outcome: result.error === null ? "delivered" : "failed",
        status,
        bytes: result.bytes,
        digest: result.digest,
        ...(result.error === null ? {} : { reason: result.error }),
      });
    },
  });
  return { ok: true, response: new Response(watched, { status, headers: outHeaders }), done };
}

/**
 * The provider's endpoint as a URL, or why it may not be called: the one endpoint rule of
 * {@linkcode EndpointPolicy}, the same that data management applies when it is written.
 */
export function providerUrl(
  provider: Provider,
  policy: EndpointPolicy = EndpointPolicy.LOOPBACK,
): URL | string {
  const url = policy.url(provider.endpoint);
  return typeof url === "string" ? `Refusing endpoint of provider "${provider.id}": ${url}` : url;
}

/** Cancels a stream body nobody will send; bytes need nothing. */
async function discard(
  body: ReadableStream<Uint8Array> | Uint8Array<ArrayBuffer> | null,
): Promise<void> {
  if (body instanceof ReadableStream) await body.cancel().catch(() => {});
}

/** Why a whole body may not go upstream (too large, not its digest), or null. */
function wholeBodyRefusal(
  body: Uint8Array,
  check: DigestCheck | null,
  maxBytes: number,
): "too-large" | "request-digest" | null {
  if (body.byteLength > maxBytes) return "too-large";
  if (check === null) return null;
  return newHash(check.algorithm).update(body).digest("base64") === check.value
    ? null
    : "request-digest";
}

function strongest(values: DigestValues): DigestCheck | null {
  const sha512 = values["sha-512"];
  if (sha512 !== undefined) return { algorithm: "sha-512", value: sha512 };
  const sha256 = values["sha-256"];
  if (sha256 !== undefined) return { algorithm: "sha-256", value: sha256 };
  return null;
}

function failureFor(
  cause: Cause | null,
  provider: Provider,
  limits: TransportLimits,
): ForwardFailure {
  switch (cause) {
    case "too-large":
      return {
        status: 413,
        type: "payload-too-large",
        detail: `Request body exceeds the limit of ${limits.maxRequestBytes} bytes`,
      };
    case "request-digest":
      return {
        status: 400,
        type: "invalid-request",
        detail: "Request body does not match its Repr-Digest",
      };
    case "request-body":
      return {
        status: 400,
        type: "invalid-request",
        detail: "Cannot read the request body: it ended early or is malformed",
      };
    case "timeout":
      return {
        status: 504,
        type: "provider-timeout",
        detail: `Provider "${provider.id}" did not answer within ${limits.providerTimeoutMs} ms`,
      };
    case "consumer":
      return { status: 499, type: "client-closed", detail: "Consumer closed the request" };
    default:
      // The cause (TLS, DNS, reset) is for operators: it goes to the record's reason.
      return {
        status: 502,
        type: "provider-failed",
        detail: `Provider "${provider.id}" could not be reached or broke off the exchange`,
      };
  }
}

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // fetch errors nest the OS cause; the first line is enough for a log.
  return message.split("\n")[0]?.slice(0, 300) ?? "unknown error";
}
