/**
 * A jurisdiction as people name it, turned into the regional key routes use: a key as it is,
 * "Bund" for all of Germany, a Land by its name, a Gemeinde by its name through the regions
 * index (an exact name wins; a name several Gemeinden share is refused, naming them).
 *
 * @example
 * ```ts
 * resolveJurisdiction("Baden-Württemberg", nav); // { key: "08" }
 * resolveJurisdiction("Freiburg im Breisgau", nav); // { key: "08311000" }
 * resolveJurisdiction("Nirgendwo", nav); // { error: "Kein Gebiet namens „Nirgendwo“ gefunden." }
 * ```
 *
 * @module
 */
import type { NavIndex } from "./nav_index.ts";

/** The 16 Länder by their key (Destatis). */
export const LAENDER: Readonly<Record<string, string>> = Object.freeze({
  "01": "Schleswig-Holstein",
  "02": "Hamburg",
  "03": "Niedersachsen",
  "04": "Bremen",
  "05": "Nordrhein-Westfalen",
  "06": "Hessen",
  "07": "Rheinland-Pfalz",
  "08": "Baden-Württemberg",
  "09": "Bayern",
  "10": "Saarland",
  "11": "Berlin",
  "12": "Brandenburg",
  "13": "Mecklenburg-Vorpommern",
  "14": "Sachsen",
  "15": "Sachsen-Anhalt",
  "16": "Thüringen",
});

const LAND_BY_NAME = new Map(
  Object.entries(LAENDER).map(([key, name]) => [name.toLowerCase(), key]),
);

/** The key of `text`, or why it names no single region. */
export function resolveJurisdiction(
  text: string,
  nav: Pick<NavIndex, "searchRegions">,
): { key: string } | { error: string } {
  const line = text.trim();
  if (/^\d+$/.test(line)) return { key: line };
  if (/^(bund|bundesweit|deutschland)$/i.test(line)) return { key: "" };
  const land = LAND_BY_NAME.get(line.toLowerCase());
  // A city-state is a Land and a Gemeinde: the Land's key covers both.
  if (land !== undefined) return { key: land };
  const found = nav.searchRegions(line, { limit: 20 });
  const exact = found.filter((r) => r.name.toLowerCase() === line.toLowerCase());
  const pick = exact.length > 0 ? exact : found;
  if (pick.length === 1) return { key: pick[0]!.ags };
  if (pick.length === 0) return { error: `Kein Gebiet namens „${line}“ gefunden.` };
  return {
    error: `„${line}“ ist mehrdeutig: ${
      pick.slice(0, 5).map((r) => `${r.name} (${r.ags})`).join(", ")
    }. Bitte den Schlüssel angeben.`,
  };
}
