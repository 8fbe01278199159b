/**
 * Tells a deferred `DE.EvidenceResponse.0102` or `.0302` (evidence not ready yet:
 * `EvidenceAvailability` holds `ResponseAvailableDateTime` instead of evidence) while it
 * streams through, without
 * buffering it: the element comes before any evidence, so only the message's head (at most
 * 64 KiB) is looked at; every byte passes on unchanged.
 *
 * @example
 * ```ts
 * const watch = deferredWatch();
 * const passed = new Response(response.body!.pipeThrough(watch.stream), response);
 * watch.deferred.then((yes) => yes && console.log("deferred"));
 * ```
 *
 * @module
 */

const HEAD_BYTES = 64 * 1024;
// An element start tag, any prefix: text content cannot hold "<", so this is markup.
const DEFERRED = /<(?:[A-Za-z_][\w.-]*:)?ResponseAvailableDateTime[\s>/]/;
const HAS_EVIDENCE = /<(?:[A-Za-z_][\w.-]*:)?RegistryObjectList[\s>/]/;

/** A pass-through stream and whether the message it carried was a deferred 0102 or 0302. */
export function deferredWatch(): {
  stream: TransformStream<Uint8Array, Uint8Array>;
  deferred: Promise<boolean>;
} {
  let settle!: (value: boolean) => void;
  const deferred = new Promise<boolean>((resolve) => settle = resolve);
  const decoder = new TextDecoder();
  let head = "";
  let seen = 0;
  let decided = false;
  const decide = (value: boolean) => {
    if (!decided) settle(value);
    decided = true;
  };
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      if (!decided) {
        head += decoder.decode(chunk.subarray(0, HEAD_BYTES - seen), { stream: true });
        seen += Math.min(chunk.byteLength, HEAD_BYTES - seen);
        if (DEFERRED.test(head)) decide(true);
        else if (HAS_EVIDENCE.test(head) || seen >= HEAD_BYTES) decide(false);
      }
      controller.enqueue(chunk);
    },
    flush() {
      decide(DEFERRED.test(head));
    },
    cancel() {
      decide(false);
    },
  });
  return { stream, deferred };
}

/**
 * The `inspect` of a transfer's upstream (src/transfer.ts) for XNachweis answers: a 200 with a
 * body is watched as it streams, and a deferred 0102/0302 makes the outcome `deferred`.
 */
export function deferredInspect(
  response: Response,
): { response: Response; outcome: Promise<"deferred" | null> } {
  if (response.status !== 200 || response.body === null) {
    return { response, outcome: Promise.resolve(null) };
  }
  const watch = deferredWatch();
  return {
    response: new Response(response.body.pipeThrough(watch.stream), response),
    outcome: watch.deferred.then((deferred) => deferred ? "deferred" : null),
  };
}
