// @ts-check
/**
 * R6: a long mixed run — by default 1,000,000 requests (≈ 17 minutes at 1,000/s):
 * 85 % navigation, 12 % authorizations, 3 % small evidence transfers (64 KiB) through the
 * demo providers. Pass: no failed request; and Lotse's RSS, sampled from `ps` beside the run,
 * stays level (k6 cannot see it; loadtest/README.md shows a one-line sampler).
 *
 * Access tokens live 5 minutes, so each VU fetches a current one every 60 s from
 * loadtest/token_server.ts (`LOTSE_TOKEN_URL`), which signs the client assertion k6 cannot;
 * without it the run uses `LOTSE_TOKEN` and must stay under 5 minutes.
 *
 * ```sh
 * deno run -A loadtest/token_server.ts --lotse http://127.0.0.1:8080 &
 * k6 run -e RATE=1000 -e DURATION=17m -e LOTSE_TOKEN_URL=http://127.0.0.1:8099/token \
 *   loadtest/k6/soak.js
 * ```
 */
import http from "k6/http";
import { check } from "k6";
import { SharedArray } from "k6/data";
import {
  BASE_URL,
  DEMO_NAVIGATION_PATHS,
  navigationThresholds,
  PARKING_AUTHORIZATION,
  textHeader,
  TREND_STATS,
} from "./_common.js";

const RATE = Number(__ENV.RATE || 1000);
const DURATION = __ENV.DURATION || "17m";

const paths = new SharedArray("navigation paths", () => {
  const file = __ENV.LOTSE_PATHS;
  return file ? JSON.parse(open(file)) : DEMO_NAVIGATION_PATHS;
});

/**
 * @param {string} scenario
 * @param {number} share
 * @returns {import("k6/options").Scenario}
 */
function arrival(scenario, share) {
  return {
    executor: "constant-arrival-rate",
    exec: scenario,
    rate: Math.max(1, Math.round(RATE * share)),
    timeUnit: "1s",
    duration: DURATION,
    preAllocatedVUs: 20,
    maxVUs: 300,
  };
}

/** @type {import("k6/options").Options} */
export const options = {
  scenarios: {
    navigation: arrival("navigation", 0.85),
    authorizations: arrival("authorizations", 0.12),
    evidence: arrival("evidence", 0.03),
  },
  thresholds: {
    http_req_failed: ["rate==0"],
    checks: ["rate==1"],
    ...navigationThresholds("navigation"),
  },
  summaryTrendStats: TREND_STATS,
};

// Per VU: a token fetched at most every 60 s (the token server renews it before expiry).
let cached = { token: "", at: -Infinity };
function bearer() {
  const url = __ENV.LOTSE_TOKEN_URL;
  if (!url) return `Bearer ${__ENV.LOTSE_TOKEN || ""}`;
  if (Date.now() - cached.at > 60_000) {
    const res = http.get(url, { tags: { name: "token" } });
    check(res, { "token 200": (r) => r.status === 200 });
    if (res.status === 200) cached = { token: String(res.body).trim(), at: Date.now() };
  }
  return `Bearer ${cached.token}`;
}

export function navigation() {
  const path = paths[Math.floor(Math.random() * paths.length)];
  const res = http.get(`${BASE_URL}${path}`, {
    headers: { Authorization: bearer() },
    tags: { name: "GET /v1/navigation" },
  });
  check(res, { "navigation 200": (r) => r.status === 200 });
}

const authorizationBody = JSON.stringify(PARKING_AUTHORIZATION);

export function authorizations() {
  const res = http.post(`${BASE_URL}/v1/authorizations`, authorizationBody, {
    headers: { Authorization: bearer(), "Content-Type": "application/json" },
    tags: { name: "POST /v1/authorizations" },
    responseCallback: http.expectedStatuses(201),
  });
  check(res, { "authorization 201": (r) => r.status === 201 });
}

const SMALL = 64 * 1024;
const evidenceBody = JSON.stringify({ demo: { bytes: SMALL } });

export function evidence() {
  const res = http.post(
    `${BASE_URL}/v1/evidence/${PARKING_AUTHORIZATION.evidenceType}?plz=70173`,
    evidenceBody,
    {
      headers: {
        Authorization: bearer(),
        "Content-Type": "application/json",
        "Lotse-Purpose": textHeader(PARKING_AUTHORIZATION.purpose),
        "Lotse-Legal-Basis": textHeader(PARKING_AUTHORIZATION.legalBasis),
      },
      responseType: "binary",
      tags: { name: "POST /v1/evidence" },
    },
  );
  check(res, {
    "evidence 200": (r) => r.status === 200,
    "evidence whole": (r) => r.body instanceof ArrayBuffer && r.body.byteLength === SMALL,
  });
}
