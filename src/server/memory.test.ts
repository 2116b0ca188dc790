// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The memory breakdown: smaps mappings sorted into the executable's segments, anonymous memory and
// libraries; the live breakdown of this process adding up to its RSS; served on the pprof listener.

import { expect, test } from "bun:test";
import { Registry } from "prom-client";
import { silentLogger } from "../log/logger.ts";
import { createHttpComponent } from "./http.ts";
import { memoryBreakdown, residentByMapping } from "./memory.ts";

test("smaps mappings are summed by kind", () => {
  const smaps = [
    "00200000-01a38000 r--p 00000000 08:01 123 /opt/agent",
    "Rss:                6112 kB",
    "01a40000-06836000 r-xp 01838000 08:01 123 /opt/agent",
    "Rss:               26864 kB",
    "06852000-074af000 rw-p 0662d000 08:01 123 /opt/agent",
    "Rss:                6416 kB",
    "5868d800000-586cd800000 rw-p 00000000 00:00 0 ",
    "Rss:               18016 kB",
    "7f00-7f01 rw-p 00000000 00:00 0                          [heap]",
    "Rss:                  10 kB",
    "7f7809681000-7f78097d7000 r-xp 00028000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6",
    "Rss:                1212 kB",
    "7ffd-7ffe rw-p 00000000 00:00 0                          [stack]",
    "Rss:                 132 kB",
  ].join("\n");
  expect(residentByMapping(smaps, "/opt/agent")).toEqual({
    exe_text: 26864,
    exe_rodata: 6112,
    exe_data: 6416,
    anon: 18026,
    libs: 1212,
    other: 132,
  });
});

test("this process's breakdown adds up to its resident set and names its threads", () => {
  const m = memoryBreakdown();
  const sum = Object.values(m.residentKiB).reduce((a, b) => a + b, 0);
  // smaps and status are read a moment apart (and reading smaps allocates): within 15%
  expect(Math.abs(sum - m.status.VmRSS!) / m.status.VmRSS!).toBeLessThan(0.15);
  expect(m.jsc.heapSize).toBeGreaterThan(0);
  expect(m.jsc.topTypes.length).toBeGreaterThan(0);
  expect(m.threads.length).toBe(m.status.Threads!);
});

test("GET /debug/memory on the pprof listener serves the breakdown", async () => {
  const http = createHttpComponent({
    probeAddress: "127.0.0.1:0",
    metricsAddress: "0",
    pprofAddress: "127.0.0.1:0",
    readiness: () => ({ ready: true, reasons: [] }),
    registry: new Registry(),
    logger: silentLogger,
  });
  await http.start();
  try {
    const r = await fetch(`http://127.0.0.1:${http.ports().pprof}/debug/memory`);
    expect(r.status).toBe(200);
    const m = (await r.json()) as ReturnType<typeof memoryBreakdown>;
    expect(m.status.VmRSS).toBeGreaterThan(0);
    expect(Object.keys(m.residentKiB).sort()).toEqual(["anon", "exe_data", "exe_rodata", "exe_text", "libs", "other"]);
    expect(m.threads.length).toBeGreaterThan(0);
  } finally {
    await http.stop(AbortSignal.timeout(1000));
  }
});
