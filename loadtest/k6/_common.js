// @ts-check
/**
 * Settings shared by Lotse's k6 scenarios, all from the environment:
 *
 * - `LOTSE_URL`   where Lotse listens (default `http://127.0.0.1:8080`)
 * - `LOTSE_TOKEN` an access token of a consumer client. k6 cannot sign the ES256 client
 *   assertion that `POST /v1/token` wants, so make one first:
 *   `LOTSE_TOKEN=$(deno task demo:token stuttgart-bewohnerparken)`. It is valid for 5 minutes;
 *   longer runs (soak.js) take `LOTSE_TOKEN_CMD`-refreshed tokens from `LOTSE_TOKEN_FILE`.
 */

export const BASE_URL = (__ENV.LOTSE_URL || "http://127.0.0.1:8080").replace(/\/+$/, "");

/**
 * The targets every scenario's thresholds come from: loadtest/targets.json, which
 * loadtest/run.ts reads too.
 * @type {{ P2: { p99Ms: number, p999Ms: number }, authorizations: { p99Ms: number } }}
 */
export const TARGETS = JSON.parse(open("../targets.json"));

/**
 * Thresholds on a scenario's request durations: TARGETS P2 for navigation.
 * @param {string} scenario
 * @returns {Record<string, string[]>}
 */
export function navigationThresholds(scenario) {
  return {
    [`http_req_duration{scenario:${scenario}}`]: [
      `p(99)<${TARGETS.P2.p99Ms}`,
      `p(99.9)<${TARGETS.P2.p999Ms}`,
    ],
  };
}

/** The bearer token; fails the test at once when none is given. */
export function token() {
  const value = __ENV.LOTSE_TOKEN;
  if (!value) {
    throw new Error(
      "LOTSE_TOKEN is not set: LOTSE_TOKEN=$(deno task demo:token stuttgart-bewohnerparken)",
    );
  }
  return value;
}

/**
 * Headers for an authenticated request.
 * @param {Record<string, string>} [extra]
 * @returns {Record<string, string>}
 */
export function authHeaders(extra = {}) {
  return { Authorization: `Bearer ${token()}`, ...extra };
}

/**
 * A free-text header value as an RFC 8187 extended value, so "§" travels as ASCII.
 * @param {string} text
 */
export function textHeader(text) {
  return `UTF-8''${encodeURIComponent(text)}`;
}

/**
 * Navigation queries valid on the demo tables (`deno task start`): real AGS, ARS and PLZ of
 * the demo Gemeinden, evidence types with a route there. For the full-scale tables pass a
 * JSON array of paths in `LOTSE_PATHS` (`deno run -A loadtest/k6_paths.ts > paths.json`).
 */
export const DEMO_NAVIGATION_PATHS = [
  "/v1/navigation?evidenceType=fahrzeugzulassung&ags=08111000",
  "/v1/navigation?evidenceType=fahrzeugzulassung&ars=081110000000",
  "/v1/navigation?evidenceType=fahrzeugzulassung&plz=70173",
  "/v1/navigation?evidenceType=fahrzeugzulassung&ags=09162000",
  "/v1/navigation?evidenceType=gewerberegisterauszug&ags=08111000",
  "/v1/navigation?evidenceType=handelsregisterauszug&plz=79098",
  "/v1/navigation?evidenceType=handelsregisterauszug&ags=08311000",
  "/v1/navigation?evidenceType=meldebescheinigung&ags=09184119",
];

/** The Bewohnerparken pilot's authorization request (demo client stuttgart-bewohnerparken). */
export const PARKING_AUTHORIZATION = {
  evidenceType: "fahrzeugzulassung",
  providerId: "kba-zfzr",
  purpose: "bewohnerparkausweis",
  legalBasis: "§ 45 Abs. 1b Satz 1 Nr. 2a StVO",
  idnrUsed: true,
};

/** Trend statistics every scenario reports, p99.9 included. */
export const TREND_STATS = ["avg", "p(50)", "p(90)", "p(99)", "p(99.9)", "max"];
