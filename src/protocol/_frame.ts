/**
 * Spool frames: `u32 length | u32 CRC-32 of the payload | payload`, little-endian, the payload
 * one entry as UTF-8 JSON. A frame cut short by a crash, or whose checksum does not match,
 * ends the readable part of a file: nothing after it was ever acknowledged.
 *
 * @module
 */
import { crc32 } from "node:zlib";
import type { ProtocolEntry } from "./_entry.ts";

/** Bytes before the payload. */
export const FRAME_HEADER = 8;
/** No entry comes near this; a larger length is a corrupt header. */
export const MAX_PAYLOAD = 64 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes entries as consecutive frames in one buffer. */
export function encodeFrames(entries: readonly ProtocolEntry[]): Uint8Array {
  const payloads = entries.map((entry) => encoder.encode(JSON.stringify(entry)));
  const size = payloads.reduce((sum, p) => sum + FRAME_HEADER + p.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const payload of payloads) {
    if (payload.length > MAX_PAYLOAD) {
      throw new RangeError(`Cannot spool an entry of ${payload.length} bytes: over ${MAX_PAYLOAD}`);
    }
    view.setUint32(offset, payload.length, true);
    view.setUint32(offset + 4, crc32(payload), true);
    out.set(payload, offset + FRAME_HEADER);
    offset += FRAME_HEADER + payload.length;
  }
  return out;
}

/** What {@linkcode decodeFrames} found. */
export interface DecodedFrames {
  entries: ProtocolEntry[];
  /** Offset just after the last good frame. */
  end: number;
  /**
   * Why decoding stopped before the end of the buffer: `incomplete` (the buffer ends inside a
   * frame: a torn write, or more to read), `checksum` (a frame's CRC does not match) or
   * `corrupt` (an impossible length or a payload that is not an entry); null when every byte
   * was a good frame, or `max` entries were decoded.
   */
  stop: "incomplete" | "checksum" | "corrupt" | null;
}

/** Decodes consecutive frames from the start of `bytes`, at most `max` of them. */
export function decodeFrames(bytes: Uint8Array, max = Infinity): DecodedFrames {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: ProtocolEntry[] = [];
  let offset = 0;
  while (offset < bytes.length && entries.length < max) {
    if (bytes.length - offset < FRAME_HEADER) return { entries, end: offset, stop: "incomplete" };
    const length = view.getUint32(offset, true);
    if (length === 0 || length > MAX_PAYLOAD) return { entries, end: offset, stop: "corrupt" };
    if (bytes.length - offset - FRAME_HEADER < length) {
      return { entries, end: offset, stop: "incomplete" };
    }
    const payload = bytes.subarray(offset + FRAME_HEADER, offset + FRAME_HEADER + length);
    if (crc32(payload) !== view.getUint32(offset + 4, true)) {
      return { entries, end: offset, stop: "checksum" };
    }
    let entry: ProtocolEntry;
    try {
      entry = JSON.parse(decoder.decode(payload));
    } catch {
      return { entries, end: offset, stop: "corrupt" };
    }
    if (typeof entry?.transferId !== "string" || typeof entry.kind !== "string") {
      return { entries, end: offset, stop: "corrupt" };
    }
    entries.push(entry);
    offset += FRAME_HEADER + length;
  }
  return { entries, end: offset, stop: null };
}
