// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the /proc/cpuinfo parser on samples from x86 (HT, VMs, multi-socket), ARM64, PowerPC,
// malformed input and the live host.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parseCpuinfo } from "./cpuinfo.ts";

const sample = (n: string) => readFileSync(new URL(`../../../test/fixtures/perf/samples/${n}`, import.meta.url), "utf8");

test("i7-8700K with HT ids (acceptance 21)", () => {
  const c = parseCpuinfo(sample("cpuinfo_i7_8700k"));
  expect(c.logical_cores).toBe(2);
  expect(c.physical_cores).toBe(2);
  expect(c.vendor_id).toBe("GenuineIntel");
  expect(c.model_name).toBe("Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz");
  expect([c.cpu_family, c.model, c.stepping]).toEqual([6, 158, 10]);
  expect(c.microcode).toBe("0xde");
  expect(c.cpu_mhz).toBe(3700);
  expect(c.cache_size).toBe("12288 KB");
  expect(c.bogomips).toBe(7399.7);
  expect(c.cache_alignment).toBe(64);
  expect(c.flags).toContain("fpu");
  expect(c.flags).toContain("sse2");
  expect(c.cores.map((x) => x.core_id)).toEqual([0, 1]);
});

test("AWS t3.micro: same ids -> physical falls back to logical", () => {
  const c = parseCpuinfo(sample("cpuinfo_t3_micro"));
  expect([c.logical_cores, c.physical_cores]).toEqual([2, 2]);
  expect(c.cores[0]!.siblings).toBe(2);
  expect(c.flags).toContain("avx512f");
});

test("ARM64: Features as flags, BogoMIPS, no vendor, trailing record without processor not counted", () => {
  const c = parseCpuinfo(sample("cpuinfo_arm64"));
  expect(c.logical_cores).toBe(4);
  expect(c.bogomips).toBe(48);
  expect(c.vendor_id).toBe("");
  expect(c.cpu_mhz).toBe(0);
  expect(c.flags).toContain("asimd");
});

test("PowerPC", () => {
  const c = parseCpuinfo(sample("cpuinfo_ppc"));
  expect(c.logical_cores).toBe(1);
  expect(c.bogomips).toBe(996.14);
  expect(c.flags).toEqual([]);
  expect(c.model_name).toBe("");
});

test("multi-socket 2x2 -> 4 physical", () => {
  const rec = (p: number, ph: number, core: number) => `processor\t: ${p}\nphysical id\t: ${ph}\ncore id\t: ${core}\n\n`;
  const c = parseCpuinfo(rec(0, 0, 0) + rec(1, 0, 1) + rec(2, 1, 0) + rec(3, 1, 1));
  expect([c.logical_cores, c.physical_cores]).toEqual([4, 4]);
});

test("malformed values are skipped and counted; empty file gives zeros", () => {
  const c = parseCpuinfo(
    "processor: 0\nvendor_id: Intel\ncpu MHz: not-a-number\nphysical id: also-not-a-number\ncache_alignment: 64\nflags: fpu sse\n\nprocessor: 1\nvendor_id: Other\n",
  );
  expect(c.logical_cores).toBe(2);
  expect(c.vendor_id).toBe("Intel");
  expect(c.cache_alignment).toBe(64);
  expect(c.flags).toContain("fpu");
  expect(c.malformed).toBe(2);
  const e = parseCpuinfo("");
  expect([e.logical_cores, e.physical_cores]).toEqual([0, 0]);
});

test("Proxmox-style single core", () => {
  const c = parseCpuinfo(
    "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 15\nmodel\t\t: 6\nstepping\t: 1\nmicrocode\t: 0x1\ncpu MHz\t\t: 1699.999\ncache size\t: 16384 KB\nbogomips\t: 3399.99\ncache_alignment\t: 128\n",
  );
  expect([c.logical_cores, c.cpu_family, c.model, c.stepping, c.microcode, c.cpu_mhz, c.cache_size, c.cache_alignment, c.bogomips]).toEqual(
    [1, 15, 6, 1, "0x1", 1699.999, "16384 KB", 128, 3399.99],
  );
});

test("live /proc/cpuinfo", () => {
  expect(parseCpuinfo(readFileSync("/proc/cpuinfo", "utf8")).logical_cores).toBeGreaterThanOrEqual(1);
});
