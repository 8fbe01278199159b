/**
 * Logging in to the citizens' cockpit without a browser, step by step as a browser would:
 * `/cockpit/login` → the demo identity provider's authorize endpoint → the person chosen →
 * `/cockpit/callback` with the login cookie → the session cookie; the CSRF token is read from
 * the page's logout form. For the tests that check what a browser cannot easily forge.
 *
 * @module
 */
import assert from "node:assert/strict";

/** A logged-in session as the browser holds it. */
export interface CockpitSession {
  /** `lotse_cockpit=<id>`, ready for a `Cookie` header. */
  readonly cookie: string;
  readonly id: string;
  readonly csrf: string;
}

/** The value of cookie `name` among a response's `Set-Cookie` headers, or null. */
export function setCookieValue(res: Response, name: string): string | null {
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const at = pair!.indexOf("=");
    if (pair!.slice(0, at).trim() === name) return pair!.slice(at + 1);
  }
  return null;
}

/** The whole `Set-Cookie` line for cookie `name`, or null. */
export function setCookieLine(res: Response, name: string): string | null {
  return res.headers.getSetCookie().find((l) => l.startsWith(`${name}=`)) ?? null;
}

/**
 * Logs in as the demo person with `idnr` at the instance under `base`; `cookie` is sent along
 * (e.g. a session cookie planted before the login).
 */
export async function loginWithFetch(
  base: string,
  idnr: string,
  options: {
    cookie?: string;
    /** Sees a copy of the callback's answer (e.g. to check it against the API document). */
    inspect?: (url: string, res: Response) => Promise<unknown>;
    /** How requests to Lotse are sent (e.g. in-process); the identity provider's use `fetch`. */
    send?: (url: string, init?: RequestInit) => Promise<Response>;
  } = {},
): Promise<CockpitSession> {
  const send = options.send ?? fetch;
  const start = await send(`${base}/cockpit/login`, { redirect: "manual" });
  await start.body?.cancel();
  assert.equal(start.status, 303);
  const loginId = setCookieValue(start, "lotse_cockpit_login");
  assert.ok(loginId, "the login cookie is set");
  const authorize = new URL(start.headers.get("location")!);
  const form = new URLSearchParams(authorize.searchParams);
  form.set("person", idnr);
  const chosen = await fetch(new URL(authorize.pathname, authorize), {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: form,
  });
  await chosen.body?.cancel();
  assert.equal(chosen.status, 303);
  const callback = chosen.headers.get("location")!;
  const cookies = [`lotse_cockpit_login=${loginId}`, ...(options.cookie ? [options.cookie] : [])];
  const back = await send(callback, {
    redirect: "manual",
    headers: { cookie: cookies.join("; ") },
  });
  await options.inspect?.(callback, back.clone());
  if (back.status !== 200) assert.fail(`Callback answered ${back.status}: ${await back.text()}`);
  await back.body?.cancel();
  const id = setCookieValue(back, "lotse_cockpit");
  assert.ok(id, "the session cookie is set");
  const page = await send(`${base}/cockpit`, { headers: { cookie: `lotse_cockpit=${id}` } });
  const html = await page.text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
  assert.ok(csrf, "the page carries the logout form's CSRF token");
  return { cookie: `lotse_cockpit=${id}`, id, csrf };
}
