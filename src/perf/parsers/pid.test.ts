// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the per-process parsers: /proc/<pid>/stat (commands with spaces and parentheses),
// status, smaps_rollup, the ticks-only pass, and the live process.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parsePidStat, parsePidStatTicks, parsePidStatus, parseSmapsRollup } from "./pid.ts";

test("stat with a space in the command (acceptance 20)", () => {
  const s = parsePidStat(
    "1234 (test process) S 1000 1234 1234 0 -1 4194560 1000 0 10 0 500 300 0 0 20 0 2 0 12345 1073741824 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0\n",
  )!;
  expect(s.command).toBe("test process");
  expect(s.state).toBe("S");
  expect([s.ppid, s.pgid, s.sid]).toEqual([1000, 1234, 1234]);
  expect([s.minorFaults, s.majorFaults]).toEqual([1000n, 10n]);
  expect(s.utime + s.stime).toBe(800n);
  expect([s.priority, s.nice, s.threads]).toEqual([20, 0, 2]);
  expect(s.startTime).toBe(12345n);
  expect(s.vsizeBytes).toBe(1073741824n);
  expect(s.rssPages).toBe(2048n);
});

test("command with parentheses uses the last ')'; negative nice; short line rejected", () => {
  const s = parsePidStat("7 (a) (b)) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 39 19 1 0 5 100 3\n")!;
  expect(s.command).toBe("a) (b)");
  expect(s.nice).toBe(19);
  expect(parsePidStat("1 (x) S 1 2 3")).toBeUndefined();
  expect(parsePidStat("garbage")).toBeUndefined();
  expect(parsePidStat("5 (neg) S 1 5 5 0 -1 0 0 0 0 0 1 2 0 0 0 -20 1 0 5 100 3")!.nice).toBe(-20);
});

test("status", () => {
  const s = parsePidStatus(
    "Name:\tbash\nUid:\t1000\t1000\t1000\t1000\nThreads:\t4\nvoluntary_ctxt_switches:\t100\nnonvoluntary_ctxt_switches:\t50\n",
  );
  expect(s).toEqual({ name: "bash", threads: 4, voluntaryCtxt: 100n, nonvoluntaryCtxt: 50n, uid: 1000 });
});

test("smaps_rollup in bytes", () => {
  const r = parseSmapsRollup(
    "55d0-7ffc ---p 00000000 00:00 0  [rollup]\nRss:                1000 kB\nPss:                 800 kB\nPrivate_Clean:       100 kB\nPrivate_Dirty:       200 kB\nSwap:                  0 kB\n",
  );
  expect(r).toEqual({ rss: 1024000n, pss: 819200n, uss: 307200n, swap: 0n });
});

test("live self", () => {
  const s = parsePidStat(readFileSync("/proc/self/stat", "utf8"))!;
  expect(s.pid).toBe(process.pid);
  expect(s.full).toBe(true);
});

test("parsePidStatTicks: utime + stime only, same rules as the full parse", () => {
  expect(
    parsePidStatTicks("1234 (test process) S 1000 1234 1234 0 -1 4194560 1000 0 10 0 500 300 0 0 20 0 2 0 12345 1073741824 2048\n"),
  ).toEqual({ pid: 1234, ticks: 800 });
  expect(parsePidStatTicks("7 (a) (b)) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 39 19 1 0 5 100 3\n")).toEqual({ pid: 7, ticks: 3 });
  expect(parsePidStatTicks("1 (x) S 1 2 3")).toBeUndefined();
  expect(parsePidStatTicks("garbage")).toBeUndefined();
  const live = readFileSync("/proc/self/stat", "utf8");
  const full = parsePidStat(live)!;
  expect(parsePidStatTicks(live)!.ticks).toBe(Number(full.utime + full.stime));
});
