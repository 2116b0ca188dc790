// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the /proc/stat parser: cpu lines (old kernels, gaps, malformed, huge values), intr,
// ctxt, procs_blocked and the live file.

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parseStat } from "./stat.ts";

const BASIC = `cpu  1234 56 789 10000 200 30 40 50 60 70
cpu0 600 30 400 5000 100 15 20 25 30 35
cpu1 634 26 389 5000 100 15 20 25 30 35
intr 123456789 1234 5678
ctxt 987654321
btime 1640995200
processes 12345
procs_running 2
procs_blocked 7
softirq 555 1 2
`;

describe("parseStat cpu lines (acceptance 9, 10)", () => {
  test("basic stats: aggregate first, exact values", () => {
    const s = parseStat(BASIC);
    expect(s.cpus.length).toBe(3);
    expect(s.cpus[0]).toEqual({
      index: -1,
      user: 1234n,
      nice: 56n,
      system: 789n,
      idle: 10000n,
      iowait: 200n,
      irq: 30n,
      softirq: 40n,
      steal: 50n,
      guest: 60n,
      guestNice: 70n,
    });
    expect(s.cpus[1]!.index).toBe(0);
    expect(s.cpus[1]!.user).toBe(600n);
    expect(s.cpus[2]!.index).toBe(1);
    expect(s.cpus[2]!.user).toBe(634n);
    expect(s.btime).toBe(1640995200n);
    expect(s.procsRunning).toBe(2);
    expect(s.procsBlocked).toBe(7);
    expect(s.processes).toBe(12345n);
    expect(s.softirq).toBe(555n);
  });
  test("7-value (old kernel) line leaves steal/guest/guest_nice at 0", () => {
    const c = parseStat("cpu 1 2 3 4 5 6 7\n").cpus[0]!;
    expect([c.steal, c.guest, c.guestNice]).toEqual([0n, 0n, 0n]);
    expect(c.softirq).toBe(7n);
  });
  test("10 CPUs give indices -1,0..9; gaps are kept as is", () => {
    let t = "cpu 1 1 1 1 1 1 1 1 1 1\n";
    for (let i = 0; i < 10; i++) t += `cpu${i} 1 1 1 1 1 1 1 1 1 1\n`;
    expect(parseStat(t).cpus.map((c) => c.index)).toEqual([-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const gaps = "cpu 1 1 1 1 1 1 1\ncpu0 1 1 1 1 1 1 1\ncpu2 1 1 1 1 1 1 1\ncpu5 1 1 1 1 1 1 1\ncpu7 1 1 1 1 1 1 1\n";
    expect(parseStat(gaps).cpus.map((c) => c.index)).toEqual([-1, 0, 2, 5, 7]);
  });
  test("short and malformed cpu lines are skipped and counted", () => {
    const s = parseStat("cpu invalid data here\ncpuX 1 2 3 4 5 6 7\n");
    expect(s.cpus).toEqual([]);
    expect(s.malformed).toBe(2);
    expect(parseStat("").cpus).toEqual([]);
  });
  test("bad numbers become 0, huge values stay exact", () => {
    const c = parseStat("cpu 18446744073709551615 x 3 4 5 6 7 8\n").cpus[0]!;
    expect(c.user).toBe(18446744073709551615n);
    expect(c.nice).toBe(0n);
  });
});

describe("intr and ctxt (acceptance 16)", () => {
  const cases: [string, bigint, bigint][] = [
    ["intr 123456789 1234 5678\nctxt 987654321\n", 123456789n, 987654321n],
    ["intr 18446744073709551615 1 2 3 4 5\nctxt 18446744073709551615\n", 18446744073709551615n, 18446744073709551615n],
    ["intr 9876543210987654\nctxt 8765432109876543\n", 9876543210987654n, 8765432109876543n],
    ["intr invalid_number\nctxt 5\n", 0n, 5n],
    ["intr 5\nctxt invalid\n", 5n, 0n],
    ["intr\nctxt\n", 0n, 0n],
    ["intr\t42\t1\nctxt\t43\n", 42n, 43n],
    ["   intr    7   8  \n  ctxt   9  \n", 7n, 9n],
    ["ctxt 987654321\n", 0n, 987654321n],
    ["intr 11\n", 11n, 0n],
    ["garbage line\n\nintr 1 2\nmore junk here\nctxt 3\n", 1n, 3n],
    ["", 0n, 0n],
  ];
  for (const [text, intr, ctxt] of cases)
    test(JSON.stringify(text).slice(0, 50), () => {
      const s = parseStat(text);
      expect(s.intr).toBe(intr);
      expect(s.ctxt).toBe(ctxt);
    });
  test("a very long intr line uses the first value", () => {
    const t = "intr 42 " + Array.from({ length: 5000 }, (_, i) => i).join(" ") + "\n";
    expect(parseStat(t).intr).toBe(42n);
  });
});

describe("procs_blocked (acceptance 8)", () => {
  const cases: [string, number][] = [
    ["procs_blocked 7", 7],
    ["procs_blocked 10", 10],
    ["procs_blocked 0", 0],
    ["procs_blocked 2147483647", 2147483647],
    ["procs_blocked    15    ", 15],
    ["procs_blocked\t20", 0],
    ["procs_blocked", 0],
    ["procs_blocked 5 extra_value", 0],
    ["procs_blocked -5", -5],
    ["procs_blocked 3.14", 0],
    ["procs_blocked invalid_number", 0],
    ["", 0],
  ];
  for (const [line, want] of cases)
    test(JSON.stringify(line), () => expect(parseStat(`cpu 1 2 3 4 5 6 7\n${line}\n`).procsBlocked).toBe(want));
});

test("the live /proc/stat parses with every CPU", () => {
  const s = parseStat(readFileSync("/proc/stat", "utf8"));
  expect(s.cpus.length).toBeGreaterThanOrEqual(2);
  expect(s.btime).toBeGreaterThan(0n);
  expect(s.malformed).toBe(0);
});
