/**
 * One `Deno.HttpClient` per provider that brings its own CA, so that CA is trusted for that
 * provider alone and its connections are pooled across transfers; one shared client for the
 * providers that rely on the system roots.
 *
 * Every client speaks HTTP/1.1 only. Offered HTTP/2, a `Deno.serve` provider negotiates it,
 * and a large body then costs the provider 2.6 times the CPU per GiB (0.58 against 0.22 s per
 * 512 MiB, same forwarder, same payload): many 16 KiB DATA frames with flow-control
 * bookkeeping instead of plain socket writes. The forwarder's own CPU is the same either
 * way, but the provider's core becomes the limit, and the transfer took twice as long
 * (BENCHMARKS.md, P4). One transfer per connection is what streaming needs; multiplexing
 * buys nothing for it.
 *
 * @module
 */
import type { Provider } from "./model.ts";

/** Options for {@linkcode ProviderClients}. */
export interface ProviderClientsOptions {
  /**
   * Builds a client trusting `caCerts` besides the system roots (`[]` for the shared one);
   * injectable for tests. Default `Deno.createHttpClient` with HTTP/2 off.
   */
  createClient?: (caCerts: string[]) => Deno.HttpClient;
}

/**
 * A cache of HTTP clients keyed by provider id. Providers without `caCert` share one client
 * that trusts the system roots only.
 *
 * ```ts
 * const clients = new ProviderClients();
 * const client = clients.get(provider); // same object on every call until the PEM changes
 * clients.close(); // at shutdown
 * ```
 */
export class ProviderClients {
  #clients = new Map<string, { pem: string; client: Deno.HttpClient }>();
  #shared: Deno.HttpClient | null = null;
  #createClient: (caCerts: string[]) => Deno.HttpClient;

  constructor(options: ProviderClientsOptions = {}) {
    this.#createClient = options.createClient ??
      ((caCerts) => Deno.createHttpClient({ caCerts, http2: false }));
  }

  /** The client for `provider`; a changed `caCert` replaces (and closes) the old client. */
  get(provider: Provider): Deno.HttpClient {
    const cached = this.#clients.get(provider.id);
    if (cached !== undefined && cached.pem === provider.caCert) return cached.client;
    if (cached !== undefined) {
      this.#clients.delete(provider.id);
      cached.client.close();
    }
    if (provider.caCert === null) return this.#shared ??= this.#createClient([]);
    const client = this.#createClient([provider.caCert]);
    this.#clients.set(provider.id, { pem: provider.caCert, client });
    return client;
  }

  /** Drops and closes the client of a provider that was removed from the tables. */
  delete(providerId: string): void {
    const cached = this.#clients.get(providerId);
    if (cached === undefined) return;
    this.#clients.delete(providerId);
    cached.client.close();
  }

  /** Drops the clients of every provider `keep` rejects (after a table change). */
  retain(keep: (providerId: string) => boolean): void {
    for (const id of [...this.#clients.keys()]) {
      if (!keep(id)) this.delete(id);
    }
  }

  /** Number of cached per-provider clients (for metrics and tests). */
  get size(): number {
    return this.#clients.size;
  }

  /** Closes every client. */
  close(): void {
    for (const { client } of this.#clients.values()) client.close();
    this.#clients.clear();
    this.#shared?.close();
    this.#shared = null;
  }
}
