// @ts-check
/**
 * P1/P2: authenticated `GET /v1/navigation` at a held arrival rate over a random sample of
 * AGS, ARS and PLZ queries.
 *
 * ```sh
 * LOTSE_TOKEN=$(deno task demo:token stuttgart-bewohnerparken) \
 *   k6 run -e RATE=20000 -e DURATION=60s [-e LOTSE_PATHS=paths.json] loadtest/k6/navigation.js
 * ```
 *
 * Thresholds are docs/targets.md P2 from loadtest/targets.json (p99, p99.9), no failed request.
 */
import http from "k6/http";
import { check } from "k6";
import { SharedArray } from "k6/data";
import {
  authHeaders,
  BASE_URL,
  DEMO_NAVIGATION_PATHS,
  navigationThresholds,
  TREND_STATS,
} from "./_common.js";

const paths = new SharedArray("navigation paths", () => {
  const file = __ENV.LOTSE_PATHS;
  return file ? JSON.parse(open(file)) : DEMO_NAVIGATION_PATHS;
});

/** @type {import("k6/options").Options} */
export const options = {
  scenarios: {
    navigation: {
      executor: "constant-arrival-rate",
      rate: Number(__ENV.RATE || 5000),
      timeUnit: "1s",
      duration: __ENV.DURATION || "60s",
      preAllocatedVUs: Number(__ENV.VUS || 50),
      maxVUs: Number(__ENV.MAX_VUS || 500),
    },
  },
  thresholds: {
    ...navigationThresholds("navigation"),
    http_req_failed: ["rate==0"],
    checks: ["rate==1"],
    // The arrival rate was held: k6 had VUs free for every iteration.
    dropped_iterations: ["count==0"],
  },
  summaryTrendStats: TREND_STATS,
  discardResponseBodies: false,
};

const params = { headers: authHeaders(), tags: { name: "GET /v1/navigation" } };

export default function () {
  const path = paths[Math.floor(Math.random() * paths.length)];
  const res = http.get(`${BASE_URL}${path}`, params);
  check(res, {
    "status is 200": (r) => r.status === 200,
    "names a provider": (r) => {
      const body = /** @type {{ provider?: { id?: string } } | null} */ (r.json());
      return typeof body?.provider?.id === "string";
    },
  });
}
