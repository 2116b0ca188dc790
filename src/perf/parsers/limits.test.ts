// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the /proc/<pid>/limits parser: limits with spaces in their names, "unlimited", a line
// without a unit, and a malformed value named by its line.

import { describe, expect, test } from "bun:test";
import { parseProcLimits } from "./limits.ts";

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max stack size            8388608              unlimited            bytes     
Max open files            20000                20000                files     
Max address space         unlimited            unlimited            bytes     
Max realtime priority     0                    0                    
`;

describe("parseProcLimits", () => {
  test("names with spaces, unlimited, units", () => {
    const m = parseProcLimits(LIMITS);
    expect(m.get("Max open files")).toEqual({ soft: 20000n, hard: 20000n, unit: "files" });
    expect(m.get("Max stack size")).toEqual({ soft: 8388608n, hard: undefined, unit: "bytes" });
    expect(m.get("Max address space")).toEqual({ soft: undefined, hard: undefined, unit: "bytes" });
    expect(m.get("Max realtime priority")).toEqual({ soft: 0n, hard: 0n, unit: "" });
  });
  test("empty file gives no limits", () => {
    expect(parseProcLimits("").size).toBe(0);
  });
  test("malformed value names file and line", () => {
    expect(() =>
      parseProcLimits("Max open files            many                 20000                files\n", "/proc/self/limits"),
    ).toThrow('/proc/self/limits line 1: limit "many" is neither a number nor "unlimited"');
  });
  test("the live file parses", () => {
    expect(parseProcLimits(require("node:fs").readFileSync("/proc/self/limits", "utf8")).get("Max open files")?.soft).toBeGreaterThan(0n);
  });
});
