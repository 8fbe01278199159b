/**
 * Lotse's signing keys: one active key signs, retired keys stay published in the JWKS until
 * the last token they signed has expired, then they are dropped. Keys are EC P-256 (ES256,
 * the default) or Ed25519 (EdDSA, when the operator sets `LOTSE_TOKEN_ALG=EdDSA`); each key
 * announces its own `alg` in the JWKS, and verifiers accept what it announces.
 *
 * Private keys live in memory only as non-extractable `CryptoKey`s. The private JWK leaves
 * the ring once, at generation, to be encrypted at rest by the {@linkcode KeyStore}.
 *
 * @example
 * ```ts
 * import { KeyRing } from "./keys.ts";
 * import { dbKeyStore } from "../db/key_store.ts";
 * const ring = await KeyRing.open(dbKeyStore(db, config.keySecret));
 * ring.jwks(); // { keys: [{ kty: "EC", crv: "P-256", x, y, kid, alg: "ES256", use: "sig" }] }
 * await ring.maintain(); // on a timer: rotates when due, drops keys past retention
 * ```
 *
 * @module
 */

import {
  algorithmOfJwk,
  generateStoredKey,
  importRingKey,
  privateJwkFromPem,
  type RingKey,
  type SyncSigner,
} from "./_key_material.ts";

export { algorithmOfJwk, generateStoredKey };

/** The JWS algorithms Lotse signs with: ES256 (default, the contract's) or EdDSA (Ed25519). */
export const TOKEN_ALGORITHMS = ["ES256", "EdDSA"] as const;
/** One of {@linkcode TOKEN_ALGORITHMS}. */
export type TokenAlgorithm = typeof TOKEN_ALGORITHMS[number];

/** Longest lifetime of any token Lotse signs (access and evidence tokens), in seconds. */
export const MAX_TOKEN_LIFETIME_SECONDS = 300;
/** Clock difference tolerated between Lotse and its peers, in seconds. */
export const CLOCK_SKEW_SECONDS = 30;
/**
 * How long a retired key stays published: a token signed just before retirement must
 * still verify, plus a margin for peers that cache the JWKS.
 */
export const DEFAULT_RETENTION_MS = (MAX_TOKEN_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS + 300) * 1000;

/** A public JWK as published in the JWKS: EC P-256 for ES256, OKP Ed25519 for EdDSA. */
export type PublicJwk =
  | {
    readonly kty: "EC";
    readonly crv: "P-256";
    readonly x: string;
    readonly y: string;
    readonly kid: string;
    readonly alg: "ES256";
    readonly use: "sig";
  }
  | {
    readonly kty: "OKP";
    readonly crv: "Ed25519";
    readonly x: string;
    readonly kid: string;
    readonly alg: "EdDSA";
    readonly use: "sig";
  };

/** A JSON Web Key Set with public keys only. */
export interface Jwks {
  readonly keys: readonly PublicJwk[];
}

/** A signing key as a {@linkcode KeyStore} keeps it. Times are epoch milliseconds. */
export interface StoredKey {
  /** RFC 7638 thumbprint (SHA-256) of the public key. */
  readonly kid: string;
  /** EC P-256 (`kty`, `crv`, `x`, `y`, `d`) or Ed25519 (`kty`, `crv`, `x`, `d`) private JWK. */
  readonly privateJwk: JsonWebKey;
  readonly createdAt: number;
  /** When it stopped signing; `null` while it may sign. */
  readonly retiredAt: number | null;
}

/** Where signing keys persist. Implementations encrypt `privateJwk` at rest. */
export interface KeyStore {
  load(): Promise<StoredKey[]>;
  /** Inserts, or updates `retiredAt` of an existing `kid`. */
  save(key: StoredKey): Promise<void>;
  remove(kid: string): Promise<void>;
}

/** Looks up a public key by `kid` for verifying Lotse's own tokens. */
export interface VerificationKeys {
  verificationKey(kid: string): CryptoKey | undefined;
}

/** The key that signs now. */
export interface SigningKey {
  readonly kid: string;
  /** The JWS `alg` it signs with. */
  readonly alg: TokenAlgorithm;
  /** Non-extractable ECDSA P-256 or Ed25519 private key. */
  readonly key: CryptoKey;
  /**
   * The same key signing synchronously (Ed25519 through node:crypto, ES256 in OpenSSL: ~10 times
   * cheaper than Web Crypto's ECDSA); absent: Web Crypto signs.
   */
  readonly native?: SyncSigner | null;
}

/** Options for {@linkcode KeyRing}. */
export interface KeyRingOptions {
  /** Clock in epoch ms; default `Date.now`. */
  now?: () => number;
  /** How long a retired key stays published; default {@linkcode DEFAULT_RETENTION_MS}. */
  retentionMs?: number;
  /** {@linkcode KeyRing.maintain} rotates an active key older than this; default 30 days. */
  rotationIntervalMs?: number;
  /**
   * The algorithm of the keys the ring makes; default ES256. {@linkcode KeyRing.open}
   * rotates to a key of this algorithm when the stored active key has another one.
   */
  algorithm?: TokenAlgorithm;
}

/**
 * The active signing key and the retired keys still published. Implements
 * {@linkcode VerificationKeys} for the access-token verifier.
 */
export class KeyRing implements VerificationKeys {
  #store: KeyStore | null;
  #now: () => number;
  #retentionMs: number;
  #rotationIntervalMs: number;
  #algorithm: TokenAlgorithm;
  #keys = new Map<string, RingKey>();
  #active!: RingKey;
  #signing!: SigningKey;
  #jwks: Jwks = { keys: [] };
  /** Earliest time a retired key falls out of retention. */
  #nextDropAt = Infinity;

  private constructor(store: KeyStore | null, options: KeyRingOptions) {
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.#rotationIntervalMs = options.rotationIntervalMs ?? 30 * 24 * 3600_000;
    this.#algorithm = options.algorithm ?? "ES256";
  }

  /**
   * Loads the ring from `store`; generates and saves a first key when there is none.
   * Throws when a stored key cannot be decrypted (wrong secret): never starts silently
   * with a fresh key that peers do not know. When the active key's algorithm is not the
   * configured one (the operator switched `LOTSE_TOKEN_ALG`), rotates: the old key stays
   * published for the retention window, so tokens it signed still verify.
   */
  static async open(store: KeyStore, options: KeyRingOptions = {}): Promise<KeyRing> {
    const ring = new KeyRing(store, options);
    await ring.refresh();
    if (ring.#active.alg !== ring.#algorithm) await ring.rotate();
    return ring;
  }

  /**
   * A ring from PKCS#8 PEM private keys (EC P-256 or Ed25519, each announced with its own
   * `alg`), without a store: the first key signs, the others stay published. Rotate by
   * replacing the files.
   */
  static async fromPem(
    pem: string | readonly string[],
    options: Pick<KeyRingOptions, "now"> = {},
  ): Promise<KeyRing> {
    const pems = typeof pem === "string" ? [pem] : pem;
    if (pems.length === 0) throw new TypeError("Cannot build a key ring: no PEM key given");
    const ring = new KeyRing(null, options);
    const now = ring.#now();
    const keys: RingKey[] = [];
    for (const [i, text] of pems.entries()) {
      const jwk = await privateJwkFromPem(text, i);
      keys.push(await importRingKey(jwk, now, null));
    }
    ring.#install(keys, keys[0]!);
    return ring;
  }

  /** `kid` of the key that signs now. */
  get activeKid(): string {
    return this.#active.kid;
  }

  /** The algorithm of the key that signs now. */
  get activeAlgorithm(): TokenAlgorithm {
    return this.#active.alg;
  }

  /** The key that signs now. */
  signingKey(): SigningKey {
    return this.#signing;
  }

  /** The public key for `kid`, while it is published. */
  verificationKey(kid: string): CryptoKey | undefined {
    this.#expire(this.#now());
    return this.#keys.get(kid)?.verifyKey;
  }

  /** The public JWKS: the active key and retired keys within retention. */
  jwks(): Jwks {
    this.#expire(this.#now());
    return this.#jwks;
  }

  /**
   * Makes a new active key and retires the current one (published for the retention
   * window). Saves both before the new key signs anything. Returns the new `kid`.
   */
  async rotate(now: number = this.#now()): Promise<string> {
    const store = this.#requireStore("rotate");
    const next = await generateStoredKey(now, this.#algorithm);
    await store.save(next);
    const previous = this.#active;
    await store.save({ ...(await this.#storedShape(previous)), retiredAt: now });
    previous.retiredAt = now;
    const fresh = await importRingKey(next.privateJwk, next.createdAt, null);
    this.#install([...this.#keys.values(), fresh], fresh);
    await this.prune(now);
    return fresh.kid;
  }

  /** Drops keys whose retention has passed, from memory and store; returns their kids. */
  async prune(now: number = this.#now()): Promise<string[]> {
    const dropped = this.#expire(now);
    if (this.#store !== null) {
      for (const key of await this.#store.load()) {
        if (key.retiredAt !== null && key.retiredAt + this.#retentionMs <= now) {
          await this.#store.remove(key.kid);
          if (!dropped.includes(key.kid)) dropped.push(key.kid);
        }
      }
    }
    return dropped;
  }

  /**
   * For a timer on every instance: reloads (so a rotation made elsewhere is seen and not
   * repeated), prunes, and rotates when the active key is older than the interval.
   */
  async maintain(now: number = this.#now()): Promise<void> {
    if (this.#store === null) return;
    await this.refresh(now);
    await this.prune(now);
    if (now - this.#active.createdAt >= this.#rotationIntervalMs) await this.rotate(now);
  }

  /**
   * Reloads from the store (after another instance rotated). When several keys are
   * unretired (instances raced), the newest signs and the others are retired now.
   */
  async refresh(now: number = this.#now()): Promise<void> {
    const store = this.#requireStore("refresh");
    let stored = (await store.load()).filter(
      (k) => k.retiredAt === null || k.retiredAt + this.#retentionMs > now,
    );
    const unretired = stored.filter((k) => k.retiredAt === null)
      .sort((a, b) => b.createdAt - a.createdAt || (a.kid < b.kid ? -1 : 1));
    if (unretired.length === 0) {
      const first = await generateStoredKey(now, this.#algorithm);
      await store.save(first);
      stored = [...stored, first];
    } else {
      for (const extra of unretired.slice(1)) {
        const retired = { ...extra, retiredAt: now };
        await store.save(retired);
        stored = stored.map((k) => k.kid === extra.kid ? retired : k);
      }
    }
    const keys = await Promise.all(stored.map(async (k) => {
      const key = await importRingKey(k.privateJwk, k.createdAt, k.retiredAt);
      if (key.kid !== k.kid) {
        throw new Error(`Cannot load signing key "${k.kid}": its kid does not match the key`);
      }
      return key;
    }));
    const active = keys.filter((k) => k.retiredAt === null)
      .sort((a, b) => b.createdAt - a.createdAt)[0]!;
    this.#install(keys, active);
  }

  #requireStore(what: string): KeyStore {
    if (this.#store === null) {
      throw new TypeError(`Cannot ${what} a key ring loaded from PEM: replace the files instead`);
    }
    return this.#store;
  }

  // The store needs the private JWK to update a row; it is never kept, so read it back.
  async #storedShape(key: RingKey): Promise<StoredKey> {
    const stored = (await this.#requireStore("rotate").load()).find((k) => k.kid === key.kid);
    if (stored === undefined) {
      throw new Error(`Cannot retire signing key "${key.kid}": not found in the key store`);
    }
    return stored;
  }

  #install(keys: readonly RingKey[], active: RingKey): void {
    this.#keys = new Map(keys.map((k) => [k.kid, k]));
    this.#active = active;
    this.#signing = Object.freeze({
      kid: active.kid,
      alg: active.alg,
      key: active.signKey,
      native: active.native,
    });
    this.#publish();
  }

  #publish(): void {
    const keys = [...this.#keys.values()].sort((a, b) =>
      Number(b === this.#active) - Number(a === this.#active) || b.createdAt - a.createdAt
    );
    this.#jwks = Object.freeze({ keys: Object.freeze(keys.map((k) => k.publicJwk)) });
    this.#nextDropAt = Math.min(
      Infinity,
      ...keys.map((k) => k.retiredAt === null ? Infinity : k.retiredAt + this.#retentionMs),
    );
  }

  /** Drops keys past retention from memory; cheap when nothing is due. */
  #expire(now: number): string[] {
    if (now < this.#nextDropAt) return [];
    const dropped: string[] = [];
    for (const key of this.#keys.values()) {
      if (key.retiredAt !== null && key.retiredAt + this.#retentionMs <= now) {
        this.#keys.delete(key.kid);
        dropped.push(key.kid);
      }
    }
    this.#publish();
    return dropped;
  }
}
