/**
 * The pages' own files, served by Lotse so the pages' Content-Security-Policy can name
 * `'self'` and nothing inline: the style sheet and the optional key generation script of the
 * onboarding form (Web Crypto in the browser; the private key is offered as a download and
 * never sent).
 *
 * @module
 */
import { Hono } from "hono";
import { describe } from "../src/openapi.ts";

const STYLE = `
:root{--ink:#1b1b1b;--muted:#4a4a4a;--line:#b1b4b6;--brand:#003b5c;--link:#0b4f8a;
--error:#b00020;--ok:#1e6b2e;--focus:#ffbf47;--soft:#f3f2f1}
*{box-sizing:border-box}
body{margin:0;font-family:"Segoe UI",Roboto,Helvetica,Arial,sans-serif;font-size:1.05rem;
line-height:1.5;color:var(--ink);background:#fff}
.wrap{max-width:60rem;margin:0 auto;padding:0 1rem}
a{color:var(--link)}a:hover{text-decoration-thickness:3px}
:focus-visible{outline:3px solid var(--focus);outline-offset:0;box-shadow:0 0 0 5px var(--ink)}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:var(--focus);
color:var(--ink);padding:.5rem;z-index:2}
header.site{background:var(--brand);color:#fff;border-bottom:.4rem solid #d4a017}
header.site .brand{margin:0;padding:.9rem 0;font-size:1.1rem}
header.site .brand a{color:#fff;font-weight:700;font-size:1.5rem;text-decoration:none;
margin-right:1rem}
.test-banner{background:#fff0b3;color:#000;border-bottom:2px solid #8a6d00;padding:.6rem 0}
main{padding-bottom:3rem}h1{font-size:2rem;margin:1.5rem 0 1rem}
h2{font-size:1.5rem;margin:2rem 0 .8rem;border-bottom:2px solid var(--line);padding-bottom:.3rem}
h3{font-size:1.2rem;margin:1.4rem 0 .5rem}
.lead{font-size:1.2rem;color:var(--muted)}
fieldset{border:1px solid var(--line);padding:1rem 1.2rem;margin:1.2rem 0}
legend{font-weight:700;padding:0 .4rem;font-size:1.15rem}
.field{margin:1rem 0}
label{display:block;font-weight:600;margin-bottom:.2rem}
.hint{color:var(--muted);margin:0 0 .3rem;font-size:.95rem}
input[type=text],input[type=email],input[type=url],input[type=password],textarea{font:inherit;
width:100%;max-width:40rem;padding:.45rem;border:2px solid var(--ink);border-radius:0;background:#fff}
textarea{min-height:6rem;font-family:ui-monospace,Consolas,monospace;font-size:.95rem}
.checks label{font-weight:400;display:flex;gap:.5rem;align-items:flex-start;margin:.3rem 0}
.checks input{width:1.3rem;height:1.3rem;margin-top:.15rem}
.invalid input,.invalid textarea{border-color:var(--error)}
.field-error{color:var(--error);font-weight:700;margin:.2rem 0}
.error-summary{border:4px solid var(--error);padding:1rem;margin:1rem 0}
.error-summary h2{border:0;margin-top:0;font-size:1.25rem}
.notice{border-left:6px solid var(--brand);background:var(--soft);padding:.8rem 1rem;margin:1rem 0}
.success{border:4px solid var(--ok);padding:1rem;margin:1rem 0}
button,.button{font:inherit;font-weight:600;background:#00703c;color:#fff;border:0;
border-bottom:3px solid #002d18;padding:.55rem 1.2rem;cursor:pointer;margin:.3rem .5rem .3rem 0}
button.secondary{background:var(--soft);color:var(--ink);border-bottom-color:#929191}
button.danger{background:#b00020;border-bottom-color:#550010}
table{border-collapse:collapse;width:100%;margin:.8rem 0}
th,td{border-bottom:1px solid var(--line);padding:.45rem .6rem;text-align:left;vertical-align:top}
th{background:var(--soft)}
.pass{color:var(--ok);font-weight:700}.fail{color:var(--error);font-weight:700}
.card{border:1px solid var(--line);padding:1rem 1.2rem;margin:1.2rem 0}
.diff li{margin:.2rem 0}.diff code{background:var(--soft);padding:0 .2rem}
code{font-family:ui-monospace,Consolas,monospace}
footer.site{border-top:1px solid var(--line);color:var(--muted);padding:1.5rem 0;font-size:.95rem}
header.site .wrap{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:1rem}
header.site form{margin:0}.muted{color:var(--muted)}
.filters{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-end}.filters .field{margin:0}
.filters input,.filters select{font:inherit;padding:.4rem;border:2px solid var(--ink);background:#fff}
.actions{display:flex;flex-wrap:wrap;gap:1.5rem;margin:1rem 0}
caption{text-align:left;font-weight:700;padding:.4rem 0}.transfers td{overflow-wrap:break-word}
.outcome-refused,.outcome-failed{color:var(--error);font-weight:700}
@media print{.skip,.noprint,form,.actions,header.site form{display:none}
header.site{background:none;color:#000;border-bottom:2px solid #000}header.site .brand a{color:#000}
a{color:#000}th{background:none}}
`;

const KEYGEN = `"use strict";
// Optional: generates an ES256 key pair in this browser. The public key goes into the JWKS
// field; the private key is offered as a file to download and is never sent anywhere.
document.querySelectorAll("[data-keygen]").forEach(function (button) {
  var target = document.getElementById(button.getAttribute("data-keygen"));
  var status = document.getElementById(button.getAttribute("data-keygen") + "-status");
  if (!target || !window.crypto || !window.crypto.subtle) return;
  button.hidden = false;
  button.addEventListener("click", async function () {
    var pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true,
      ["sign", "verify"]);
    var kid = crypto.randomUUID();
    var priv = await crypto.subtle.exportKey("jwk", pair.privateKey);
    priv.kid = kid; priv.alg = "ES256"; priv.use = "sig";
    var pub = { kty: priv.kty, crv: priv.crv, x: priv.x, y: priv.y, kid: kid, alg: "ES256",
      use: "sig" };
    target.value = JSON.stringify({ keys: [pub] }, null, 2);
    var form = button.form;
    var client = form && form.elements.namedItem("clientId");
    var name = "lotse-" + ((client && client.value) || "client") + "-privater-schluessel.jwk.json";
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([JSON.stringify(priv, null, 2)],
      { type: "application/json" }));
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    if (status) {
      status.textContent = "Öffentlicher Schlüssel eingetragen. Der private Schlüssel wurde als " +
        name + " heruntergeladen: sicher aufbewahren, er verlässt Ihren Rechner nicht.";
    }
  });
});
`;

const FILE_DOC = (what: string, type: string) =>
  describe({
    summary: what,
    tags: ["Pages"],
    responses: { 200: { description: what, type, schema: { type: "string" } } },
  });

/** The files of `/assets/`. */
export function assetRoutes(): Hono {
  const app = new Hono();
  const headers = (type: string) => ({
    "content-type": type,
    "cache-control": "public, max-age=3600",
  });
  app.get(
    "/lotse.css",
    FILE_DOC("Style sheet of the pages", "text/css"),
    (c) => c.body(STYLE, 200, headers("text/css; charset=utf-8")),
  );
  app.get(
    "/keygen.js",
    FILE_DOC("Optional in-browser key generation of the onboarding form", "text/javascript"),
    (c) => c.body(KEYGEN, 200, headers("text/javascript; charset=utf-8")),
  );
  return app;
}
