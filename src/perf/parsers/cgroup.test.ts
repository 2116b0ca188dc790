// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the cgroup parsers: container ids from cgroup names and paths, runtime detection, flat
// keyed files, cpu.max and single-value files.

import { expect, test } from "bun:test";
import { detectRuntime, extractContainerId, isHexString, parseCgroupI64, parseCgroupU64, parseCpuMax, parseFlatKeyed } from "./cgroup.ts";

const h64 = "a".repeat(64);

test.each([
  ["docker-abc123def456789.scope", "abc123def456789"],
  ["cri-containerd-abc123def456789.scope", "abc123def456789"],
  ["libpod-abc123def456789.scope", "abc123def456789"],
  ["/podman/abc123def456789", "abc123def456789"],
  ["random-string", ""],
  ["docker/tooshort", ""],
  ["kubepods.slice/kubepods-pod123.slice", ""],
  [`kubepods.slice/kubepods-burstable-pod1.slice/cri-containerd-${h64}.scope`, h64],
])("container ids (acceptance 28): %p", (path, id) => {
  expect(extractContainerId(path)).toBe(id);
});

test("isHexString", () => {
  for (const s of ["abc123def456", "ABC123DEF456", "aBc123DeF456"]) expect(isHexString(s)).toBe(true);
  for (const s of ["abc123!def456", "abc123ghi456", ""]) expect(isHexString(s)).toBe(false);
});

test.each([
  ["docker/abc", "docker"],
  ["system.slice/docker-abc.scope", "docker"],
  ["containerd/abc", "containerd"],
  ["kubepods/cri-containerd-abc.scope", "containerd"],
  ["machine.slice/libpod-abc.scope", "podman"],
  ["crio-abc.scope", "cri-o"],
  ["x/y", "unknown"],
])("runtime from path: %p", (path, runtime) => {
  expect(detectRuntime(path)).toBe(runtime);
});

test("flat keyed files, cpu.max, single values", () => {
  const r = parseFlatKeyed("usage_usec 150000000\nnr_periods 1500\nbad\nx y z\nthrottled_usec 7500000\n");
  expect(r.values.get("usage_usec")).toBe(150000000n);
  expect(r.malformed).toBe(2);
  expect(parseCpuMax("50000 100000\n")).toEqual({ quota: 50000n, period: 100000n });
  expect(parseCpuMax("max 100000")).toEqual({ quota: -1n, period: 100000n });
  expect(parseCgroupU64("max\n")).toBe(18446744073709551615n);
  expect(parseCgroupU64("9223372036854771712\n")).toBe(9223372036854771712n);
  expect(parseCgroupI64("-1\n")).toBe(-1n);
});
