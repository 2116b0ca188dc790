// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of kernel version parsing (uname -r and /proc/version forms, rejected forms) and comparison.

import { describe, expect, test } from "bun:test";
import { kernelAtLeast, kernelVersionFromProcVersion, parseKernelVersion } from "./kernel-version.ts";

describe("parseKernelVersion (acceptance case 30)", () => {
  const ok: Array<[string, [number, number, number]]> = [
    ["5.15.0", [5, 15, 0]],
    ["5.15.0-generic", [5, 15, 0]],
    ["5.15", [5, 15, 0]],
    ["4.18.0-348.el8.x86_64", [4, 18, 0]],
    ["6.2.0-26-generic", [6, 2, 0]],
    ["5.10.0rc1", [5, 10, 0]],
  ];
  for (const [input, [major, minor, patch]] of ok) {
    test(input, () => {
      const v = parseKernelVersion(input);
      expect([v.major, v.minor, v.patch]).toEqual([major, minor, patch]);
      expect(v.raw).toBe(input);
    });
  }
  for (const bad of ["5", "v5.15.0", "5.x.0", ""]) {
    test(`rejects ${JSON.stringify(bad)}`, () => expect(() => parseKernelVersion(bad)).toThrow("invalid kernel version"));
  }
  test("IsAtLeast(5,8)", () => {
    for (const v of ["5.8", "6.0", "5.10"]) expect(kernelAtLeast(parseKernelVersion(v), 5, 8)).toBe(true);
    for (const v of ["4.18", "5.4"]) expect(kernelAtLeast(parseKernelVersion(v), 5, 8)).toBe(false);
  });
  test("from /proc/version", () => {
    expect(kernelVersionFromProcVersion("Linux version 6.18.44-fc-v669 (root@x) #1 SMP").minor).toBe(18);
  });
});
