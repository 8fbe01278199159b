/**
 * Reads a register's `DE.EvidenceResponse.0302` as it streams in and hands out the evidence
 * documents it carries, so the EU face answers with the bare evidence, not the national message
 * around it (docs/eu.md).
 *
 * The markup goes through a real XML parser (saxes, namespace-aware, well-formedness checked);
 * the content of each `RepositoryItem/RepositoryItem` (the evidence, base64) is diverted past
 * the parser as it arrives and handed out in chunks unchanged (EDM's `RepositoryItem` is
 * base64 too), so a 10 MiB evidence never sits in memory. Only base64 characters and white
 * space may appear in it; markup outside the evidence is bounded (`maxMarkupBytes`).
 *
 * @example
 * ```ts
 * for await (const event of nationalEvidence(response.body!)) {
 *   if (event.type === "item") console.log("evidence in", event.format);
 *   if (event.type === "data") sink.write(event.base64);
 * }
 * ```
 *
 * @module
 */
import { SaxesParser, type SaxesTagNS } from "saxes";

/** What {@linkcode nationalEvidence} finds, in document order. */
export type NationalEvidenceEvent =
  /** The 0302 announces the evidence for later (`ResponseAvailableDateTime`); nothing follows. */
  | { readonly type: "deferred"; readonly availableAt: string }
  /** An evidence document begins; `format` from its `Distribution/Format` (a MIME type). */
  | { readonly type: "item"; readonly format: string }
  /** A piece of the current document, base64 without white space (any length, not aligned). */
  | { readonly type: "data"; readonly base64: string }
  /** The current document ended. */
  | { readonly type: "item-end" };

/** The provider's answer is not a usable 0302; `message` says why, for the gateway. */
export class NationalEvidenceError extends Error {
  override readonly name = "NationalEvidenceError";
}

/** Options for {@linkcode nationalEvidence}. */
export interface NationalEvidenceOptions {
  /** Most characters of markup (everything but the evidence) read; default 1 MiB. */
  readonly maxMarkupBytes?: number;
}

const ROOT = "DE.EvidenceResponse.0302";
const BASE64 = /^[A-Za-z0-9+/=\s]*$/;
/** A media type as EDM's `Format` takes it; anything else is carried as octets. */
const MEDIA_TYPE = /^[A-Za-z0-9][\w.+-]{0,62}\/[A-Za-z0-9][\w.+-]{0,62}$/;
const OCTETS = "application/octet-stream";
const WHITE = /\s+/g;

/**
 * The evidence documents of a 0302 stream, as events. Throws {@linkcode NationalEvidenceError}
 * for anything that is not a well-formed 0302 with evidence (or a deferred one).
 */
export async function* nationalEvidence(
  body: ReadableStream<Uint8Array>,
  options: NationalEvidenceOptions = {},
): AsyncGenerator<NationalEvidenceEvent> {
  const reader = new Reader(options.maxMarkupBytes ?? 1024 * 1024);
  const text = body.pipeThrough(new TextDecoderStream("utf-8", { fatal: true }));
  try {
    for await (const chunk of text) {
      reader.push(chunk);
      yield* reader.drain();
    }
  } catch (error) {
    if (error instanceof NationalEvidenceError) throw error;
    if (error instanceof TypeError) {
      throw new NationalEvidenceError("The provider's answer is not UTF-8");
    }
    throw error;
  }
  reader.close();
  yield* reader.drain();
}

class Reader {
  readonly #parser = new SaxesParser({ xmlns: true });
  readonly #maxMarkup: number;
  #events: NationalEvidenceEvent[] = [];
  /** Local names of the open elements. */
  readonly #open: string[] = [];
  #markup = 0;
  /** The text of the element being captured (a format, a time), or null. */
  #capture: string | null = null;
  #format = "";
  #items = 0;
  #deferred = false;
  /** Inside an evidence document's content: bytes go past the parser. */
  #diverting = false;
  /** Between an evidence document's start and end tags: nothing but its base64 may come. */
  #inItem = false;
  #itemChars = 0;

  constructor(maxMarkup: number) {
    this.#maxMarkup = maxMarkup;
    const parser = this.#parser;
    parser.on("doctype", () => this.#fail("A document type declaration is not allowed"));
    parser.on("opentag", (tag) => this.#opened(tag as SaxesTagNS));
    parser.on("closetag", (tag) => this.#closed(tag as SaxesTagNS));
    parser.on("text", (text) => this.#textOf(text));
    parser.on("cdata", (text) => this.#inItem ? this.#markupInItem() : this.#textOf(text));
    parser.on("comment", () => this.#inItem && this.#markupInItem());
    parser.on("processinginstruction", () => this.#inItem && this.#markupInItem());
  }

  push(chunk: string): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#diverting) {
        const lt = chunk.indexOf("<", at);
        const end = lt === -1 ? chunk.length : lt;
        this.#data(chunk.slice(at, end));
        if (lt === -1) return;
        // The evidence ends: the parser sees an empty element and its end tag.
        this.#diverting = false;
        at = lt;
        continue;
      }
      const gt = chunk.indexOf(">", at);
      const end = gt === -1 ? chunk.length : gt + 1;
      this.#markup += end - at;
      if (this.#markup > this.#maxMarkup) {
        this.#fail(`The provider's 0302 has more than ${this.#maxMarkup} characters of markup`);
      }
      this.#write(chunk.slice(at, end));
      at = end;
    }
  }

  close(): void {
    if (this.#diverting) this.#fail("The provider's 0302 ends inside an evidence document");
    try {
      this.#parser.close();
    } catch (error) {
      this.#fail(`The provider's 0302 is not well-formed XML: ${message(error)}`);
    }
    if (this.#open.length > 0 || (this.#items === 0 && !this.#deferred)) {
      this.#fail("The provider's 0302 carries no evidence");
    }
  }

  /** The events found since the last drain, in order. */
  drain(): NationalEvidenceEvent[] {
    const found = this.#events;
    this.#events = [];
    return found;
  }

  #write(markup: string): void {
    try {
      this.#parser.write(markup);
    } catch (error) {
      if (error instanceof NationalEvidenceError) throw error;
      this.#fail(`The provider's 0302 is not well-formed XML: ${message(error)}`);
    }
  }

  #opened(tag: SaxesTagNS): void {
    const name = tag.local;
    if (this.#open.length === 0 && name !== ROOT) {
      this.#fail(`Expected a ${ROOT} from the provider, got "${name.slice(0, 80)}"`);
    }
    if (this.#deferred) this.#fail("The provider's deferred 0302 carries more");
    if (this.#inItem) this.#markupInItem();
    const parent = this.#open.at(-1);
    this.#open.push(name);
    if (name === "RegistryObjectList") this.#format = "";
    if ((name === "Format" && parent === "Distribution") || name === "ResponseAvailableDateTime") {
      this.#capture = "";
    }
    if (name === "RepositoryItem" && parent === "RepositoryItem") {
      this.#items++;
      this.#itemChars = 0;
      const format = MEDIA_TYPE.test(this.#format) ? this.#format : OCTETS;
      this.#events.push({ type: "item", format });
      if (!tag.isSelfClosing) this.#diverting = this.#inItem = true;
    }
  }

  #closed(tag: SaxesTagNS): void {
    const name = tag.local;
    const parent = this.#open.at(-2);
    this.#open.pop();
    if (name === "Format" && parent === "Distribution") this.#format = this.#captured();
    if (name === "ResponseAvailableDateTime") {
      this.#deferred = true;
      this.#events.push({ type: "deferred", availableAt: this.#captured() });
    }
    if (name === "RepositoryItem" && parent === "RepositoryItem") {
      this.#inItem = false;
      if (this.#itemChars === 0) this.#fail("The provider's 0302 carries an empty evidence");
      this.#events.push({ type: "item-end" });
    }
  }

  #textOf(text: string): void {
    if (this.#inItem) {
      if (text.trim() !== "") this.#markupInItem();
      return;
    }
    if (this.#capture !== null) this.#capture += text;
  }

  #captured(): string {
    const text = (this.#capture ?? "").trim();
    this.#capture = null;
    return text;
  }

  #markupInItem(): never {
    this.#fail("The evidence in the provider's 0302 is not plain base64");
  }

  #data(text: string): void {
    if (!BASE64.test(text)) {
      this.#fail("The evidence in the provider's 0302 is not plain base64");
    }
    const base64 = text.replace(WHITE, "");
    if (base64.length === 0) return;
    this.#itemChars += base64.length;
    this.#events.push({ type: "data", base64 });
  }

  #fail(reason: string): never {
    throw new NationalEvidenceError(reason);
  }
}

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0]!.slice(0, 200);
}
