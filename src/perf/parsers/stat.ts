// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parser for /proc/stat: per-CPU times in USER_HZ ticks, total interrupts, context switches, boot time
// and process counts; never throws.

import { fields, lines, parseI32, u64 } from "./num.ts";

/** One cpu line of /proc/stat, in USER_HZ ticks. index is -1 for the aggregate "cpu" line. */
export interface CpuTimes {
  index: number;
  user: bigint;
  nice: bigint;
  system: bigint;
  idle: bigint;
  iowait: bigint;
  irq: bigint;
  softirq: bigint;
  steal: bigint;
  guest: bigint;
  guestNice: bigint;
}

export const CPU_FIELDS = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guestNice"] as const;
export type CpuField = (typeof CPU_FIELDS)[number];

export interface ProcStat {
  /** cpu lines in file order (aggregate first). */
  cpus: CpuTimes[];
  /** First number of the intr line (total interrupts since boot); 0 if absent or bad. */
  intr: bigint;
  ctxt: bigint;
  /** Boot time, seconds since the epoch; undefined if the btime line is missing. */
  btime: bigint | undefined;
  processes: bigint;
  procsRunning: number;
  /**
   * procs_blocked with the original's rule: the line must start with "procs_blocked " (a space) and have
   * exactly 2 fields; parsed as int32, anything else 0.
   */
  procsBlocked: number;
  /** First number of the softirq line. */
  softirq: bigint;
  /** Lines recognised by their key but unusable (too few fields, bad cpu name). */
  malformed: number;
}

/** Parses /proc/stat. Never throws; callers decide whether "no cpu lines" is an error. */
export function parseStat(text: string): ProcStat {
  const out: ProcStat = {
    cpus: [],
    intr: 0n,
    ctxt: 0n,
    btime: undefined,
    processes: 0n,
    procsRunning: 0,
    procsBlocked: 0,
    softirq: 0n,
    malformed: 0,
  };
  let sawIntr = false;
  let sawCtxt = false;
  for (const line of lines(text)) {
    if (line.startsWith("cpu")) {
      const f = fields(line);
      if (f.length < 8) {
        out.malformed++;
        continue;
      }
      const name = f[0]!;
      let index = -1;
      if (name !== "cpu") {
        const rest = name.slice(3);
        if (!/^\d+$/.test(rest)) {
          out.malformed++;
          continue;
        }
        index = Number(rest);
      }
      out.cpus.push({
        index,
        user: u64(f[1]),
        nice: u64(f[2]),
        system: u64(f[3]),
        idle: u64(f[4]),
        iowait: u64(f[5]),
        irq: u64(f[6]),
        softirq: u64(f[7]),
        steal: u64(f[8]),
        guest: u64(f[9]),
        guestNice: u64(f[10]),
      });
      continue;
    }
    if (line.startsWith("procs_blocked")) {
      const f = fields(line);
      if (line.startsWith("procs_blocked ") && f.length === 2) out.procsBlocked = parseI32(f[1]) ?? 0;
      else out.malformed++;
      continue;
    }
    const f = fields(line);
    if (f.length === 0) continue;
    const key = f[0]!;
    if (f.length < 2) {
      if (key === "intr" || key === "ctxt" || key === "btime" || key === "processes" || key === "procs_running" || key === "softirq")
        out.malformed++;
      continue;
    }
    switch (key) {
      case "intr":
        if (!sawIntr) out.intr = u64(f[1]);
        sawIntr = true;
        break;
      case "ctxt":
        if (!sawCtxt) out.ctxt = u64(f[1]);
        sawCtxt = true;
        break;
      case "btime": {
        const v = u64(f[1]);
        out.btime = v;
        break;
      }
      case "processes":
        out.processes = u64(f[1]);
        break;
      case "procs_running":
        out.procsRunning = parseI32(f[1]) ?? 0;
        break;
      case "softirq":
        out.softirq = u64(f[1]);
        break;
    }
  }
  return out;
}
