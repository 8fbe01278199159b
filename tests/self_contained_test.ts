/**
 * The repository stands on its own: nothing points at the design notes outside it, and every
 * relative link in its Markdown files reaches a file or folder inside it.
 */
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);
const SKIP = new Set([".git", "node_modules", "data"]);
const TEXT = /\.(ts|tsx|js|json|md|sql|tmpl|conf|yml|yaml|toml|sh|txt)$|^Dockerfile$|^run$/;

async function* files(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    if (SKIP.has(entry.name)) continue;
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* files(url);
    else if (entry.isFile && TEXT.test(entry.name) && entry.name !== "deno.lock") yield url;
  }
}

function relativePath(url: URL): string {
  return url.pathname.slice(ROOT.pathname.length);
}

Deno.test("no file points at the design notes outside the repository", async () => {
  const outside = /\.\.\/shared\b|\bshared\/(DESIGN|TARGETS|STYLE)|\bDESIGN(\.md| ?§)/;
  const found: string[] = [];
  for await (const url of files(ROOT)) {
    if (relativePath(url) === "tests/self_contained_test.ts") continue;
    const lines = (await Deno.readTextFile(url)).split("\n");
    lines.forEach((line, i) => {
      if (outside.test(line)) found.push(`${relativePath(url)}:${i + 1}`);
    });
  }
  assert.deepEqual(found, []);
});

Deno.test("every relative link in the Markdown files reaches a file in the repository", async () => {
  const broken: string[] = [];
  for await (const url of files(ROOT)) {
    if (!url.pathname.endsWith(".md")) continue;
    const text = await Deno.readTextFile(url);
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:|^#/i.test(target!)) continue;
      const path = new URL(target!.replace(/#.*$/, ""), url);
      try {
        await Deno.stat(path);
        if (!path.pathname.startsWith(ROOT.pathname)) throw new Error("outside");
      } catch {
        broken.push(`${relativePath(url)}: ${target}`);
      }
    }
  }
  assert.deepEqual(broken, []);
});
