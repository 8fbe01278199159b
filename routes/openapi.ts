/**
 * `GET /openapi.json` (generated from the routes' own statements, see `src/openapi.ts`) and
 * `GET /docs` (Swagger UI, served from the bundled `swagger-ui-dist` package: no CDN,
 * nothing fetched from outside).
 *
 * @module
 */
import { Hono } from "hono";
import swaggerPackage from "swagger-ui-dist/package.json" with { type: "json" };
import { z } from "zod";
import { buildOpenApi, describe, problem, type RoutedApp } from "../src/openapi.ts";
import { Problem } from "../src/problem.ts";

const ASSETS = new URL("../node_modules/swagger-ui-dist/", import.meta.url);
const ASSET_TYPES: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
};

const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Lotse API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>`;

const INIT_JS =
  `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#ui", deepLinking: true });`;

/** Options for {@linkcode openapiRoutes}. */
export interface OpenApiRoutesOptions {
  readonly publicUrl: string;
  /** The whole app, whose routes the document describes (read once, on first request). */
  readonly app: () => RoutedApp;
}

const TEXT = { type: "string" } as const;
const TAGS = ["Operations"];

const DOCUMENT_DOC = describe({
  summary: "This OpenAPI 3.1 document",
  tags: TAGS,
  responses: { 200: { description: "OpenAPI 3.1", schema: { type: "object" } } },
});

const UI_DOC = describe({
  summary: "Swagger UI over this document",
  tags: TAGS,
  responses: { 200: { description: "HTML page", type: "text/html", schema: TEXT } },
});

const INIT_DOC = describe({
  summary: "Swagger UI's start script",
  tags: TAGS,
  responses: { 200: { description: "JavaScript", type: "text/javascript", schema: TEXT } },
});

const ASSET_DOC = describe({
  summary: "Swagger UI's bundled files",
  tags: TAGS,
  params: { file: z.enum(Object.keys(ASSET_TYPES)) },
  responses: {
    200: { description: "CSS or JavaScript of swagger-ui-dist", type: "*/*", schema: TEXT },
    404: problem("No such file"),
  },
});

export function openapiRoutes(options: OpenApiRoutesOptions): Hono {
  const app = new Hono();
  let document: Promise<string> | null = null;
  app.get("/openapi.json", DOCUMENT_DOC, async (c) => {
    document ??= buildOpenApi(options.app(), {
      title: "Lotse",
      version: "1",
      description:
        "Evidence router for once-only government data exchange (NOOTS model): navigation, authorization, streamed transport and protocol.",
      publicUrl: options.publicUrl,
    }).then((d) => JSON.stringify(d));
    return c.body(await document, 200, { "content-type": "application/json" });
  });
  app.get("/docs", UI_DOC, (c) => c.html(DOCS_HTML));
  app.get(
    "/docs/init.js",
    INIT_DOC,
    (c) => c.body(INIT_JS, 200, { "content-type": "text/javascript" }),
  );
  app.get("/docs/assets/:file", ASSET_DOC, async (c) => {
    const file = c.req.param("file");
    const type = ASSET_TYPES[file];
    if (!type) throw new Problem("not-found", `No asset "${file.slice(0, 64)}"`);
    const bytes = await Deno.readFile(new URL(file, ASSETS));
    return c.body(bytes, 200, {
      "content-type": type,
      "cache-control": `public, max-age=86400`,
      "etag": `"${swaggerPackage.version}"`,
    });
  });
  return app;
}
