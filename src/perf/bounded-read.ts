// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// readBounded(): a synchronous whole-file read that refuses files that could block (FIFOs, sockets,
// devices) without reading them, and stops at a byte cap instead of growing without limit.

import * as fs from "node:fs";

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

function fileKind(s: fs.Stats): string {
  if (s.isFIFO()) return "fifo";
  if (s.isSocket()) return "socket";
  if (s.isCharacterDevice()) return "character device";
  if (s.isBlockDevice()) return "block device";
  if (s.isDirectory()) return "directory";
  return "special file";
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
