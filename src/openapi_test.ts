import assert from "node:assert/strict";
import { Hono } from "hono";
import { z } from "zod";
import { validate } from "@readme/openapi-parser";
import { buildOpenApi, describe, problem } from "./openapi.ts";

const OPTIONS = { title: "T", version: "1", description: "D", publicUrl: "https://lotse.example" };

const item = z.object({ id: z.string() }).meta({ id: "TestItem" });

function sampleApp(): Hono {
  const sub = new Hono();
  sub.get(
    "/items/:id",
    describe({
      summary: "One item",
      tags: ["Test"],
      roles: ["consumer"],
      params: { id: z.string() },
      responses: {
        // A named schema nested in an anonymous one: it must still become a component.
        200: { description: "The item", schema: z.object({ items: z.array(item) }) },
        404: problem("No such item"),
      },
    }),
    (c) => c.json({ items: [{ id: c.req.param("id") }] }),
  );
  sub.post(
    "/xml",
    describe({
      summary: "An XML face",
      tags: ["Test"],
      body: { type: "application/xml", schema: { type: "string" } },
      responses: { 200: { description: "XML", type: "application/xml" } },
    }),
    (c) => c.body("<ok/>", 200, { "content-type": "application/xml" }),
  );
  const app = new Hono();
  app.route("/v1", sub);
  return app;
}

Deno.test("buildOpenApi() describes mounted routes from their describe() statements", async () => {
  const doc = await buildOpenApi(sampleApp(), OPTIONS) as {
    paths: Record<string, Record<string, Record<string, unknown>>>;
    components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
  };
  assert.deepEqual(Object.keys(doc.paths).sort(), ["/v1/items/{id}", "/v1/xml"]);
  const get = doc.paths["/v1/items/{id}"]!.get!;
  assert.deepEqual(get.security, [{ oauth2: [] }]);
  const responses = get.responses as Record<string, { content: Record<string, unknown> }>;
  assert.deepEqual(Object.keys(responses).sort(), [
    "200",
    "401",
    "403",
    "404",
    "429",
    "500",
    "503",
  ]);
  assert.ok(responses["404"]!.content["application/problem+json"]);
  assert.ok(doc.components.schemas.TestItem, "nested named schema lifted to a component");
  assert.ok(!JSON.stringify(doc).includes("__shared"));
  assert.ok(!JSON.stringify(doc).includes("$defs"));
  const post = doc.paths["/v1/xml"]!.post!;
  assert.deepEqual(post.security, []);
  assert.ok((post.requestBody as { content: Record<string, unknown> }).content["application/xml"]);
  const oauth2 = doc.components.securitySchemes.oauth2 as {
    flows: { clientCredentials: { tokenUrl: string } };
  };
  assert.equal(oauth2.flows.clientCredentials.tokenUrl, "https://lotse.example/v1/token");
  const result = await validate(structuredClone(doc) as never);
  assert.equal(result.valid, true, JSON.stringify(result));
});

Deno.test("describe() adds no work to a request: it only calls the next handler", async () => {
  const app = sampleApp();
  const res = await app.request("/v1/items/a");
  assert.deepEqual(await res.json(), { items: [{ id: "a" }] });
});

Deno.test("buildOpenApi() refuses a route without describe(), so none goes missing", async () => {
  const app = sampleApp();
  app.get("/v1/undocumented", (c) => c.text("x"));
  await assert.rejects(
    buildOpenApi(app, OPTIONS),
    /Route GET \/v1\/undocumented has no describe\(\)/,
  );
});

Deno.test("buildOpenApi() refuses two different schemas under one name", async () => {
  const app = new Hono();
  const doc = (schema: z.ZodType) =>
    describe({ summary: "s", tags: [], responses: { 200: { description: "d", schema } } });
  app.get("/a", doc(z.object({ a: z.string() }).meta({ id: "Same" })), (c) => c.text(""));
  app.get("/b", doc(z.object({ b: z.string() }).meta({ id: "Same" })), (c) => c.text(""));
  await assert.rejects(buildOpenApi(app, OPTIONS), /Two OpenAPI schemas are named "Same"/);
});
