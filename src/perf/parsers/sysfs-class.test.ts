// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the sysfs class helpers: numbered directory names, signed/unsigned attributes, word lists.

import { expect, test } from "bun:test";
import { numberedName, parseSysfsI64, parseSysfsString, parseSysfsUnsigned, parseSysfsWords } from "./sysfs-class.ts";

test("numbered directory names", () => {
  expect(numberedName("thermal_zone", "thermal_zone10")).toBe("10");
  expect(numberedName("cooling_device", "cooling_device0")).toBe("0");
  expect(numberedName("mc", "mc")).toBeUndefined();
  expect(numberedName("csrow", "csrowX")).toBeUndefined();
  expect(numberedName("mc", "power")).toBeUndefined();
});

test("attributes", () => {
  expect(parseSysfsI64("-5000\n", "temp")).toBe(-5000n);
  expect(() => parseSysfsI64("\n", "/sys/class/thermal/thermal_zone0/temp")).toThrow("thermal_zone0/temp: expected an integer");
  expect(parseSysfsUnsigned("7\n", "ce_count")).toBe(7n);
  expect(() => parseSysfsUnsigned("-1\n", "/sys/devices/system/edac/mc/mc0/ce_count")).toThrow(
    "mc0/ce_count: expected an unsigned integer",
  );
  expect(parseSysfsString("x86_pkg_temp\n")).toBe("x86_pkg_temp");
  expect(parseSysfsWords("bond0 bond1\n")).toEqual(["bond0", "bond1"]);
  expect(parseSysfsWords("\n")).toEqual([]);
});
