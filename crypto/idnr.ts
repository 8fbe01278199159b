/**
 * The Identifikationsnummer (IDNr, § 139b AO), the person key of the once-only exchange.
 * A wrong IDNr must be detected and processing stopped (§ 5(3) IDNrG), so every request that
 * carries one is checked here first.
 *
 * Reasons never repeat the number: it is personal data and reasons end up in logs.
 *
 * @example
 * ```ts
 * import { checkIdnr, isValidIdnr } from "./idnr.ts";
 * isValidIdnr("86095742719"); // true
 * checkIdnr("86095742718"); // "Cannot accept IDNr: check digit does not match"
 * ```
 *
 * @module
 */

const ELEVEN_DIGITS = /^[0-9]{11}$/;

/**
 * The ISO 7064 MOD 11,10 check digit over a string of decimal digits.
 *
 * @param digits only `0`–`9`; the caller checks that
 */
export function idnrCheckDigit(digits: string): number {
  let product = 10;
  for (let i = 0; i < digits.length; i++) {
    let sum = (digits.charCodeAt(i) - 48 + product) % 10;
    if (sum === 0) sum = 10;
    product = (sum * 2) % 11;
  }
  const check = 11 - product;
  return check === 10 ? 0 : check;
}

/**
 * Checks an IDNr against every rule of § 139b AO and returns why it is wrong, or `null`
 * when it is valid.
 */
export function checkIdnr(s: string): string | null {
  if (typeof s !== "string" || !ELEVEN_DIGITS.test(s)) {
    return "Cannot accept IDNr: expected 11 digits";
  }
  if (s[0] === "0") return "Cannot accept IDNr: first digit must not be 0";

  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 10; i++) counts[s.charCodeAt(i) - 48]! += 1;
  let repeated = -1;
  for (let d = 0; d < 10; d++) {
    const n = counts[d]!;
    if (n < 2) continue;
    if (repeated !== -1) {
      return "Cannot accept IDNr: expected exactly one digit to repeat in the first ten digits";
    }
    if (n > 3) {
      return "Cannot accept IDNr: expected the repeated digit to occur at most three times";
    }
    repeated = d;
  }
  if (repeated === -1) {
    return "Cannot accept IDNr: expected exactly one digit to repeat in the first ten digits";
  }
  for (let i = 2; i < 10; i++) {
    if (s[i] === s[i - 1] && s[i] === s[i - 2]) {
      return "Cannot accept IDNr: a digit occurs three times in a row";
    }
  }
  if (idnrCheckDigit(s.slice(0, 10)) !== s.charCodeAt(10) - 48) {
    return "Cannot accept IDNr: check digit does not match";
  }
  return null;
}

/** Whether `s` is a valid IDNr (§ 139b AO): the boolean face of {@linkcode checkIdnr}. */
export function isValidIdnr(s: string): boolean {
  return checkIdnr(s) === null;
}
