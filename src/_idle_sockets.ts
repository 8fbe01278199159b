/**
 * Finds the sockets the HTTP listener accepted and how long each has been silent, through the
 * kernel (Linux only): `Deno.serve` exposes neither its connections nor a header-read or
 * keep-alive timeout (denoland/deno#3515), so Lotse looks at its own descriptors from the
 * outside. For every descriptor in `/proc/self/fd` (listed through libc as well: Deno lets
 * only `--allow-all` read that directory) it asks libc (FFI) for the local and peer address
 * (`getsockname`, `getpeername`) and for `TCP_INFO`, whose `tcpi_last_data_sent`
 * counts the milliseconds since the last byte was sent on it (or since it was accepted), and
 * shuts a chosen one down (`shutdown(2)`, both directions). The runtime then sees the end of
 * the stream, closes the connection and frees the descriptor itself: Lotse never closes a
 * descriptor it does not own, so no number can be reused under the runtime.
 *
 * Each descriptor is looked at and shut down in one synchronous step: the runtime accepts and
 * closes connections on this same thread, so a descriptor cannot change its socket between
 * the look and the shutdown. `shed()` ranks every connection first and shuts down the
 * longest idle; it looks at each again, in the step of its shutdown, since the ranking pass
 * yielded to the event loop. A scan yields to the event loop every `SCAN_CHUNK` descriptors,
 * so thousands of connections never stall the requests being answered (about 4-7 µs each).
 *
 * @example
 * ```ts
 * const sockets = openIdleSockets();
 * if (sockets !== null) {
 *   await sockets.scan(8080, (socket) => socket.silentMs > 10_000);
 * }
 * ```
 *
 * @module
 */

const AF_INET = 2;
const AF_INET6 = 10;
const IPPROTO_TCP = 6;
const TCP_INFO = 11;
const SHUT_RDWR = 2;
/** `struct tcp_info` up to `tcpi_bytes_received` (linux/tcp.h); the kernel fills what it has. */
const TCP_INFO_BYTES = 136;
const LAST_DATA_SENT = 44;
const LAST_DATA_RECV = 52;
const BYTES_ACKED = 120;

/** One accepted connection, as the kernel sees it. */
export interface AcceptedSocket {
  /** The client's port (the key of per-connection state in the request path). */
  readonly peerPort: number;
  /** Milliseconds since the last byte was sent on it, or since it was accepted. */
  readonly silentMs: number;
  /** Milliseconds since the last byte was received on it, or since it was accepted. */
  readonly quietMs: number;
  /** Whether anything sent on it was ever acknowledged (false: not one response yet). */
  readonly answered: boolean;
}

/** What one scan saw. */
export interface ScanResult {
  /** Descriptors open in the process. */
  readonly descriptors: number;
  /** Connections accepted on the port. */
  readonly connections: number;
  /** Connections shut down because `cut` said so. */
  readonly cut: number;
}

/** The kernel's view of the listener's connections. */
export interface IdleSockets {
  /**
   * Visits every connection accepted on local `port` and shuts down those for which `cut`
   * returns true.
   */
  scan(port: number, cut: (socket: AcceptedSocket) => boolean): Promise<ScanResult>;
  /**
   * Shuts down at most `count` connections accepted on `port`, those idle longest first, by
   * `idleMs`: how long a connection has been idle, or null to keep it whatever its idle time.
   * Each is looked at again right before its shutdown (the runtime may have closed it and
   * reused its number meanwhile). Resolves to how many it shut down.
   */
  shed(
    port: number,
    count: number,
    idleMs: (socket: AcceptedSocket) => number | null,
  ): Promise<number>;
  /** Counts the process's open descriptors (null where they cannot be listed). */
  count(): number | null;
}

const symbols = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  getdents64: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
} as const;

/**
 * Where glibc's `libc.so.6` lives on Debian, Ubuntu and Red Hat for x86-64 and arm64 (the
 * container allows FFI for exactly these paths), then the loader's own search.
 */
export const LIBC_PATHS: readonly string[] = [
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/lib/x86_64-linux-gnu/libc.so.6",
  "/usr/lib/aarch64-linux-gnu/libc.so.6",
  "/lib/aarch64-linux-gnu/libc.so.6",
  "/usr/lib64/libc.so.6",
  "/lib64/libc.so.6",
  "libc.so.6",
];
/** `struct linux_dirent64`: ino (8 bytes), off (8), reclen (2), type (1), then the name. */
const DIRENT_RECLEN = 16;
const DIRENT_NAME = 19;
const O_CLOEXEC = 0o2000000;
const ENTRIES_BYTES = 64n * 1024n;
const FD_DIRECTORY = new TextEncoder().encode("/proc/self/fd\0");
/** Descriptors looked at between two turns of the event loop. */
const SCAN_CHUNK = 256;

/**
 * Opens libc with `symbols` from the first of {@linkcode LIBC_PATHS} that FFI is allowed for and
 * that loads, or null.
 */
export function openLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S> | null {
  for (const path of LIBC_PATHS) {
    if (Deno.permissions.querySync({ name: "ffi", path }).state !== "granted") continue;
    try {
      return Deno.dlopen(path, symbols);
    } catch { /* not here */ }
  }
  return null;
}

/**
 * Opens libc and checks that this process can list its descriptors; null where it cannot
 * (not Linux, no FFI permission, no `/proc`): the caller then has no idle timeouts and says so.
 */
export function openIdleSockets(): IdleSockets | null {
  if (Deno.build.os !== "linux") return null;
  const libc = openLibc(symbols);
  if (libc === null) return null;
  const { open, getdents64, close, getsockname, getpeername, getsockopt, shutdown } = libc.symbols;
  // Entries are read into this buffer (Deno allows reading libc's pointers only with FFI
  // for everything, so no `readdir`): a name is at most "1048575" and NUL.
  const entries = new Uint8Array(Number(ENTRIES_BYTES));
  const entriesView = new DataView(entries.buffer);

  /** The open descriptors, or null where `/proc/self/fd` cannot be read. */
  const descriptors = (): number[] | null => {
    const dir = open(FD_DIRECTORY, O_CLOEXEC);
    if (dir < 0) return null;
    const fds: number[] = [];
    try {
      for (let n = Number(getdents64(dir, entries, ENTRIES_BYTES)); n > 0;) {
        for (let at = 0; at < n; at += entriesView.getUint16(at + DIRENT_RECLEN, true)) {
          let fd = 0;
          let digits = 0;
          for (let i = at + DIRENT_NAME; entries[i] !== 0; i++, digits++) {
            fd = fd * 10 + entries[i]! - 48;
          }
          // "." and ".." are not numbers.
          if (digits > 0 && entries[at + DIRENT_NAME] !== 46) fds.push(fd);
        }
        n = Number(getdents64(dir, entries, ENTRIES_BYTES));
      }
    } finally {
      close(dir);
    }
    // The directory's own descriptor was listed too.
    return fds.filter((fd) => fd !== dir);
  };
  if (descriptors() === null) {
    libc.close();
    return null;
  }
  const address = new Uint8Array(128);
  const addressLength = new Uint32Array(1);
  const addressLengthBytes = new Uint8Array(addressLength.buffer);
  const info = new Uint8Array(TCP_INFO_BYTES);
  const infoView = new DataView(info.buffer);
  const infoLength = new Uint32Array(1);
  const infoLengthBytes = new Uint8Array(infoLength.buffer);

  /** The port of an IPv4 or IPv6 address just written to `address`, or -1. */
  const portOf = (): number => {
    const family = address[0]! | (address[1]! << 8);
    if (family !== AF_INET && family !== AF_INET6) return -1;
    return (address[2]! << 8) | address[3]!;
  };

  /** The connection accepted on local `port` that `fd` is, or null (another descriptor). */
  const inspect = (fd: number, port: number): AcceptedSocket | null => {
    addressLength[0] = address.length;
    if (getsockname(fd, address, addressLengthBytes) !== 0 || portOf() !== port) return null;
    addressLength[0] = address.length;
    // A listener has no peer.
    if (getpeername(fd, address, addressLengthBytes) !== 0) return null;
    const peerPort = portOf();
    if (peerPort < 0) return null;
    infoLength[0] = TCP_INFO_BYTES;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, infoLengthBytes) !== 0) return null;
    return {
      peerPort,
      silentMs: infoView.getUint32(LAST_DATA_SENT, true),
      quietMs: infoView.getUint32(LAST_DATA_RECV, true),
      answered: infoLength[0]! >= BYTES_ACKED + 8 &&
        infoView.getBigUint64(BYTES_ACKED, true) > 0n,
    };
  };
  // Awaited only at a chunk's end: an `await` on every descriptor would suspend the loop for
  // a microtask each time.
  const turnDue = (i: number): boolean => i > 0 && i % SCAN_CHUNK === 0;
  const turn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

  return {
    count() {
      return descriptors()?.length ?? null;
    },
    async scan(port, cut) {
      const fds = descriptors() ?? [];
      let connections = 0;
      let shut = 0;
      for (let i = 0; i < fds.length; i++) {
        if (turnDue(i)) await turn();
        const fd = fds[i]!;
        const socket = inspect(fd, port);
        if (socket === null) continue;
        connections++;
        if (cut(socket) && shutdown(fd, SHUT_RDWR) === 0) shut++;
      }
      return { descriptors: fds.length, connections, cut: shut };
    },
    async shed(port, count, idleMs) {
      if (count <= 0) return 0;
      const fds = descriptors() ?? [];
      const candidates: { fd: number; peerPort: number; idle: number }[] = [];
      for (let i = 0; i < fds.length; i++) {
        if (turnDue(i)) await turn();
        const socket = inspect(fds[i]!, port);
        const idle = socket === null ? null : idleMs(socket);
        if (idle !== null) candidates.push({ fd: fds[i]!, peerPort: socket!.peerPort, idle });
      }
      candidates.sort((a, b) => b.idle - a.idle);
      let shut = 0;
      for (let i = 0; i < candidates.length && shut < count; i++) {
        if (turnDue(i)) await turn();
        const { fd, peerPort } = candidates[i]!;
        // Between the two passes the event loop ran: the descriptor may be another socket now,
        // or the connection may have woken up. Look and shut down in one synchronous step.
        const socket = inspect(fd, port);
        if (socket === null || socket.peerPort !== peerPort || idleMs(socket) === null) continue;
        if (shutdown(fd, SHUT_RDWR) === 0) shut++;
      }
      return shut;
    },
  };
}
