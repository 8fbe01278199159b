import assert from "node:assert/strict";
import { Activity } from "./activity.ts";

Deno.test("Activity counts requests from the call until the response is returned", async () => {
  const activity = new Activity();
  let release = () => {};
  const slow = activity.track((_request: Request, _info: undefined) =>
    new Promise<Response>((resolve) => release = () => resolve(new Response("late")))
  );
  const quick = activity.track((_request: Request, _info: undefined) => new Response("now"));
  const failing = activity.track((_request: Request, _info: undefined): Response => {
    throw new Error("Handler failed");
  });
  const mark = activity.begun;
  assert.equal(activity.quietSince(mark), true);

  assert.equal(await (quick(new Request("http://x/"), undefined) as Response).text(), "now");
  assert.equal(activity.running, 0);
  assert.equal(activity.quietSince(mark), false, "a request began since the mark");

  const pending = slow(new Request("http://x/"), undefined);
  assert.equal(activity.running, 1);
  const busy = activity.begun;
  assert.equal(activity.quietSince(busy), false, "a request is running");
  release();
  assert.equal(await (await pending).text(), "late");
  assert.equal(activity.quietSince(busy), true);

  assert.throws(() => failing(new Request("http://x/"), undefined), /Handler failed/);
  assert.equal(activity.running, 0);
  assert.equal(activity.begun, 3);
});
