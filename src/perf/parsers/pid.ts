// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parsers for per-process procfs files used by the process collector: <pid>/stat (full and ticks-only),
// <pid>/status and <pid>/smaps_rollup.

import { fields, lines, parseI64, u64 } from "./num.ts";

/** The fields at the head of /proc/<pid>/stat: pid, the command, then state, ppid, pgrp and session (fields 3-6). */
export interface StatHead {
  pid: number;
  command: string;
  state: string;
  ppid: number;
  pgid: number;
  sid: number;
}

/**
 * Where the command of a /proc/<pid>/stat line stands: between the first '(' and the LAST ')' (it may
 * contain spaces and parentheses). undefined when the line has no such pair.
 */
export function statCommandBounds(text: string): { open: number; close: number } | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  return open < 0 || close < open ? undefined : { open, close };
}

/** /proc/<pid>/stat, the fields the process collector uses. Times in USER_HZ ticks. */
export interface PidStat extends StatHead {
  minorFaults: bigint;
  majorFaults: bigint;
  utime: bigint;
  stime: bigint;
  priority: number;
  nice: number;
  threads: number;
  /** Ticks after boot. */
  startTime: bigint;
  vsizeBytes: bigint;
  rssPages: bigint;
  /** True when the line had all fields up to rss (the original's "full" parse). */
  full: boolean;
}

/**
 * Parses /proc/<pid>/stat. The command is the text between the first '(' and the LAST ')' (it may
 * contain spaces and parentheses). Returns undefined when fewer than 13 fields follow the ')'.
 */
export function parsePidStat(text: string): PidStat | undefined {
  const bounds = statCommandBounds(text);
  if (!bounds) return undefined;
  const { open, close } = bounds;
  const pid = Number(text.slice(0, open).trim());
  const f = fields(text.slice(close + 1));
  if (f.length < 13 || !Number.isInteger(pid)) return undefined;
  const num = (s: string | undefined) => Number(parseI64(s) ?? 0n);
  return {
    pid,
    command: text.slice(open + 1, close),
    state: f[0]!,
    ppid: num(f[1]),
    pgid: num(f[2]),
    sid: num(f[3]),
    minorFaults: u64(f[7]),
    majorFaults: u64(f[9]),
    utime: u64(f[11]),
    stime: u64(f[12]),
    priority: num(f[15]),
    nice: num(f[16]),
    threads: num(f[17]),
    startTime: u64(f[19]),
    vsizeBytes: u64(f[20]),
    rssPages: u64(f[21]),
    full: f.length >= 21,
  };
}

/**
 * The minimal pass over /proc/<pid>/stat: pid and utime + stime in ticks (as a number: exact far beyond
 * any real uptime), without building the full record. undefined when fewer than 13 fields follow ')'.
 */
export function parsePidStatTicks(text: string): { pid: number; ticks: number } | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const pid = parseInt(text, 10);
  if (!Number.isInteger(pid)) return undefined;
  // fields after ')': 0 state ... 11 utime, 12 stime
  let i = close + 1;
  let field = -1;
  let utime = -1;
  let stime = -1;
  const n = text.length;
  while (i < n) {
    while (i < n && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 10)) i++;
    if (i >= n) break;
    field++;
    let j = i;
    while (j < n && text.charCodeAt(j) !== 32 && text.charCodeAt(j) !== 10) j++;
    if (field === 11) utime = Number(text.slice(i, j));
    else if (field === 12) {
      stime = Number(text.slice(i, j));
      break;
    }
    i = j;
  }
  if (field < 12 || !Number.isFinite(utime) || !Number.isFinite(stime) || utime < 0 || stime < 0) return undefined;
  return { pid, ticks: utime + stime };
}

export interface PidStatus {
  name: string;
  threads: number;
  voluntaryCtxt: bigint;
  nonvoluntaryCtxt: bigint;
  /** Real uid (first of the Uid: line), -1 if absent. */
  uid: number;
}

/** Parses /proc/<pid>/status ("Key:\tvalue" lines). */
export function parsePidStatus(text: string): PidStatus {
  const out: PidStatus = { name: "", threads: 0, voluntaryCtxt: 0n, nonvoluntaryCtxt: 0n, uid: -1 };
  for (const line of lines(text)) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const key = line.slice(0, colon);
    const rest = line.slice(colon + 1);
    switch (key) {
      case "Name":
        out.name = rest.trim();
        break;
      case "Threads":
        out.threads = Number(u64(rest.trim()));
        break;
      case "voluntary_ctxt_switches":
        out.voluntaryCtxt = u64(rest.trim());
        break;
      case "nonvoluntary_ctxt_switches":
        out.nonvoluntaryCtxt = u64(rest.trim());
        break;
      case "Uid":
        out.uid = Number(u64(fields(rest)[0]));
        break;
    }
  }
  return out;
}

/** Parses /proc/<pid>/smaps_rollup: bytes of Rss, Pss, Swap and USS (Private_Clean + Private_Dirty). */
export function parseSmapsRollup(text: string): { rss: bigint; pss: bigint; uss: bigint; swap: bigint } {
  let rss = 0n;
  let pss = 0n;
  let pc = 0n;
  let pd = 0n;
  let swap = 0n;
  for (const line of lines(text)) {
    const f = fields(line);
    if (f.length < 2) continue;
    const v = u64(f[1]) * 1024n;
    switch (f[0]) {
      case "Rss:":
        rss = v;
        break;
      case "Pss:":
        pss = v;
        break;
      case "Private_Clean:":
        pc = v;
        break;
      case "Private_Dirty:":
        pd = v;
        break;
      case "Swap:":
        swap = v;
        break;
    }
  }
  return { rss, pss, uss: pc + pd, swap };
}
