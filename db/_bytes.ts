/**
 * Bytes made into strings, and typed arrays grown: what the COPY reader (db/_copy_binary.ts) and
 * the routes' columns (db/route_columns.ts) share.
 *
 * @module
 */
import { Buffer } from "node:buffer";

const utf8 = new TextDecoder("utf-8", { fatal: true });
/**
 * Node's `Buffer#latin1Slice` (one runtime call, no view object): for ASCII bytes the same
 * string as UTF-8, at a third of `TextDecoder`'s or `String.fromCharCode`'s cost per value.
 */
const latin1Slice = (Buffer.prototype as unknown as {
  latin1Slice(this: Uint8Array, from: number, to: number): string;
}).latin1Slice;

/**
 * The string of the UTF-8 bytes `bytes[from, to)`; ASCII without a decoder.
 *
 * @throws {TypeError} when the bytes are not UTF-8
 */
export function utf8Text(bytes: Uint8Array, from: number, to: number): string {
  for (let i = from; i < to; i++) {
    if (bytes[i]! >= 0x80) return utf8.decode(bytes.subarray(from, to));
  }
  return latin1Slice.call(bytes, from, to);
}

/** A copy of `array` with room for `length` elements. */
export function grown<T extends Int32Array | Uint8Array>(array: T, length: number): T {
  const out = new (array.constructor as new (n: number) => T)(length);
  out.set(array);
  return out;
}
