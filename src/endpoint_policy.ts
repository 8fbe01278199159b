/**
 * The one rule for provider endpoints (README, Configuration), used by data management when a provider
 * is written and by the transport before every call: HTTPS (plain HTTP only on loopback), no
 * userinfo, query or fragment, and no loopback, private, link-local or otherwise special
 * address unless the operator names its network in `LOTSE_PROVIDER_ALLOWED_NETWORKS` (with
 * `LOTSE_DEMO=1` loopback is allowed by default).
 *
 * Host names other than `localhost` are taken as they are: the operator's DNS decides
 * where they point.
 *
 * @example
 * ```ts
 * const policy = new EndpointPolicy(["127.0.0.0/8"]);
 * policy.check("https://10.0.0.1/"); // 'Endpoint address "10.0.0.1" is private: …'
 * policy.check("http://127.0.0.1:8081/providers/kba"); // null: allowed
 * ```
 *
 * @module
 */
import ipaddr from "ipaddr.js";

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Network = [Address, number];

/** The networks a demo may call: IPv4 and IPv6 loopback. */
export const LOOPBACK_NETWORKS: readonly string[] = Object.freeze(["127.0.0.0/8", "::1/128"]);

/**
 * Parses one CIDR (`10.20.0.0/16`, `::1/128`); a bare address is a single host.
 *
 * @throws {Error} with a message naming the bad value
 */
export function parseNetwork(cidr: string): Network {
  const text = cidr.trim();
  try {
    if (text.includes("/")) return ipaddr.parseCIDR(text);
    const address = ipaddr.parse(text);
    return [address, address.kind() === "ipv4" ? 32 : 128];
  } catch {
    throw new Error(`Cannot parse network "${text}": expected a CIDR such as 10.20.0.0/16`);
  }
}

function unmapped(address: Address): Address {
  return address instanceof ipaddr.IPv6 && address.isIPv4MappedAddress()
    ? address.toIPv4Address()
    : address;
}

/** Decides whether a provider endpoint may be registered and called. */
export class EndpointPolicy {
  /** Only public addresses: nothing special allowed. */
  static readonly STRICT: EndpointPolicy = new EndpointPolicy([]);
  /** Public addresses and loopback (demo providers, sidecars, tests). */
  static readonly LOOPBACK: EndpointPolicy = new EndpointPolicy(LOOPBACK_NETWORKS);

  readonly #networks: readonly Network[];

  /** `networks`: CIDRs where special addresses are allowed nonetheless. */
  constructor(networks: readonly string[]) {
    this.#networks = networks.map(parseNetwork);
  }

  #allowed(address: Address): boolean {
    return this.#networks.some(([network, bits]) =>
      network.kind() === address.kind() && address.match(network, bits)
    );
  }

  /** Why `endpoint` may not be used, or null when it may. */
  check(endpoint: string): string | null {
    const url = this.url(endpoint);
    return typeof url === "string" ? url : null;
  }

  /** The endpoint as a URL, or why it may not be used. */
  url(endpoint: string): URL | string {
    const url = URL.parse(endpoint);
    if (url === null) return "Cannot parse endpoint: expected an absolute https URL";
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      return "Endpoint must use https";
    }
    if (url.username !== "" || url.password !== "") {
      return "Endpoint must not carry credentials";
    }
    if (url.search !== "" || url.href.includes("?")) {
      return "Endpoint must not carry a query (every consumer can read it)";
    }
    if (url.hash !== "" || url.href.includes("#")) return "Endpoint must not carry a fragment";

    const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
    let loopback = false;
    if (host === "localhost" || host.endsWith(".localhost")) {
      loopback = true;
      if (!this.#allowed(ipaddr.parse("127.0.0.1"))) {
        return `Endpoint host "${host}" is loopback: not in LOTSE_PROVIDER_ALLOWED_NETWORKS`;
      }
    } else if (ipaddr.isValid(host)) {
      const address = unmapped(ipaddr.parse(host));
      const range = address.range();
      loopback = range === "loopback";
      if (range !== "unicast" && !this.#allowed(address)) {
        return `Endpoint address "${host}" is ${
          rangeName(range)
        }: not in LOTSE_PROVIDER_ALLOWED_NETWORKS`;
      }
    }
    if (url.protocol === "http:" && !loopback) {
      return "Endpoint must use https (plain http only on loopback addresses)";
    }
    return url;
  }
}

function rangeName(range: string): string {
  switch (range) {
    case "linkLocal":
      return "link-local";
    case "uniqueLocal":
    case "private":
    case "carrierGradeNat":
      return "private";
    default:
      return range.replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`);
  }
}
