/**
 * A deliberately broken register, for the readiness check's tests and demonstrations: it does
 * everything a register must not do, so the check's report fails item by item.
 *
 * - accepts any bearer token without verifying it: `alg: none`, expired, another `aud`, an
 *   unknown `kid` all get evidence;
 * - sends a `Repr-Digest` that does not match its body;
 * - answers errors (a request without a token) as an HTML page, not problem+json;
 * - is slow: the headers come only after `delayMs`;
 * - its XNachweis endpoint (`/xnachweis/<id>`) answers HTML instead of a 0102 or 0103.
 *
 * ```ts
 * const broken = startBrokenRegister({ delayMs: 1500 });
 * broken.endpoint("kaputt"); // http://127.0.0.1:PORT/providers/kaputt
 * await broken.shutdown();
 * ```
 *
 * @module
 */

/** Options for {@linkcode startBrokenRegister}. */
export interface BrokenRegisterOptions {
  /** Default `0`: a free port on 127.0.0.1. */
  readonly port?: number;
  /** How long every answer waits before its headers (default 0). */
  readonly delayMs?: number;
}

/** A running broken register. */
export interface BrokenRegister {
  readonly port: number;
  /** `http://127.0.0.1:PORT/providers/<id>`. */
  endpoint(providerId: string): string;
  /** `http://127.0.0.1:PORT/xnachweis/<id>`. */
  xnachweisEndpoint(providerId: string): string;
  shutdown(): Promise<void>;
}

const HTML_ERROR = "<!doctype html><html><body><h1>401 Unauthorized</h1></body></html>";

/** Starts the broken register on loopback. */
export function startBrokenRegister(options: BrokenRegisterOptions = {}): BrokenRegister {
  const delayMs = options.delayMs ?? 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port ?? 0, onListen() {} },
    async (request) => {
      await request.body?.cancel();
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      const path = new URL(request.url).pathname;
      if (path.startsWith("/xnachweis/")) {
        return new Response("<html><body>Nachweis folgt per Post</body></html>", {
          headers: { "content-type": "text/html" },
        });
      }
      if (!request.headers.get("authorization")) {
        return new Response(HTML_ERROR, { status: 401, headers: { "content-type": "text/html" } });
      }
      return new Response(JSON.stringify({ register: "kaputt", nachweis: "irgendetwas" }), {
        headers: {
          "content-type": "application/json",
          // The digest of other bytes than those sent.
          "repr-digest": "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
        },
      });
    },
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  return {
    port: server.addr.port,
    endpoint: (id) => `${base}/providers/${encodeURIComponent(id)}`,
    xnachweisEndpoint: (id) => `${base}/xnachweis/${encodeURIComponent(id)}`,
    shutdown: () => server.shutdown(),
  };
}
