/**
 * The shape of the house, checked on every run: faces parse and render (routes/), src/
 * decides, crypto/ and db/ are leaves. The imports come from Deno's own module graph
 * (`deno info --json` over every .ts/.tsx file), type-only and dynamic imports included.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const ROOT_PATH = decodeURIComponent(ROOT.pathname);
// .bench/ holds the benchmarks' untracked scratch (gitignored; check, fmt and lint skip it too).
const SKIPPED = new Set([".git", "node_modules", "data", ".ci", ".bench"]);

/** The one file of src/ that crypto/ and db/ may import: plain types. */
const MODEL = "src/model.ts";
/** The one place where the core may reach demo/: the boot injection point. */
const DEMO_INJECTION = "src/main.ts";
const CORE = new Set(["src", "routes", "crypto", "db"]);
const OUTSIDE = new Set(["demo", "tools", "tests", "loadtest"]);

/** An import from one repository file to another, paths relative to the root. */
export interface Edge {
  readonly from: string;
  readonly to: string;
}

function folder(path: string): string {
  const slash = path.indexOf("/");
  return slash === -1 ? "" : path.slice(0, slash);
}

function dir(path: string): string {
  return path.slice(0, path.lastIndexOf("/") + 1);
}

function base(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Tests and benchmarks may use fixtures from outside the core (generator, test helpers). */
function isTestCode(path: string): boolean {
  return /_(test|bench)\.tsx?$/.test(path);
}

/** Why an import breaks the layering, or null when it is allowed. */
export function violation({ from, to }: Edge): string | null {
  const source = folder(from);
  const target = folder(to);
  if (base(to).startsWith("_") && dir(to) !== dir(from)) {
    return "imports a private file of another folder";
  }
  if (source === "crypto" && target !== "crypto" && to !== MODEL) {
    return "crypto/ is a leaf: it imports only crypto/ and src/model.ts";
  }
  if (source === "db" && !isTestCode(from)) {
    if (target !== "db" && target !== "crypto" && to !== MODEL) {
      return "db/ is a leaf: it imports only db/, crypto/ and src/model.ts";
    }
  }
  if (from === "src/protocol/mod.ts" && target === "db") {
    return "src/protocol/mod.ts must not re-export db/";
  }
  if (source === "src" && target === "routes" && from !== "src/app.ts") {
    return "src/ decides and does not import faces (only src/app.ts mounts routes/)";
  }
  if (source === "routes" && !isTestCode(from)) {
    if (target === "db") return "routes/ parse and render: they reach db/ through src/";
    if (to === "src/app.ts") {
      return "routes/ take their own options, never the app's dependencies (an import circle)";
    }
  }
  if (CORE.has(source) && target === "demo" && from !== DEMO_INJECTION && !isTestCode(from)) {
    return `the core reaches demo/ only through ${DEMO_INJECTION}`;
  }
  if (CORE.has(source) && OUTSIDE.has(target) && !isTestCode(from) && from !== DEMO_INJECTION) {
    return `the core does not import ${target}/`;
  }
  return null;
}

async function sourceFiles(): Promise<string[]> {
  const files: string[] = [];
  async function walk(relative: string) {
    for await (const entry of Deno.readDir(new URL(relative, ROOT))) {
      if (SKIPPED.has(entry.name)) continue;
      const path = relative + entry.name;
      if (entry.isDirectory) await walk(`${path}/`);
      else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts")) files.push(path);
    }
  }
  await walk("");
  return files.sort();
}

interface GraphModule {
  specifier: string;
  dependencies?: {
    code?: { specifier?: string };
    type?: { specifier?: string };
  }[];
}

/** Every import between repository files, from `deno info --json`. */
async function importEdges(files: readonly string[]): Promise<Edge[]> {
  const dir = await Deno.makeTempDir({ prefix: "lotse-layering-" });
  try {
    const entry = `${dir}/all.ts`;
    await Deno.writeTextFile(
      entry,
      files.map((f) => `import ${JSON.stringify(new URL(f, ROOT).href)};\n`).join(""),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", `${ROOT_PATH}deno.json`, entry],
      cwd: ROOT_PATH,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: GraphModule[] };
    const local = (specifier: string | undefined) =>
      specifier?.startsWith(ROOT.href) ? specifier.slice(ROOT.href.length) : null;
    const edges: Edge[] = [];
    for (const module of graph.modules) {
      const from = local(module.specifier);
      if (from === null) continue;
      for (const dependency of module.dependencies ?? []) {
        for (const resolved of [dependency.code?.specifier, dependency.type?.specifier]) {
          const to = local(resolved);
          if (to !== null) edges.push({ from, to });
        }
      }
    }
    return edges;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("violation() names each forbidden direction and allows the intended ones", () => {
  const forbidden: Edge[] = [
    { from: "crypto/keys.ts", to: "src/store.ts" },
    { from: "crypto/keys.ts", to: "db/types.ts" },
    { from: "db/tables.ts", to: "src/nav_index.ts" },
    { from: "db/tables.ts", to: "src/protocol/_entry.ts" },
    { from: "db/demo_test.ts", to: "tests/_pg.ts" },
    { from: "src/protocol/mod.ts", to: "db/tables.ts" },
    { from: "src/store.ts", to: "routes/admin.ts" },
    { from: "routes/admin.ts", to: "db/tables.ts" },
    { from: "routes/admin.ts", to: "src/app.ts" },
    { from: "src/boot.ts", to: "demo/registers.ts" },
    { from: "src/boot.ts", to: "demo/mod.ts" },
    { from: "routes/evidence.ts", to: "demo/clients.ts" },
    { from: "src/store.ts", to: "tools/generate.ts" },
    { from: "loadtest/protocol_bench.ts", to: "src/protocol/_chain.ts" },
    { from: "tools/demo_client.ts", to: "tests/_pg.ts" },
  ];
  for (const edge of forbidden) assert.notEqual(violation(edge), null, JSON.stringify(edge));
  const allowed: Edge[] = [
    { from: "crypto/access_token.ts", to: "src/model.ts" },
    { from: "crypto/mod.ts", to: "crypto/_jws.ts" },
    { from: "db/replay_guard.ts", to: "crypto/mod.ts" },
    { from: "db/seed.ts", to: "src/model.ts" },
    { from: "db/seed_test.ts", to: "tools/generate.ts" },
    { from: "src/app.ts", to: "routes/evidence.ts" },
    { from: "src/store.ts", to: "db/tables.ts" },
    { from: "src/protocol/mod.ts", to: "src/protocol/_log.ts" },
    { from: "src/main.ts", to: "demo/mod.ts" },
    { from: "demo/registers.ts", to: "crypto/mod.ts" },
    { from: "db/seed_test.ts", to: "demo/clients.ts" },
    { from: "routes/evidence.ts", to: "src/transfer.ts" },
    { from: "routes/navigation_bench.ts", to: "src/app.ts" },
    { from: "tests/protocol_test.ts", to: "src/protocol/mod.ts" },
  ];
  for (const edge of allowed) assert.equal(violation(edge), null, JSON.stringify(edge));
});

Deno.test("no import in the repository goes against the layering", async () => {
  const files = await sourceFiles();
  const edges = await importEdges(files);
  // The graph must really be there: the evidence face imports the use case.
  assert.ok(edges.some((e) => e.from === "routes/evidence.ts" && e.to === "src/transfer.ts"));
  const found = edges.flatMap((edge) => {
    const why = violation(edge);
    return why === null ? [] : [`${edge.from} → ${edge.to}: ${why}`];
  });
  assert.deepEqual([...new Set(found)], []);
});
