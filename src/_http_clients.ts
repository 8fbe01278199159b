/**
 * One `Deno.HttpClient` per provider that brings its own CA, so that CA is trusted for that
 * provider alone and its connections are pooled across transfers.
 *
 * @module
 */
import type { Provider } from "./model.ts";

/** Options for {@linkcode ProviderClients}. */
export interface ProviderClientsOptions {
  /** Builds a client trusting `caCerts`; injectable for tests. Default `Deno.createHttpClient`. */
  createClient?: (caCerts: string[]) => Deno.HttpClient;
}

/**
 * A cache of HTTP clients keyed by provider id. A provider without `caCert` uses the
 * runtime's default client (system roots) and gets `undefined`.
 *
 * ```ts
 * const clients = new ProviderClients();
 * const client = clients.get(provider); // same object on every call until the PEM changes
 * clients.close(); // at shutdown
 * ```
 */
export class ProviderClients {
  #clients = new Map<string, { pem: string; client: Deno.HttpClient }>();
  #createClient: (caCerts: string[]) => Deno.HttpClient;

  constructor(options: ProviderClientsOptions = {}) {
    this.#createClient = options.createClient ??
      ((caCerts) => Deno.createHttpClient({ caCerts }));
  }

  /** The client for `provider`; a changed `caCert` replaces (and closes) the old client. */
  get(provider: Provider): Deno.HttpClient | undefined {
    const cached = this.#clients.get(provider.id);
    if (cached !== undefined && cached.pem === provider.caCert) return cached.client;
    if (cached !== undefined) {
      this.#clients.delete(provider.id);
      cached.client.close();
    }
    if (provider.caCert === null) return undefined;
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

  /** Number of cached clients (for metrics and tests). */
  get size(): number {
    return this.#clients.size;
  }

  /** Closes every client. */
  close(): void {
    for (const { client } of this.#clients.values()) client.close();
    this.#clients.clear();
  }
}
