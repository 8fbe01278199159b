// @ts-check
/**
 * `POST /v1/authorizations`: the permission decision, an ES256-sealed evidence access token
 * and a protocol record per request, at a held arrival rate.
 *
 * ```sh
 * LOTSE_TOKEN=$(deno task demo:token stuttgart-bewohnerparken) \
 *   k6 run -e RATE=2000 -e DURATION=60s loadtest/k6/authorizations.js
 * ```
 */
import http from "k6/http";
import { check } from "k6";
import { authHeaders, BASE_URL, PARKING_AUTHORIZATION, TARGETS, TREND_STATS } from "./_common.js";

/** @type {import("k6/options").Options} */
export const options = {
  scenarios: {
    authorizations: {
      executor: "constant-arrival-rate",
      rate: Number(__ENV.RATE || 1000),
      timeUnit: "1s",
      duration: __ENV.DURATION || "60s",
      preAllocatedVUs: Number(__ENV.VUS || 50),
      maxVUs: Number(__ENV.MAX_VUS || 500),
    },
  },
  thresholds: {
    "http_req_duration{scenario:authorizations}": [`p(99)<${TARGETS.authorizations.p99Ms}`],
    http_req_failed: ["rate==0"],
    checks: ["rate==1"],
    dropped_iterations: ["count==0"],
  },
  summaryTrendStats: TREND_STATS,
};

const body = JSON.stringify(PARKING_AUTHORIZATION);
const params = {
  headers: authHeaders({ "Content-Type": "application/json" }),
  tags: { name: "POST /v1/authorizations" },
  // A 201 is the expected answer; k6 counts only 2xx/3xx as passed by default anyway.
  responseCallback: http.expectedStatuses(201),
};

export default function () {
  const res = http.post(`${BASE_URL}/v1/authorizations`, body, params);
  check(res, {
    "status is 201": (r) => r.status === 201,
    "carries a token": (r) => {
      const b = /** @type {{ token?: string } | null} */ (r.json());
      return typeof b?.token === "string" && b.token.split(".").length === 3;
    },
  });
}
