/**
 * Tells a deferred `DE.EvidenceResponse.0102` or `.0302` (evidence not ready yet:
 * `EvidenceAvailability` holds `ResponseAvailableDateTime` instead of evidence) while it
 * streams through, without
 * buffering it: the element comes before any evidence, so only the message's head (at most
 * 64 KiB) is looked at; every byte passes on unchanged.
 *
 * @example
 * ```ts
 * const { response: passed, outcome } = deferredInspect(response);
 * outcome.then((o) => o === "deferred" && console.log("deferred"));
 * ```
 *
 * @module
 */

const HEAD_BYTES = 64 * 1024;
const NAME_CHAR = /[\w.-]/;
const NAME_START = /[A-Za-z_]/;
const NAME_END = /[\s>/]/;

/**
 * Whether `text` holds a start tag of `local` under any prefix (`<local`, `<p:local`)
 * followed by whitespace, `>` or `/`. Text content cannot hold `<`, so this is markup. The
 * name is found by a plain substring search first: the message passes through once.
 */
export function hasStartTag(text: string, local: string): boolean {
  for (let at = text.indexOf(local); at !== -1; at = text.indexOf(local, at + 1)) {
    if (!NAME_END.test(text[at + local.length] ?? "")) continue;
    let start = at - 1;
    if (text[start] === ":") {
      start--;
      while (start >= 0 && NAME_CHAR.test(text[start]!)) start--;
      if (!NAME_START.test(text[start + 1] ?? "")) continue;
    }
    if (text[start] === "<") return true;
  }
  return false;
}

/** Looks at the head of a message as it passes: deferred (true) or not (false). */
class HeadWatch {
  readonly deferred: Promise<boolean>;
  #settle!: (value: boolean) => void;
  readonly #decoder = new TextDecoder();
  #head = "";
  #seen = 0;
  #decided = false;

  constructor() {
    this.deferred = new Promise<boolean>((resolve) => this.#settle = resolve);
  }

  #decide(value: boolean): void {
    if (!this.#decided) this.#settle(value);
    this.#decided = true;
  }

  see(chunk: Uint8Array): void {
    if (this.#decided) return;
    this.#head += this.#decoder.decode(chunk.subarray(0, HEAD_BYTES - this.#seen), {
      stream: true,
    });
    this.#seen += Math.min(chunk.byteLength, HEAD_BYTES - this.#seen);
    if (hasStartTag(this.#head, "ResponseAvailableDateTime")) this.#decide(true);
    else if (hasStartTag(this.#head, "RegistryObjectList") || this.#seen >= HEAD_BYTES) {
      this.#decide(false);
    }
  }

  end(): void {
    this.#decide(hasStartTag(this.#head, "ResponseAvailableDateTime"));
  }

  cancel(): void {
    this.#decide(false);
  }
}

/**
 * The `inspect` of a transfer's upstream (src/transfer.ts) for XNachweis answers: a 200 with a
 * body is watched as it streams (a pull stream over the provider's body, cheaper than a pipe
 * through a transform), and a deferred 0102/0302 makes the outcome `deferred`. Errors of the
 * provider's body (a cut, a digest mismatch) pass on as errors.
 */
export function deferredInspect(
  response: Response,
): { response: Response; outcome: Promise<"deferred" | null> } {
  if (response.status !== 200 || response.body === null) {
    return { response, outcome: Promise.resolve(null) };
  }
  const watch = new HeadWatch();
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let read: ReadableStreamReadResult<Uint8Array>;
      try {
        read = await reader.read();
      } catch (error) {
        watch.cancel(); // a cut body settles the outcome too
        throw error;
      }
      const { done, value } = read;
      if (done) {
        watch.end();
        controller.close();
        return;
      }
      watch.see(value);
      controller.enqueue(value);
    },
    cancel(reason) {
      watch.cancel();
      return reader.cancel(reason);
    },
  });
  return {
    response: new Response(body, response),
    outcome: watch.deferred.then((deferred) => deferred ? "deferred" : null),
  };
}
