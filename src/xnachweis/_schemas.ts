/**
 * Vendored schema sets (the XNachweis 1.2.0 schemas in `schemas/xnachweis/`, the EU-OOTS
 * ebRS/EDM schemas in `schemas/eu-oots/`), loaded once into memory and served to libxml2
 * through an input provider that follows each set's vendored `catalog.xml`, so validation
 * never touches the network. Every file is checked against `SHA256SUMS` as it is loaded: a
 * changed schema stops the start instead of validating against something else.
 *
 * @module
 */
import { createHash } from "node:crypto";
import {
  XmlBufferInputProvider,
  XmlDocument,
  type XmlInputProvider,
  xmlRegisterInputProvider,
} from "libxml2-wasm";

/** The folder of the vendored schemas. */
export const SCHEMA_DIR = new URL("../../schemas/xnachweis/", import.meta.url);

/** The virtual URL prefix the vendored files are known by inside libxml2. */
const LOCAL = "lotse-schemas:///xnachweis/";

/** The entry schema of the national messages (0101–0413). */
export const ENTRY_SCHEMA = LOCAL + "xnachweis-de-noots.xsd";

/** One vendored schema set: its folder, the virtual URL prefix its files get, its entry. */
export interface SchemaSet {
  readonly dir: URL;
  /** Virtual URL prefix inside libxml2, e.g. `lotse-schemas:///eu-oots/`. */
  readonly local: string;
  /** The entry schema's path inside `dir`. */
  readonly entry: string;
}

/** The XNachweis 1.2.0 set. */
export const XNACHWEIS_SCHEMAS: SchemaSet = {
  dir: SCHEMA_DIR,
  local: LOCAL,
  entry: "xnachweis-de-noots.xsd",
};

const CATALOG_NS = "urn:oasis:names:tc:entity:xmlns:xml:catalog";

/** The vendored files by their local URL, each checked against `SHA256SUMS`. */
export function loadSchemaFiles(
  dir: URL = SCHEMA_DIR,
  local: string = LOCAL,
): Map<string, Uint8Array> {
  const sums = new TextDecoder().decode(Deno.readFileSync(new URL("SHA256SUMS", dir)));
  const files = new Map<string, Uint8Array>();
  for (const line of sums.split("\n")) {
    const match = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line.trim());
    if (!match) continue;
    const [, sum, name] = match as unknown as [string, string, string];
    const bytes = Deno.readFileSync(new URL(name, dir));
    const actual = createHash("sha256").update(bytes).digest("hex");
    if (actual !== sum) {
      throw new Error(`Cannot load schema "${name}": its SHA-256 differs from SHA256SUMS`);
    }
    files.set(local + name, bytes);
  }
  return files;
}

/** The `system`/`uri` entries of the vendored catalog: absolute URL → local URL. */
export function readCatalog(dir: URL = SCHEMA_DIR, local: string = LOCAL): Map<string, string> {
  const doc = XmlDocument.fromBuffer(Deno.readFileSync(new URL("catalog.xml", dir)));
  try {
    const map = new Map<string, string>();
    for (const node of doc.find("//c:system | //c:uri", { c: CATALOG_NS })) {
      const element = node as unknown as { attr(name: string): { value: string } | null };
      const from = element.attr("systemId")?.value ?? element.attr("name")?.value;
      const to = element.attr("uri")?.value;
      if (from && to) map.set(from, local + to);
    }
    return map;
  } finally {
    doc.dispose();
  }
}

/**
 * Resolves what libxml2 asks for: a local URL, a catalog entry, or a relative import inside
 * a catalog-mapped file (libxml2 resolves it against the absolute URL; the catalog's local
 * copy of that folder answers, as xmllint does when it rebases on the catalog's file).
 */
export function schemaResolver(
  files: ReadonlyMap<string, Uint8Array>,
  catalog: ReadonlyMap<string, string>,
): (url: string) => string | undefined {
  const folders = new Map<string, string>();
  for (const [from, to] of catalog) {
    folders.set(from.slice(0, from.lastIndexOf("/") + 1), to.slice(0, to.lastIndexOf("/") + 1));
  }
  return (url) => {
    if (files.has(url)) return url;
    const mapped = catalog.get(url);
    if (mapped !== undefined) return files.has(mapped) ? mapped : undefined;
    const cut = url.lastIndexOf("/") + 1;
    const folder = folders.get(url.slice(0, cut));
    if (folder === undefined) return undefined;
    const local = folder + url.slice(cut);
    return files.has(local) ? local : undefined;
  };
}

const registered = new Map<string, Map<string, Uint8Array>>();

/** Registers a vendored schema set with libxml2 once per process and returns its files. */
export function registerSchemas(set: SchemaSet = XNACHWEIS_SCHEMAS): Map<string, Uint8Array> {
  const known = registered.get(set.local);
  if (known) return known;
  const files = loadSchemaFiles(set.dir, set.local);
  const resolve = schemaResolver(files, readCatalog(set.dir, set.local));
  const buffers = new XmlBufferInputProvider(Object.fromEntries(files));
  const provider: XmlInputProvider = {
    match: (url) => resolve(url) !== undefined,
    open: (url) => {
      const local = resolve(url);
      return local === undefined ? undefined : buffers.open(local);
    },
    read: (fd, buffer) => buffers.read(fd, buffer),
    close: (fd) => buffers.close(fd),
  };
  if (!xmlRegisterInputProvider(provider)) {
    throw new Error(`Cannot register the schemas of ${set.local} with libxml2`);
  }
  registered.set(set.local, files);
  return files;
}
