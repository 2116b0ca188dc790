// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the /proc/meminfo and per-NUMA-node meminfo parsers: key forms, exact u64, bad values.

import { expect, test } from "bun:test";
import { parseMeminfo, parseNodeMeminfo } from "./meminfo.ts";

test("keys without colon, units ignored, bad values skipped and counted", () => {
  const r = parseMeminfo(
    "MemTotal:       8192000 kB\nMemFree 100 kB\nCached: invalid_value kB\nBuffers: 18446744073709551616 kB\nHugePages_Total:    1024\nX\n",
  );
  expect(r.values.get("MemTotal")).toBe(8192000n);
  expect(r.values.get("MemFree")).toBe(100n);
  expect(r.values.has("Cached")).toBe(false);
  expect(r.values.has("Buffers")).toBe(false);
  expect(r.values.get("HugePages_Total")).toBe(1024n);
  expect(r.malformed).toBe(3);
});

test("max u64 stays exact; tabs accepted", () => {
  expect(parseMeminfo("MemTotal:\t18446744073709551615\tkB\n").values.get("MemTotal")).toBe(18446744073709551615n);
});

test("node meminfo format", () => {
  const r = parseNodeMeminfo("Node 0 MemTotal:       16384000 kB\nNode 0 MemFree:  12345678 kB\nNode 0 Bad\n");
  expect(r.values.get("MemTotal")).toBe(16384000n);
  expect(r.values.get("MemFree")).toBe(12345678n);
  expect(r.malformed).toBe(1);
});
