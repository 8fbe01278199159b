/**
 * A larger pipe behind standard output. Lotse writes its log lines synchronously (src/log.ts),
 * so when the reader of its standard output (a container runtime's log driver, a supervisor, a
 * benchmark harness) falls behind and the pipe's 64 KiB fill, the write blocks the event loop
 * until the reader runs again: at 17.8k logged navigation requests per second (235 bytes a line: ~4.2 MB/s)
 * a pipe fills in ~16 ms. On Linux `fcntl(F_SETPIPE_SZ)` lets an unprivileged process have up to
 * `/proc/sys/fs/pipe-max-size` (1 MiB by default): ~250 ms of request lines at that rate.
 * (BENCHMARKS.md, "Session 8, P2 and P6": a held navigation rate with request lines on stalled
 * the event loop far more often than with them off; this takes away one way a reader that falls
 * behind can cause that, not every way.)
 *
 * @module
 */
import { openLibc } from "./_idle_sockets.ts";

const F_SETPIPE_SZ = 1031;
const STDOUT = 1;

const symbols = {
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
} as const;

/** What {@linkcode enlargeStdoutPipe} did. */
export type PipeResult =
  | { readonly enlarged: true; readonly bytes: number }
  | { readonly enlarged: false; readonly why: string };

/**
 * Asks for a pipe of `bytes` behind standard output, never more than an unprivileged process
 * may have (`/proc/sys/fs/pipe-max-size`, or 1 MiB where it cannot be read; also the default).
 * Never throws: standard output that
 * is no pipe (a terminal, a file), another system or no FFI permission leave it as it is.
 */
export function enlargeStdoutPipe(bytes?: number): PipeResult {
  if (Deno.build.os !== "linux") return { enlarged: false, why: "not Linux" };
  let max = 1 << 20;
  const maxFile = "/proc/sys/fs/pipe-max-size";
  if (Deno.permissions.querySync({ name: "read", path: maxFile }).state === "granted") {
    try {
      max = Number(Deno.readTextFileSync(maxFile).trim()) || max;
    } catch { /* no /proc: 1 MiB is Linux's default */ }
  }
  const want = Math.min(bytes ?? max, max);
  const libc = openLibc(symbols);
  if (libc === null) return { enlarged: false, why: "no FFI permission for libc" };
  try {
    const size = libc.symbols.fcntl(STDOUT, F_SETPIPE_SZ, want);
    return size > 0
      ? { enlarged: true, bytes: size }
      : { enlarged: false, why: "standard output is no pipe, or the size was refused" };
  } finally {
    libc.close();
  }
}
