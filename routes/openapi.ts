/**
 * `GET /openapi.json` (generated from the zod schemas) and `GET /docs` (Swagger UI, served
 * from the bundled `swagger-ui-dist` package: no CDN, nothing fetched from outside).
 *
 * @module
 */
import { Hono } from "hono";
import swaggerPackage from "swagger-ui-dist/package.json" with { type: "json" };
import type { Config } from "../src/config.ts";
import { buildOpenApi } from "../src/openapi.ts";
import { OPERATIONS } from "./_operations.ts";
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

/** What the OpenAPI routes read. */
export interface OpenapiRoutesOptions {
  readonly config: Pick<Config, "publicUrl">;
}

export function openapiRoutes(deps: OpenapiRoutesOptions): Hono {
  const app = new Hono();
  let document: string | null = null;
  app.get("/openapi.json", (c) => {
    document ??= JSON.stringify(buildOpenApi(OPERATIONS, {
      title: "Lotse",
      version: "1",
      description:
        "Evidence router for once-only government data exchange (NOOTS model): navigation, authorization, streamed transport and protocol.",
      serverUrl: deps.config.publicUrl,
    }));
    return c.body(document, 200, { "content-type": "application/json" });
  });
  app.get("/docs", (c) => c.html(DOCS_HTML));
  app.get("/docs/init.js", (c) => c.body(INIT_JS, 200, { "content-type": "text/javascript" }));
  app.get("/docs/assets/:file", async (c) => {
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
