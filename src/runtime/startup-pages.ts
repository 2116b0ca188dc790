// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Startup touches far more of the executable than the agent runs afterwards (module evaluation,
// option parsing, the initial Kubernetes sync, the eBPF loads): about a third of its resident code
// is never used again. Once startup is over, the agent asks the kernel to reclaim the read-only
// pages of its executable and shared libraries (madvise MADV_PAGEOUT, Linux 5.4+). They are clean
// file pages: the ones still in use fault back in from the file within the next cycles, the rest
// stop counting against the agent's memory (docs/configuration.md "Startup pages", docs/performance.md
// "Seventh session").

import { FFIType, read } from "bun:ffi";
import * as fs from "node:fs";
import type { Logger } from "../log/logger.ts";
import { errorMessage } from "../util/errors.ts";
import { lazyLibc } from "../util/libc.ts";
import type { Component } from "./component.ts";

export interface Mapping {
  start: number;
  length: number;
  path: string;
}

/** MADV_PAGEOUT from <asm-generic/mman-common.h>. */
const MADV_PAGEOUT = 21;
const EINVAL = 22;

/**
 * The mappings of /proc/<pid>/maps text worth releasing: read-only (r--p, r-xp) file mappings of
 * the executable `exe` or of a shared library. Writable mappings hold the process's own data, and
 * other files (the store's database) are not this module's to evict.
 */
export function releasableMappings(maps: string, exe: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of maps.split("\n")) {
    // "start-end perms offset dev inode path": the path may contain spaces, and is last
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+\s+(\/.*)$/.exec(line);
    if (!m) continue;
    const [, from, to, perms, path] = m as unknown as [string, string, string, string, string];
    if (perms[1] !== "-" || perms[3] !== "p") continue;
    if (path !== exe && !/\.so(\.\d+)*$/.test(path)) continue;
    const start = Number.parseInt(from, 16);
    out.push({ start, length: Number.parseInt(to, 16) - start, path });
  }
  return out;
}

type Libc = { symbols: { madvise(addr: number, length: number, advice: number): number; __errno_location(): number } };
const libc = lazyLibc<Libc>({
  madvise: { args: [FFIType.u64, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
});

export interface ReleaseResult {
  mappings: number;
  /** Resident file pages (RssFile) before and after, in bytes. */
  residentBefore: number;
  residentAfter: number;
}

/** Thrown when the kernel has no MADV_PAGEOUT (before 5.4) or libc cannot be loaded. */
export class ReleaseUnsupportedError extends Error {}

/** Releases this process's startup pages now. */
export function releaseStartupPages(procRoot = "/proc"): ReleaseResult {
  const lib = libc();
  if (!lib) throw new ReleaseUnsupportedError("libc.so.6 cannot be loaded (not a glibc system)");
  const residentBefore = residentFileBytes(procRoot);
  const exe = fs.readlinkSync(`${procRoot}/self/exe`);
  const mappings = releasableMappings(fs.readFileSync(`${procRoot}/self/maps`, "utf8"), exe);
  for (const m of mappings) {
    if (lib.symbols.madvise(m.start, m.length, MADV_PAGEOUT) === 0) continue;
    const code = read.i32(lib.symbols.__errno_location() as never, 0);
    if (code === EINVAL) throw new ReleaseUnsupportedError("the kernel has no MADV_PAGEOUT (Linux 5.4 or later)");
    throw new Error(`madvise(MADV_PAGEOUT) of ${m.path} at 0x${m.start.toString(16)} failed: errno ${code}`);
  }
  return { mappings: mappings.length, residentBefore, residentAfter: residentFileBytes(procRoot) };
}

function residentFileBytes(procRoot: string): number {
  const m = /^RssFile:\s+(\d+) kB$/m.exec(fs.readFileSync(`${procRoot}/self/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : Number.NaN;
}

/**
 * A component whose start releases the startup pages once; a failure is logged (it is optional). Run
 * it with startInBackground, `after` the end of startup, as run.ts does.
 */
export function startupPagesComponent(opts: {
  logger: Logger;
  release?: () => ReleaseResult;
}): Component & { released(): ReleaseResult | undefined } {
  const release = opts.release ?? (() => releaseStartupPages());
  let result: ReleaseResult | undefined;
  const MiB = 1024 * 1024;
  return {
    name: "startup-pages",
    required: false,
    async start() {
      try {
        result = release();
      } catch (e) {
        const level = e instanceof ReleaseUnsupportedError ? "info" : "warn";
        opts.logger[level]({ reason: errorMessage(e) }, "startup pages kept");
        return;
      }
      const released = (result.residentBefore - result.residentAfter) / MiB;
      opts.logger.info(
        { mappings: result.mappings, releasedMiB: Math.round(released * 10) / 10, residentFileMiB: Math.round(result.residentAfter / MiB) },
        "startup pages released",
      );
    },
    async stop() {
      // nothing runs after the release
    },
    isReady: () => true,
    released: () => result,
  };
}
