/**
 * The local spool: where protocol entries wait, durable, while PostgreSQL cannot take them.
 * Append-only segment files of checksummed frames (see `_frame.ts`) in one directory, written
 * and fsynced a group at a time, read back oldest first, and removed (or, for the segment
 * being written, truncated) only after their entries were committed to PostgreSQL.
 *
 * One process per directory: a `LOCK` file is held while the spool is open. Within it, one
 * task appends while another reads and commits: appending and freeing files are serialised,
 * and a read only sees what a finished append wrote.
 *
 * @module
 */
import type { ProtocolEntry } from "./_entry.ts";
import { decodeFrames, encodeFrames } from "./_frame.ts";
import { Serial } from "./_waker.ts";
import { createLogger } from "../log.ts";

/** Options for {@linkcode Spool.open}. */
export interface SpoolOptions {
  /** A segment past this size is closed and a new one started; default 64 MiB. */
  segmentMaxBytes?: number;
  /** Told about damaged files found at open; default: logged as a warning by a default logger. */
  onWarning?: (message: string) => void;
}

const SEGMENT = /^protocol-(\d{16})\.spool$/;
const READ_CHUNK = 1024 * 1024;

function segmentName(n: number): string {
  return `protocol-${String(n).padStart(16, "0")}.spool`;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await file.write(bytes.subarray(done));
}

async function readAt(path: string, offset: number, length: number): Promise<Uint8Array> {
  using file = await Deno.open(path, { read: true });
  await file.seek(offset, Deno.SeekMode.Start);
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = await file.read(buf.subarray(done));
    if (n === null) break;
    done += n;
  }
  return buf.subarray(0, done);
}

// A new file's name is durable only once its directory is synced.
async function syncDir(dir: string): Promise<void> {
  using handle = await Deno.open(dir, { read: true });
  await handle.sync();
}

/** The spool of one Lotse process. */
export class Spool {
  readonly dir: string;
  #lock: Deno.FsFile;
  #segmentMaxBytes: number;
  /** Segment numbers, oldest first; the last one is being written. */
  #segments: number[];
  #sizes = new Map<number, number>();
  #writer: Deno.FsFile;
  #readOffset = 0;
  #pending: number;
  #serial = new Serial();

  private constructor(
    dir: string,
    lock: Deno.FsFile,
    segments: number[],
    sizes: Map<number, number>,
    writer: Deno.FsFile,
    pending: number,
    segmentMaxBytes: number,
  ) {
    this.dir = dir;
    this.#lock = lock;
    this.#segments = segments;
    this.#sizes = sizes;
    this.#writer = writer;
    this.#pending = pending;
    this.#segmentMaxBytes = segmentMaxBytes;
  }

  /**
   * Opens (creating when needed) the spool in `dir`, cutting a torn last frame off every
   * segment: it was never acknowledged.
   */
  static async open(dir: string, options: SpoolOptions = {}): Promise<Spool> {
    const warn = options.onWarning ?? ((m: string) => createLogger().warn(m));
    await Deno.mkdir(dir, { recursive: true });
    const lock = await Deno.open(`${dir}/LOCK`, { create: true, write: true });
    if (!await lock.tryLock(true)) {
      lock.close();
      throw new Error(`Cannot open spool "${dir}": another process holds it`);
    }
    try {
      const segments: number[] = [];
      for await (const entry of Deno.readDir(dir)) {
        const match = SEGMENT.exec(entry.name);
        if (entry.isFile && match) segments.push(Number(match[1]));
      }
      segments.sort((a, b) => a - b);
      const sizes = new Map<number, number>();
      let pending = 0;
      for (const n of segments) {
        const path = `${dir}/${segmentName(n)}`;
        const bytes = await Deno.readFile(path);
        const { entries, end, stop } = decodeFrames(bytes);
        if (end < bytes.length) {
          if (stop !== "incomplete") {
            const kept = `${path}.damaged-${Date.now()}`;
            await Deno.writeFile(kept, bytes.subarray(end));
            warn(
              `Spool segment "${path}" is damaged after byte ${end} (${stop}): kept in "${kept}"`,
            );
          }
          await Deno.truncate(path, end);
        }
        sizes.set(n, end);
        pending += entries.length;
      }
      if (segments.length === 0) segments.push(1);
      const current = segments.at(-1)!;
      const writer = await Deno.open(`${dir}/${segmentName(current)}`, {
        create: true,
        append: true,
      });
      if (!sizes.has(current)) {
        sizes.set(current, 0);
        await syncDir(dir);
      }
      return new Spool(
        dir,
        lock,
        segments,
        sizes,
        writer,
        pending,
        options.segmentMaxBytes ?? 64 * 1024 * 1024,
      );
    } catch (error) {
      lock.close();
      throw error;
    }
  }

  /** Entries in the spool not yet committed to PostgreSQL. */
  get pending(): number {
    return this.#pending;
  }

  /** Segment files on disk. */
  get segments(): number {
    return this.#segments.length;
  }

  /** Appends entries and fsyncs: when this resolves, they survive a crash. */
  append(entries: readonly ProtocolEntry[]): Promise<void> {
    return this.#serial.run(() => this.#append(entries));
  }

  async #append(entries: readonly ProtocolEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const bytes = encodeFrames(entries);
    let current = this.#segments.at(-1)!;
    if (this.#sizes.get(current)! >= this.#segmentMaxBytes) {
      this.#writer.close();
      current += 1;
      this.#writer = await Deno.open(`${this.dir}/${segmentName(current)}`, {
        create: true,
        append: true,
      });
      this.#segments.push(current);
      this.#sizes.set(current, 0);
      await syncDir(this.dir);
    }
    try {
      await writeAll(this.#writer, bytes);
      await this.#writer.sync();
    } catch (error) {
      // Cut what may have been written, so a later append does not follow a torn frame.
      await this.#writer.truncate(this.#sizes.get(current)!).catch(() => {});
      throw error;
    }
    this.#sizes.set(current, this.#sizes.get(current)! + bytes.length);
    this.#pending += entries.length;
  }

  /**
   * Reads up to `max` of the oldest entries, without removing them; hand the result to
   * {@linkcode Spool.commit} once they are in PostgreSQL.
   */
  async read(max: number): Promise<{ entries: ProtocolEntry[]; next: number }> {
    await this.#serial.run(() => this.#dropFinished());
    const segment = this.#segments[0]!;
    const size = this.#sizes.get(segment)!;
    if (this.#readOffset >= size) {
      if (this.#segments.length === 1) this.#pending = 0;
      return { entries: [], next: this.#readOffset };
    }
    const bytes = await readAt(
      `${this.dir}/${segmentName(segment)}`,
      this.#readOffset,
      Math.min(READ_CHUNK, size - this.#readOffset),
    );
    const { entries, end, stop } = decodeFrames(bytes, max);
    if (entries.length === 0 && stop !== null) {
      throw new Error(`Cannot read spool segment "${segmentName(segment)}": ${stop} frame`);
    }
    return { entries, next: this.#readOffset + end };
  }

  /** Marks what {@linkcode Spool.read} returned as committed; frees finished files. */
  async commit(read: { entries: readonly ProtocolEntry[]; next: number }): Promise<void> {
    this.#readOffset = read.next;
    this.#pending -= read.entries.length;
    await this.#serial.run(() => this.#dropFinished());
  }

  async #dropFinished(): Promise<void> {
    while (this.#segments.length > 1 && this.#readOffset >= this.#sizes.get(this.#segments[0]!)!) {
      const done = this.#segments.shift()!;
      this.#sizes.delete(done);
      this.#readOffset = 0;
      await Deno.remove(`${this.dir}/${segmentName(done)}`);
    }
    const current = this.#segments[0]!;
    const size = this.#sizes.get(current)!;
    if (this.#segments.length === 1 && size > 0 && this.#readOffset >= size) {
      await this.#writer.truncate(0);
      await this.#writer.sync();
      this.#sizes.set(current, 0);
      this.#readOffset = 0;
    }
  }

  /** Closes the files once a running append is done; the content stays for the next open. */
  async close(): Promise<void> {
    await this.#serial.run(() => Promise.resolve());
    this.#writer.close();
    this.#lock.close();
  }
}
