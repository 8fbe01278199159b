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
// XML's whitespace is ASCII (XML 1.0 §2.3 S): a decoded byte 0xA0 is no name's end.
const NAME_END = /[ \t\r\n>/]/;

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

// One UTF-16 unit per byte: the names looked for are ASCII, and no byte of a multi-byte UTF-8
// character becomes "<", ":", an ASCII name character or XML whitespace, so a start tag is found
// exactly where a UTF-8 decoding finds it, with no decoder state across chunks. (The WHATWG
// "latin1" label is windows-1252: bytes 0x80–0x9F become characters above U+00FF, so a head
// with Ä, Ö, Ü, ß or "—" still makes a two-byte string; only the unit per byte matters here.)
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
