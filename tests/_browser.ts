/**
 * A Chromium for the page tests, first found wins:
 * 1. `CHROMIUM_PATH`: an executable;
 * 2. the npm package `@sparticuz/chromium` (a headless Chromium with its libraries built in,
 *    Linux x64 only), unpacked once into the temp dir, so a machine with only Deno (or Node.js
 *    and npm) needs nothing else;
 * 3. a system browser (`/usr/bin/chromium`, Debian's package, and its usual other names).
 *
 * @module
 */
import { tmpdir } from "node:os";
import chromium from "@sparticuz/chromium";
import { exists } from "./_fs.ts";

const NPM_PACKAGE = "@sparticuz/chromium";
const SYSTEM = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
];

/** The flags every page test starts Chromium with (headless, no network of its own). */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

async function runs(path: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(path, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * The package's browser, unpacked. The package unpacks into `os.tmpdir()`, not atomically,
 * and reuses what it finds there; so it unpacks into a staging dir of this run's own, renamed
 * into place when complete, and parallel runs never start a half-written binary.
 */
async function npmChromium(): Promise<string | null> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") return null;
  const entry = new URL(import.meta.resolve(NPM_PACKAGE));
  if (entry.protocol !== "file:") return null;
  const { version } = JSON.parse(await Deno.readTextFile(new URL("../package.json", entry)));
  const target = `${tmpdir()}/lotse-chromium-${version}`;
  if (await exists(`${target}/chromium`)) return `${target}/chromium`;
  const staging = `${target}.${crypto.randomUUID()}`;
  await Deno.mkdir(staging);
  const before = Deno.env.get("TMPDIR");
  Deno.env.set("TMPDIR", staging);
  try {
    await chromium.executablePath();
  } finally {
    if (before === undefined) Deno.env.delete("TMPDIR");
    else Deno.env.set("TMPDIR", before);
  }
  try {
    await Deno.rename(staging, target);
  } catch {
    // Another run unpacked the same version first: use that one.
    await Deno.remove(staging, { recursive: true });
  }
  return `${target}/chromium`;
}

let found: Promise<string> | null = null;

/** Where the page tests' Chromium is, in the order of the module's documentation. */
export function chromiumPath(): Promise<string> {
  found ??= (async () => {
    const given = Deno.env.get("CHROMIUM_PATH");
    if (given) return given;
    const npm = await npmChromium();
    if (npm && await runs(npm)) return npm;
    for (const path of SYSTEM) if (await exists(path)) return path;
    throw new Error(
      `Cannot find Chromium: the npm package ${NPM_PACKAGE} serves Linux x64 only; elsewhere ` +
        "install Chromium (e.g. apt-get install -y chromium) or set CHROMIUM_PATH",
    );
  })();
  return found;
}

/** One accessibility finding of axe-core, as {@link axeViolations} returns it. */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/** The minimal page surface {@link axeViolations} needs (playwright-core's `Page` has it). */
export interface AxePage {
  evaluate<R>(fn: string | (() => Promise<R>)): Promise<R>;
}

let axeSource: Promise<string> | null = null;

/**
 * Runs axe-core (the npm package, evaluated in the page, nothing fetched) on the page as it
 * is now and returns the violations of impact `serious` or `critical` (WCAG 2.x A and AA rules).
 */
export async function axeViolations(page: AxePage): Promise<AxeViolation[]> {
  axeSource ??= (async () => {
    const entry = new URL(import.meta.resolve("axe-core"));
    return await Deno.readTextFile(new URL("./axe.min.js", entry));
  })();
  // Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not
  // govern (a script tag would be refused by it, as it should be).
  await page.evaluate(await axeSource);
  const all = await page.evaluate(async () => {
    // deno-lint-ignore no-explicit-any
    const axe = (globalThis as any).axe;
    // deno-lint-ignore no-explicit-any
    const result = await axe.run((globalThis as any).document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
    });
    // deno-lint-ignore no-explicit-any
    return result.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact ?? null,
      help: v.help,
      // deno-lint-ignore no-explicit-any
      targets: v.nodes.map((n: any) => String(n.target)),
    }));
  });
  return (all as AxeViolation[]).filter((v) => v.impact === "serious" || v.impact === "critical");
}
