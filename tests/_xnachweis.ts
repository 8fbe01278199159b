/**
 * Helpers for the XNachweis tests: a register speaking XNachweis on a real socket (the demo
 * register handler with the provider kit, or a scripted one), and a Lotse whose pilot
 * providers point their `xnachweisEndpoint` at it.
 *
 * @module
 */
import { DEMO_CLASSIFICATIONS } from "../demo/tables.ts";
import { DEMO_PURPOSES } from "../demo/clients.ts";
import { xnachweisRegister } from "../src/xnachweis/mod.ts";
import { demoInput, demoSubjectIdnr } from "../demo/registers.ts";
import type { Jwks } from "../crypto/mod.ts";
import { parseConfig } from "../src/config.ts";
import { bearer, startTestLotse, type TestLotse, type TestLotseOptions } from "./_app.ts";
import { parseResponse, requestBytes as rawRequestBytes, sendRaw } from "./_raw_http.ts";

export const ADMIN = "test-admin-token-of-at-least-32-characters";
/** A short `LOTSE_BODY_TIMEOUT_MS` for the stalled-body tests. */
export const BODY_TIMEOUT_MS = 300;
/** `LOTSE_BODY_TIMEOUT_MS` when it is not set. */
export const DEFAULT_BODY_TIMEOUT_MS = parseConfig({}).bodyTimeoutMs;
export const PILOTS = {
  bewohnerparkausweis: {
    file: new URL("../demo/xnachweis/bewohnerparkausweis.0101.xml", import.meta.url),
    consumer: "stuttgart-bewohnerparken",
    provider: "kba-zfzr",
    evidenceType: "fahrzeugzulassung",
    ...DEMO_PURPOSES.bewohnerparken,
  },
  gewerbeanmeldung: {
    file: new URL("../demo/xnachweis/gewerbeanmeldung.0101.xml", import.meta.url),
    consumer: "service-bw-gewerbe",
    provider: "gewerberegister-08111000",
    evidenceType: "gewerberegisterauszug",
    ...DEMO_PURPOSES.gewerbe,
  },
} as const;

/** A register on a real socket; `handler` answers everything when set. */
export interface TestRegister {
  readonly url: string;
  handler: ((request: Request) => Response | Promise<Response>) | null;
  /** The register's preview space for EU requests (null: it asks for no preview). */
  preview: string | null;
  /** What the last request carried. */
  last: { body: string; headers: Headers } | null;
  close(): Promise<void>;
}

/** Starts a register answering with the demo register (provider kit) unless scripted. */
export function startRegister(jwksUrl: string, issuer: string): TestRegister {
  let jwks: Jwks | null = null;
  const register = xnachweisRegister({
    jwks: async () => jwks ??= await (await fetch(jwksUrl)).json(),
    issuer,
    classifications: DEMO_CLASSIFICATIONS,
    evidence: (evidenceType, subject, transferId) => ({
      evidenceType,
      transferId,
      ...demoInput(subject),
    }),
    previewUrl: (_type, id) => state.preview === null ? null : `${state.preview}?request=${id}`,
    subjectIdnr: demoSubjectIdnr,
  });
  const state: TestRegister = {
    url: "",
    handler: null,
    preview: null,
    last: null,
    close: () => server.shutdown(),
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    if (state.handler) return await state.handler(req);
    const body = await req.text();
    state.last = { body, headers: req.headers };
    const id = new URL(req.url).pathname.split("/").pop()!;
    return await register(new Request(req.url, { method: "POST", headers: req.headers, body }), {
      id,
      name: id,
    });
  });
  (state as { url: string }).url = `http://127.0.0.1:${server.addr.port}`;
  return state;
}

/** A served Lotse whose pilot providers speak XNachweis at a test register. */
export async function startXmlLotse(
  options: TestLotseOptions = {},
): Promise<{ lotse: TestLotse; register: TestRegister; close(): Promise<void> }> {
  const lotse = await startTestLotse({ serve: true, ...options });
  const register = startRegister(`${lotse.base}/.well-known/jwks.json`, lotse.publicUrl);
  for (const pilot of Object.values(PILOTS)) {
    const current = await (await lotse.fetch(`/admin/v1/providers/${pilot.provider}`, {
      headers: bearer(ADMIN),
    })).json();
    const res = await lotse.fetch(`/admin/v1/providers/${pilot.provider}`, {
      method: "PUT",
      headers: bearer(ADMIN, { "content-type": "application/json" }),
      body: JSON.stringify({
        name: current.name,
        endpoint: current.endpoint,
        xnachweisEndpoint: `${register.url}/xnachweis/providers/${pilot.provider}`,
      }),
    });
    if (res.status !== 200) throw new Error(`Cannot point ${pilot.provider}: ${await res.text()}`);
  }
  // The change reaches navigation through NOTIFY; wait until the XML endpoint is in use.
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const snapshot = lotse.lotse.store?.snapshot;
    const kba = snapshot?.nav.provider(PILOTS.bewohnerparkausweis.provider);
    const gewerbe = snapshot?.nav.provider(PILOTS.gewerbeanmeldung.provider);
    if (kba?.xnachweisEndpoint?.startsWith(register.url) && gewerbe?.xnachweisEndpoint) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    lotse,
    register,
    async close() {
      await register.close();
      await lotse.close();
    },
  };
}

/** POSTs a 0101 to the XML face. */
export function postXml(
  lotse: TestLotse,
  token: string,
  body: BodyInit,
  headers: Record<string, string> = {},
): Promise<Response> {
  return lotse.fetch("/xnachweis/v1/evidence-requests", {
    method: "POST",
    headers: bearer(token, { "content-type": "application/xml", ...headers }),
    body,
  });
}

/**
 * POSTs `xml` to `path` on a raw socket with a `Content-Length` 100 bytes past what it sends
 * (a body that stops arriving) and reads the one answer; `afterMs` counts from before the
 * request.
 */
export async function postStalledXml(
  lotse: TestLotse,
  request: { path: string; token: string; xml: string; headers?: Record<string, string> },
): Promise<{ response: Response; afterMs: number }> {
  const { hostname, port } = new URL(lotse.base);
  const bytes = rawRequestBytes(
    {
      method: "POST",
      target: request.path,
      headers: [
        ["authorization", `Bearer ${request.token}`],
        ["content-type", "application/xml"],
        ...Object.entries(request.headers ?? {}),
      ],
      body: new TextEncoder().encode(request.xml),
    },
    `${hostname}:${port}`,
    "short-body",
  );
  const since = performance.now();
  // The cap only ends a wait for an answer that never comes.
  const sent = await sendRaw({ hostname, port: Number(port) }, bytes, {
    untilAnswered: true,
    timeoutMs: 60_000,
  });
  const afterMs = performance.now() - since;
  const raw = parseResponse(sent.bytes);
  if (raw === null) throw new Error(`No answer to a stalled body (timed out: ${sent.timedOut})`);
  const response = new Response(raw.body.slice(), { status: raw.status, headers: raw.headers });
  return { response, afterMs };
}
