// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The kernel log through syslog(2) (klogctl via bun:ffi into libc), the kernel collector's fallback when
// /dev/kmsg cannot be opened.

import { ptr, toArrayBuffer } from "bun:ffi";
import { constants } from "node:os";
import { errorMessage } from "../util/errors.ts";
import { lazyLibc } from "../util/libc.ts";

/**
 * The kernel log through the syslog(2) system call (glibc `klogctl`), through bun:ffi into libc. Used by
 * the kernel collector when `<dev>/kmsg` cannot be opened (a device cgroup that does not allow the
 * device, as in a Kubernetes pod, or no /dev/kmsg at all): syslog(2) needs no device, only CAP_SYSLOG
 * when kernel.dmesg_restrict=1 (anyone may read when it is 0).
 */

/** SYSLOG_ACTION_READ_ALL: the whole ring as text, without consuming it (other readers are unaffected). */
export const SYSLOG_ACTION_READ_ALL = 3;
/** SYSLOG_ACTION_SIZE_BUFFER: the ring's size in bytes; same permission check as READ_ALL. */
export const SYSLOG_ACTION_SIZE_BUFFER = 10;

type Libc = {
  symbols: {
    klogctl: (type: number, buf: number | null, len: number) => number;
    __errno_location: () => number;
  };
};

/** Null without glibc: the syslog(2) fallback is unavailable, and check says so. */
const load = lazyLibc<Libc>({
  klogctl: { args: ["i32", "ptr", "i32"], returns: "i32" },
  __errno_location: { args: [], returns: "ptr" },
});

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

/** A failed syslog(2) call; `code` is the errno name ("EPERM"), or "ELIBACC" when libc cannot be loaded. */
export class KlogError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function call(l: Libc, type: number, buf: Uint8Array | null, what: string): number {
  const errnoPtr = l.symbols.__errno_location();
  const errno = new Int32Array(toArrayBuffer(errnoPtr as unknown as Parameters<typeof toArrayBuffer>[0], 0, 4));
  errno[0] = 0;
  const n = l.symbols.klogctl(type, buf && buf.byteLength > 0 ? (ptr(buf) as unknown as number) : null, buf ? buf.byteLength : 0);
  if (n < 0) {
    const e = errno[0]!;
    const code = ERRNO_NAMES.get(e) ?? (e ? `errno ${e}` : "unknown error");
    throw new KlogError(code, `syslog(2) ${what} failed: ${code}`);
  }
  return n;
}

/** The kernel log ring's size in bytes (SYSLOG_ACTION_SIZE_BUFFER). Throws KlogError. */
export function klogSize(): number {
  const l = load();
  if (!l) throw new KlogError("ELIBACC", "syslog(2): libc.so.6 not loadable");
  return call(l, SYSLOG_ACTION_SIZE_BUFFER, null, "SIZE_BUFFER");
}

/**
 * Copies as much of the most recent kernel log text as fits into `buf` (SYSLOG_ACTION_READ_ALL:
 * `<prio>[seconds.micros] message` lines, oldest first, the oldest dropped when it does not fit) and
 * returns the byte count. Throws KlogError.
 */
export function klogReadAll(buf: Uint8Array): number {
  const l = load();
  if (!l) throw new KlogError("ELIBACC", "syslog(2): libc.so.6 not loadable");
  return call(l, SYSLOG_ACTION_READ_ALL, buf, "READ_ALL");
}

/** Whether syslog(2) reads work here: `true`, or the errno name of the refusal. Costs one system call. */
export function klogProbe(): true | string {
  try {
    klogSize();
    return true;
  } catch (e) {
    return e instanceof KlogError ? e.code : errorMessage(e);
  }
}
