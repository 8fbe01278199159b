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
 * for (const chunk of chunks) watch.see(chunk);
 * if (watch.outcome() === "deferred") console.log("deferred");
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

// One character per byte: the names looked for are ASCII, and no byte of a multi-byte UTF-8
// character becomes "<", ":", a name character or the character right after a name (a lead
// byte is U+00C2–U+00F4), so a start tag is found exactly where a UTF-8 decoding finds it, with
// no decoder state across chunks and no two-byte string for a message with umlauts.
const BYTEWISE = new TextDecoder("latin1");

/**
 * Looks at the head of a message as it passes: a deferred 0102/0302 or not. Shown every
 * chunk of the answer (the transport's watch on the provider's body calls `see`, so no stream
 * of its own sits in between), asked once the answer was delivered whole.
 */
class HeadWatch {
  #head = "";
  #seen = 0;
  #deferred: boolean | null = null;

  see(chunk: Uint8Array): void {
    if (this.#deferred !== null) return;
    const part = chunk.subarray(0, HEAD_BYTES - this.#seen);
    this.#head += BYTEWISE.decode(part);
    this.#seen += part.byteLength;
    if (hasStartTag(this.#head, "ResponseAvailableDateTime")) this.#deferred = true;
    else if (hasStartTag(this.#head, "RegistryObjectList") || this.#seen >= HEAD_BYTES) {
      this.#deferred = false;
    }
  }

  outcome(): "deferred" | null {
    // see() looked for the date in every byte of the head it kept: undecided is not deferred.
    return this.#deferred === true ? "deferred" : null;
  }
}

/**
 * The `watch` of a transfer's upstream (src/transfer.ts) for XNachweis answers: shown every
 * chunk of the provider's answer as the transport streams it, it tells a deferred 0102/0302
 * (the outcome `deferred`) once a 200 answer was delivered whole.
 */
export function deferredWatch(): {
  see(chunk: Uint8Array): void;
  outcome(): "deferred" | null;
} {
  return new HeadWatch();
}
