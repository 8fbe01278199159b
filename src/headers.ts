/**
 * Reading free-text request headers (purpose, legal basis). HTTP header values are bytes;
 * a client may send UTF-8 ("§ 45 StVO" from curl) or an RFC 8187 extended value
 * (`UTF-8''%C2%A7%2045%20StVO`). Both come out as the same text.
 *
 * @module
 */

import { Problem } from "./problem.ts";
import { CONTROL } from "./schemas.ts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** The text of a header value, UTF-8 or RFC 8187 decoded; null when it is not readable. */
export function headerText(raw: string): string | null {
  const text = decode(raw);
  return text === null || CONTROL.test(text) ? null : text;
}

function decode(raw: string): string | null {
  let value = raw;
  if (/^UTF-8''/i.test(value)) {
    try {
      return decodeURIComponent(value.slice(7));
    } catch {
      return null;
    }
  }
  // Deno hands header bytes over as Latin-1 code units; UTF-8 senders need re-decoding.
  if (/[\x80-\xff]/.test(value) && !/[\u0100-\uffff]/.test(value)) {
    try {
      value = decoder.decode(Uint8Array.from(value, (c) => c.charCodeAt(0)));
    } catch {
      // Not UTF-8: take the Latin-1 reading as it is.
    }
  }
  return value;
}

/**
 * A required free-text header (`Lotse-Purpose`, `Lotse-Legal-Basis`) of 1 to 200 characters,
 * or a thrown 400 problem naming it.
 */
export function requiredHeaderText(value: string | undefined, name: string): string {
  if (value === undefined) throw new Problem("invalid-request", `Missing header ${name}`);
  const text = headerText(value)?.trim();
  if (!text || text.length > 200) {
    throw new Problem("invalid-request", `Header ${name} must hold 1 to 200 characters`);
  }
  return text;
}
