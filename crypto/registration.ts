/**
 * Checks of key material an operator registers: a client's public JWKS and a provider's CA
 * certificate. Both are refused with a reason (never stored) when they are not what they
 * claim: a client key must be a public EC P-256 or Ed25519 key whose point is valid, with no
 * private member; a `caCert` must be PEM X.509 certificates that are CAs.
 *
 * @example
 * ```ts
 * checkPublicJwk({ kty: "oct", k: "c2VjcmV0" }); // 'Key type "oct" is not allowed: …'
 * checkCaCert("garbage"); // "Cannot parse caCert: …"
 * ```
 *
 * @module
 */
import { createPublicKey, type JsonWebKeyInput, X509Certificate } from "node:crypto";

/** JWK members that belong to private or symmetric keys (RFC 7518 §6). */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;

/** Why `jwk` may not be registered as a client key, or null when it may. */
export function checkPublicJwk(jwk: Record<string, unknown>): string | null {
  const present = PRIVATE_MEMBERS.filter((name) => name in jwk);
  if (present.length > 0) {
    return `Key carries private member(s) ${present.map((m) => `"${m}"`).join(", ")}: ` +
      "register the public key only";
  }
  const { kty, crv } = jwk;
  let material: Record<string, unknown>;
  if (kty === "EC" && crv === "P-256") {
    material = { kty, crv, x: jwk.x, y: jwk.y };
  } else if (kty === "OKP" && crv === "Ed25519") {
    material = { kty, crv, x: jwk.x };
  } else {
    return `Key type "${String(kty)}"${crv === undefined ? "" : ` on "${String(crv)}"`} ` +
      'is not allowed: expected EC "P-256" or OKP "Ed25519"';
  }
  if (Object.values(material).some((v) => typeof v !== "string")) {
    return "Key is missing its public coordinates";
  }
  if (jwk.use !== undefined && jwk.use !== "sig") return 'Key "use" must be "sig"';
  try {
    // Imports the point: an off-curve or malformed one is refused here.
    createPublicKey({ key: material as unknown as JsonWebKeyInput["key"], format: "jwk" });
  } catch {
    return "Key is not a valid public key: its point is not on the curve or is malformed";
  }
  return null;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Why `pem` may not be trusted as a provider's CA, or null when it may. */
export function checkCaCert(pem: string, now: Date = new Date()): string | null {
  const blocks = pem.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) return "Cannot parse caCert: expected PEM certificates";
  if (blocks.length > 10) return "caCert holds more than 10 certificates";
  const rest = pem.replace(PEM_BLOCK, "").trim();
  if (rest !== "") return "Cannot parse caCert: text outside the PEM certificates";
  for (const [i, block] of blocks.entries()) {
    const which = blocks.length > 1 ? ` (certificate ${i + 1})` : "";
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch {
      return `Cannot parse caCert${which}: not an X.509 certificate`;
    }
    if (!cert.ca) return `caCert${which} is not a CA certificate (basicConstraints CA:TRUE)`;
    if (Date.parse(cert.validTo) < now.getTime()) return `caCert${which} expired ${cert.validTo}`;
  }
  return null;
}
