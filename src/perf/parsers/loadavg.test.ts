// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the /proc/loadavg and /proc/uptime parsers, including the original's error messages.

import { describe, expect, test } from "bun:test";
import { parseLoadavg, parseUptime } from "./loadavg.ts";

describe("parseLoadavg (acceptance 6, 7)", () => {
  // text; load1, load5, load15, running, total, lastPid
  const whole: [string, [number, number, number, number, number, number]][] = [
    ["0.50 1.25 2.75 2/1234 12345\n", [0.5, 1.25, 2.75, 2, 1234, 12345]],
    ["999.99 888.88 777.77 9999/99999 999999", [999.99, 888.88, 777.77, 9999, 99999, 999999]],
  ];
  test.each(whole)("valid, also very large: %p", (text, [load1, load5, load15, running, total, lastPid]) => {
    expect(parseLoadavg(text)).toEqual({ load1, load5, load15, running, total, lastPid });
  });
  test("zero, single digit, extra whitespace", () => {
    expect(parseLoadavg("0.00 0.00 0.00 0/0 0").total).toBe(0);
    expect(parseLoadavg("1 2 3 1/9 7").load15).toBe(3);
    expect(parseLoadavg("  0.50\t 1.25   2.75  2/1234   12345  \n").lastPid).toBe(12345);
  });
  test("errors carry the original's messages", () => {
    expect(() => parseLoadavg("0.50 1.25")).toThrow("got 2 fields, expected 5");
    expect(() => parseLoadavg("invalid 1.25 2.75 2/1234 12345")).toThrow("invalid syntax");
    expect(() => parseLoadavg("0.50 1.25 2.75 invalid_procs 12345")).toThrow("unexpected process count format");
    expect(() => parseLoadavg("0.50 1.25 2.75 2/1234 invalid_pid")).toThrow("invalid syntax");
    expect(() => parseLoadavg("   \n\t ")).toThrow("got 0 fields, expected 5");
  });
});

test("parseUptime needs exactly 2 fields", () => {
  expect(parseUptime("1234.56 5678.90\n")).toEqual({ uptime: 1234.56, idle: 5678.9 });
  expect(parseUptime("")).toBeUndefined();
  expect(parseUptime("1 2 3")).toBeUndefined();
});
