// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// glibc functions through bun:ffi, loaded on first use, for the host reads that have a fallback without them.

import { dlopen, type FFIFunction } from "bun:ffi";

/**
 * A loader of libc.so.6's `symbols`, typed as `L` (the callers' own signatures): it loads once, on the
 * first call, and returns null from then on where libc cannot be loaded (no glibc: a musl build).
 */
export function lazyLibc<L>(symbols: Record<string, FFIFunction>): () => L | null {
  let lib: L | null | undefined;
  return () => {
    if (lib !== undefined) return lib;
    try {
      lib = dlopen("libc.so.6", symbols) as unknown as L;
    } catch {
      // no glibc (musl build): the caller falls back (and check says so)
      lib = null;
    }
    return lib;
  };
}
