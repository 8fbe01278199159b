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
