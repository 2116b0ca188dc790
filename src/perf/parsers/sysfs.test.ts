// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the sysfs parsers: cpulists, NUMA distances, I/O schedulers, single values and the
// network interface type rule.

import { expect, test } from "bun:test";
import { interfaceType, parseCpuList, parseDistance, parseScheduler, parseSysfsU64 } from "./sysfs.ts";

test("cpulist (acceptance 22)", () => {
  expect(parseCpuList("0-7\n")).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  expect(parseCpuList("0-3,8,10-11,15")).toEqual([0, 1, 2, 3, 8, 10, 11, 15]);
  expect(parseCpuList("\n")).toEqual([]);
  expect(parseCpuList("x,2,5-3")).toEqual([2]);
});

test("distance, scheduler, single values", () => {
  expect(parseDistance("10 21\n")).toEqual([10, 21]);
  expect(parseDistance("10 x 21")).toEqual([10, 21]);
  expect(parseScheduler("noop deadline [cfq]\n")).toBe("cfq");
  expect(parseScheduler("none\n")).toBe("none");
  expect(parseSysfsU64("1000\n")).toBe(1000n);
  expect(parseSysfsU64("-1\n")).toBeUndefined();
});

test("interface types (acceptance 25)", () => {
  const t = (name: string, o: Partial<{ wireless: boolean; typeCode: number; hasDevice: boolean }> = {}) =>
    interfaceType(name, { wireless: o.wireless ?? false, typeCode: o.typeCode, hasDevice: o.hasDevice ?? false });
  expect(t("wlan0", { wireless: true })).toBe("wireless");
  expect(t("lo")).toBe("loopback");
  expect(t("enp0s3", { typeCode: 1 })).toBe("ethernet");
  expect(t("sit0", { typeCode: 776 })).toBe("tunnel");
  expect(t("gre0", { typeCode: 778 })).toBe("tunnel");
  expect(t("eth1")).toBe("ethernet");
  expect(t("tap0")).toBe("tap");
  expect(t("veth123")).toBe("virtual");
  expect(t("docker0")).toBe("bridge");
  expect(t("br-abcd")).toBe("bridge");
  expect(t("virbr0")).toBe("bridge");
  expect(t("eno1", { hasDevice: true })).toBe("ethernet");
  expect(t("myiface")).toBe("virtual");
  expect(t("lo0", { typeCode: 772 })).toBe("loopback");
});
