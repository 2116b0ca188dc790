// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of capability checks: parsing CapEff from /proc/<pid>/status and naming missing capabilities.

import { expect, test } from "bun:test";
import { hasCapability, missingCapabilities, parseCapEff } from "./capabilities.ts";

test("root's full mask has every capability", () => {
  const mask = parseCapEff("Name:\tbun\nCapEff:\t000001ffffffffff\n");
  expect(hasCapability(mask, "CAP_BPF")).toBe(true);
  expect(missingCapabilities(mask, ["CAP_BPF", "CAP_PERFMON", "CAP_SYSLOG"])).toEqual([]);
});

test("an empty mask misses what is required, by name", () => {
  const mask = parseCapEff("CapEff:\t0000000000000000\n");
  expect(missingCapabilities(mask, ["CAP_BPF", "CAP_SYSLOG"])).toEqual(["CAP_BPF", "CAP_SYSLOG"]);
});

test("only CAP_SYSLOG (bit 34)", () => {
  const mask = parseCapEff("CapEff:\t" + (1n << 34n).toString(16).padStart(16, "0") + "\n");
  expect(missingCapabilities(mask, ["CAP_SYSLOG", "CAP_BPF"])).toEqual(["CAP_BPF"]);
});

test("malformed status is an error naming the field", () => {
  expect(() => parseCapEff("Name: x\n")).toThrow("CapEff line not found");
  expect(() => parseCapEff("CapEff: zz\n")).toThrow("CapEff is not hex");
});
