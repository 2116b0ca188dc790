// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// readBounded(): a synchronous whole-file read that refuses files that could block (FIFOs, sockets,
// devices) without reading them, and stops at a byte cap instead of growing without limit.

import { ptr } from "bun:ffi";
import * as fs from "node:fs";
import { lazyLibc } from "../util/libc.ts";

/** Default per-file cap: far above any procfs/sysfs text file the collectors read (docs/collectors.md "Limits"). */
export const DEFAULT_MAX_FILE_BYTES = 32 * 1024 * 1024;

/** Reads that fit go here first (per thread: each Worker has its own module instance; readBounded is synchronous). */
const SCRATCH_BYTES = 64 * 1024;
const SCRATCH = Buffer.allocUnsafe(SCRATCH_BYTES);

/** An error with a Node-style code, so callers tell "refused" and "too large" from ENOENT/EACCES. */
export class HostFileError extends Error {
  constructor(
    readonly code: "ENOTREG" | "EFBIG",
    message: string,
  ) {
    super(message);
    this.name = "HostFileError";
  }
}

export function fileKind(s: Pick<fs.Stats, "isFIFO" | "isSocket" | "isCharacterDevice" | "isBlockDevice" | "isDirectory">): string {
  if (s.isFIFO()) return "fifo";
  if (s.isSocket()) return "socket";
  if (s.isCharacterDevice()) return "character device";
  if (s.isBlockDevice()) return "block device";
  if (s.isDirectory()) return "directory";
  return "special file";
}

type NativeFs = {
  symbols: {
    open: (path: Uint8Array, flags: number) => number;
    read: (fd: number, buf: number, count: number) => number | bigint;
    close: (fd: number) => number;
    statx: (dirfd: number, path: Uint8Array, flags: number, mask: number, buf: Uint8Array) => number;
  };
};

/** libc's open/statx/read/close: the same system calls as node:fs, without its per-call overhead (null without glibc >= 2.28). */
const nativeFs = lazyLibc<NativeFs>({
  open: { args: ["ptr", "i32"], returns: "i32" },
  read: { args: ["i32", "ptr", "u64"], returns: "i64" },
  close: { args: ["i32"], returns: "i32" },
  statx: { args: ["i32", "ptr", "i32", "u32", "ptr"], returns: "i32" },
});
const O_NONBLOCK = fs.constants.O_NONBLOCK;
const O_CLOEXEC = 0o2000000;
const AT_EMPTY_PATH = 0x1000;
const STATX_TYPE_SIZE = 0x1 | 0x200;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const PATH_BYTES = 4096;
const PATH = Buffer.alloc(PATH_BYTES + 1);
const EMPTY_PATH = new Uint8Array(1);
const STATX = new Uint8Array(256);
const STATX_VIEW = new DataView(STATX.buffer);
let scratchAddress = 0;

/**
 * The common case of readBounded with regularOnly, through libc: a regular file that fits the scratch
 * buffer and the cap, read without error. Anything else (an error, another file type, a bigger file)
 * returns undefined and is done again by the node:fs path, which gives the errors their usual codes and
 * messages. The checks are the same: opened non-blocking, statx before any read, bounded.
 */
export function readSmallNative(path: string, maxBytes: number, encoding: BufferEncoding, oneRecord: boolean): string | undefined {
  const lib = nativeFs()?.symbols;
  if (!lib) return undefined;
  const n = PATH.write(path, 0, PATH_BYTES, "utf8");
  if (n >= PATH_BYTES || path.includes("\0")) return undefined;
  PATH[n] = 0;
  const fd = lib.open(PATH, fs.constants.O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return undefined;
  try {
    if (lib.statx(fd, EMPTY_PATH, AT_EMPTY_PATH, STATX_TYPE_SIZE, STATX) !== 0) return undefined;
    if ((STATX_VIEW.getUint16(28, true) & S_IFMT) !== S_IFREG || STATX_VIEW.getBigUint64(40, true) >= SCRATCH_BYTES) return undefined;
    scratchAddress ||= ptr(SCRATCH);
    const limit = Math.min(maxBytes + 1, SCRATCH_BYTES);
    let len = 0;
    for (;;) {
      const got = Number(lib.read(fd, scratchAddress + len, limit - len));
      if (got < 0) return undefined;
      if (got === 0) break;
      len += got;
      if (len === limit) return undefined; // bigger than the buffer or the cap: the node:fs path says which
      if (oneRecord) break;
    }
    return SCRATCH.toString(encoding, 0, len);
  } finally {
    lib.close(fd);
  }
}

/**
 * Reads `path` as text (UTF-8 unless told). With `regularOnly` it opens with O_NONBLOCK (opening a
 * FIFO without a writer would block) and fstats the open file: anything but a regular file is an
 * ENOTREG error naming the file. Without it, the open and reads block like readFileSync. procfs and
 * sysfs report size 0 for most files, so the file is read until EOF; more than `maxBytes` is an
 * EFBIG error naming the file.
 */
export function readBounded(
  path: string,
  maxBytes: number,
  regularOnly: boolean,
  encoding: BufferEncoding = "utf8",
  /** The file is one record (procfs's /proc/<pid>/stat and cgroup; a regular file): a read that does not fill the buffer got all of it. */
  oneRecord = false,
): string {
  if (regularOnly) {
    const text = readSmallNative(path, maxBytes, encoding, oneRecord);
    if (text !== undefined) return text;
  }
  return readBoundedNodeFs(path, maxBytes, regularOnly, encoding, oneRecord);
}

/** readBounded through node:fs only (exported for the tests comparing it with the libc path). */
export function readBoundedNodeFs(
  path: string,
  maxBytes: number,
  regularOnly: boolean,
  encoding: BufferEncoding = "utf8",
  oneRecord = false,
): string {
  const fd = fs.openSync(path, regularOnly ? fs.constants.O_RDONLY | fs.constants.O_NONBLOCK : fs.constants.O_RDONLY);
  try {
    const st = fs.fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read '${path}'`), { code: "EISDIR" });
    if (regularOnly && !st.isFile())
      throw new HostFileError("ENOTREG", `${path} is a ${fileKind(st)}, not a regular file: not read (it could block)`);
    // Small files (nearly every procfs, sysfs and cgroupfs file) are read into this thread's scratch
    // buffer: the returned string is a copy, so no buffer is allocated per file.
    const cap = maxBytes + 1;
    let buf = st.size < SCRATCH_BYTES ? SCRATCH : Buffer.allocUnsafe(Math.min(cap, st.size + 1));
    let limit = Math.min(cap, buf.length);
    let len = 0;
    for (;;) {
      if (len === limit) {
        if (len > maxBytes) break;
        const bigger = Buffer.allocUnsafe(Math.min(cap, buf.length * 2));
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
        limit = buf.length;
      }
      const n = fs.readSync(fd, buf, len, limit - len, null);
      if (n === 0) break;
      len += n;
      if (oneRecord && len < limit) break;
    }
    if (len > maxBytes) throw new HostFileError("EFBIG", `${path} is larger than the ${maxBytes}-byte read cap: not read`);
    return buf.toString(encoding, 0, len);
  } finally {
    fs.closeSync(fd);
  }
}
