/**
 * Normalisation of German place names (Ort, Gemeinde names) for matching and prefix search.
 *
 * People type `Muenchen`, `MÜNCHEN`, `münchen` or `Garching b. München`; the Post and the
 * Gemeindeverzeichnis spell the same places with umlauts, ß, hyphens and dots. Comparing the
 * normalised forms makes all of those spellings meet.
 *
 * @example
 * ```ts
 * normalizeOrt("München") === normalizeOrt("MUENCHEN"); // true, both "muenchen"
 * normalizeOrt("Bad Homburg v.d. Höhe"); // "badhomburgvdhoehe"
 * ```
 *
 * @module
 */

const UMLAUTS: Readonly<Record<string, string>> = {
  "ä": "ae",
  "ö": "oe",
  "ü": "ue",
  "ß": "ss",
};

/**
 * Folds a place name to lower-case ASCII letters and digits: umlauts become `ae`/`oe`/`ue`,
 * `ß` becomes `ss`, other accents are dropped, and spaces, hyphens and punctuation vanish.
 * Idempotent: normalising a normalised name returns it unchanged.
 */
export function normalizeOrt(name: string): string {
  // Fast path without allocation for input that is already normalised (the common case
  // for keys built once at index time and for simple lower-case queries).
  let clean = true;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57))) {
      clean = false;
      break;
    }
  }
  if (clean) return name;
  // NFC first so that a decomposed "u + ◌̈" is caught as "ü" and becomes "ue", not "u".
  return name
    .normalize("NFC")
    .toLowerCase()
    .replace(/[äöüß]/g, (ch) => UMLAUTS[ch] ?? ch)
    .normalize("NFD")
    .replace(/[^a-z0-9]/g, "");
}
