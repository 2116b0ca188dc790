// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Where the agent's memory goes, for /debug/memory on the pprof listener and bench/startup: resident
// pages by mapping (the executable's code, read-only data and embedded modules; anonymous memory;
// shared libraries), the JavaScriptCore heap, and the threads.

import { heapStats } from "bun:jsc";
import * as fs from "node:fs";

export interface MemoryBreakdown {
  /** VmRSS, VmHWM, RssAnon, RssFile from /proc/self/status, in KiB. */
  status: Record<string, number>;
  /** Resident KiB by mapping: exe_text, exe_rodata, exe_data (incl. the embedded modules), anon, libs, other. */
  residentKiB: Record<string, number>;
  /** process.memoryUsage() in bytes. */
  memoryUsage: Record<string, number>;
  /** bun:jsc heapStats: sizes in bytes, and the ten most numerous object types. */
  jsc: { heapSize: number; heapCapacity: number; extraMemorySize: number; objectCount: number; topTypes: Array<[string, number]> };
  /** Thread names (/proc/self/task/N/comm). */
  threads: string[];
}

/** Resident KiB of each kind of mapping in an smaps text. Pure, for tests. */
export function residentByMapping(smaps: string, exe: string): Record<string, number> {
  const out: Record<string, number> = { exe_text: 0, exe_rodata: 0, exe_data: 0, anon: 0, libs: 0, other: 0 };
  let kind = "other";
  for (const line of smaps.split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const [, perms, name] = head as unknown as [string, string, string];
      if (name === exe) kind = perms.includes("x") ? "exe_text" : perms.includes("w") ? "exe_data" : "exe_rodata";
      else if (name === "" || name.startsWith("[heap]") || name.startsWith("[anon")) kind = "anon";
      else if (name.startsWith("/")) kind = "libs";
      else kind = "other";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind]! += Number(rss[1]);
  }
  return out;
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    return `${fallback}: ${(e as NodeJS.ErrnoException).code ?? "error"}`; // not Linux, or /proc hidden
  }
}

export function memoryBreakdown(): MemoryBreakdown {
  const exeName = (() => {
    try {
      return fs.readlinkSync("/proc/self/exe");
    } catch (e) {
      return `unknown (${(e as NodeJS.ErrnoException).code})`;
    }
  })();
  // smaps first: reading it allocates, and status read after it then covers what it counted
  const residentKiB = residentByMapping(readOr("/proc/self/smaps", ""), exeName);
  const status: Record<string, number> = {};
  for (const m of readOr("/proc/self/status", "").matchAll(/^(VmRSS|VmHWM|RssAnon|RssFile|Threads):\s+(\d+)/gm))
    status[m[1]!] = Number(m[2]);
  let threads: string[] = [];
  try {
    threads = fs.readdirSync("/proc/self/task").map((t) => readOr(`/proc/self/task/${t}/comm`, "?").trim());
  } catch (e) {
    threads = [`unknown (${(e as NodeJS.ErrnoException).code})`];
  }
  const h = heapStats();
  const topTypes = Object.entries(h.objectTypeCounts)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10);
  return {
    status,
    residentKiB,
    memoryUsage: { ...process.memoryUsage() },
    jsc: { heapSize: h.heapSize, heapCapacity: h.heapCapacity, extraMemorySize: h.extraMemorySize, objectCount: h.objectCount, topTypes },
    threads,
  };
}
