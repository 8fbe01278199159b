/**
 * The client quota as tests see it: requests sent until it refuses, and what its fields say.
 *
 * @module
 */
import assert from "node:assert/strict";

/**
 * Sends (at most ten times) until the client quota of 3 refuses with 429, and checks what the
 * quota's fields say: the refusal names the client's quota as spent, and the last three answers
 * before it were counted against the client (its token known from the first). Returns the
 * answers served before the refusal, bodies cancelled, for the caller's own checks.
 */
export async function untilClientRefused(send: () => Promise<Response>): Promise<Response[]> {
  const answers: Response[] = [];
  for (let i = 0; i < 10 && answers.at(-1)?.status !== 429; i++) {
    const res = await send();
    await res.body?.cancel();
    answers.push(res);
  }
  const refused = answers.at(-1)!;
  assert.equal(refused.status, 429);
  assert.match(refused.headers.get("ratelimit") ?? "", /^"client";r=0;t=\d+$/);
  const served = answers.slice(0, -1);
  assert.ok(served.length >= 3, `${served.length} answers before the refusal`);
  for (const res of served.slice(-3)) {
    assert.match(res.headers.get("ratelimit-policy") ?? "", /"client";q=3;w=60/);
  }
  assert.deepEqual(
    served.slice(-3).map((res) => res.headers.get("ratelimit")?.replace(/;t=\d+$/, "")),
    ['"client";r=2', '"client";r=1', '"client";r=0'],
  );
  return served;
}
