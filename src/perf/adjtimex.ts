// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// adjtimex(2) in read-only mode (modes = 0, no privilege needed) through bun:ffi into libc: the kernel
// clock discipline state behind node_timex_*.

import { dlopen, ptr, toArrayBuffer } from "bun:ffi";
import { constants } from "node:os";
import { decodeTimex, TIMEX_SIZE, type TimexStats } from "./parsers/timex.ts";

type Libc = {
  symbols: {
    adjtimex: (buf: number) => number;
    __errno_location: () => unknown;
  };
};

let libc: Libc | null | undefined;

function load(): Libc | null {
  if (libc !== undefined) return libc;
  try {
    libc = dlopen("libc.so.6", {
      adjtimex: { args: ["ptr"], returns: "i32" },
      __errno_location: { args: [], returns: "ptr" },
    }) as unknown as Libc;
  } catch {
    // no glibc (musl build): timex is unavailable, and the collector says so
    libc = null;
  }
  return libc;
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

/** A failed adjtimex(2) call; `code` is the errno name ("EPERM"), or "ELIBACC" when libc cannot be loaded. */
export class AdjtimexError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Reads the clock state with adjtimex(2) (modes 0: nothing is changed). Throws AdjtimexError. */
export function readTimex(): TimexStats {
  const l = load();
  if (!l) throw new AdjtimexError("ELIBACC", "adjtimex(2): libc.so.6 not loadable");
  const buf = new Uint8Array(TIMEX_SIZE);
  const errno = new Int32Array(toArrayBuffer(l.symbols.__errno_location() as Parameters<typeof toArrayBuffer>[0], 0, 4));
  errno[0] = 0;
  const state = l.symbols.adjtimex(ptr(buf) as unknown as number);
  if (state < 0) {
    const e = errno[0]!;
    const code = ERRNO_NAMES.get(e) ?? (e ? `errno ${e}` : "unknown error");
    throw new AdjtimexError(code, `adjtimex(2) failed: ${code}`);
  }
  return decodeTimex(buf, state);
}
