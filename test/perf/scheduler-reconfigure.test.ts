// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// CollectorScheduler.reconfigure on fixture files: collectors start, stop and change interval
// while running; unchanged ones keep their pace.

import { afterAll, expect, test } from "bun:test";
import { silentLogger } from "../../src/log/logger.ts";
import type { MetricEvent } from "../../src/perf/collector.ts";
import { createCollectorRegistry } from "../../src/perf/registry.ts";
import { MetricsRouter } from "../../src/perf/router.ts";
import { CollectorScheduler } from "../../src/perf/scheduler.ts";
import { parseKernelVersion } from "../../src/system/kernel-version.ts";
import { cleanupTrees, makeTree, pathsFor, sample } from "./tree.ts";

afterAll(cleanupTrees);

test("reconfigure: start, stop and retime collectors without touching the others", async () => {
  const root = makeTree({
    "proc/loadavg": "0.50 1.25 2.75 2/1234 12345\n",
    "proc/meminfo": sample("meminfo"),
    "proc/vmstat": "pgfault 100\n",
  });
  const registry = createCollectorRegistry(pathsFor(root), { capabilities: 0n, kernel: parseKernelVersion("6.1") });
  const router = new MetricsRouter({ queueName: "test_reconfigure" });
  const events: Array<{ type: string; at: number }> = [];
  router.subscribe({ name: "t", accept: (e: MetricEvent) => void events.push({ type: e.metricType, at: performance.now() }) });
  const s = new CollectorScheduler({ registry, router, logger: silentLogger, nodeName: "n", intervalMs: 300, collectors: ["load"] });
  await s.start();
  try {
    await Bun.sleep(700);
    const times = (type: string, from = 0) => events.filter((e) => e.type === type && e.at >= from).map((e) => e.at);
    expect(times("load").length).toBeGreaterThanOrEqual(3);

    const t1 = performance.now();
    const change = await s.reconfigure({ collectors: ["load", "memory"], intervalMs: 300, intervals: { memory: 100 } });
    expect(change).toEqual({ started: ["memory"], stopped: [], rescheduled: [], restarted: [] });
    await Bun.sleep(650);
    expect(times("memory", t1).length).toBeGreaterThanOrEqual(5); // first at once, then every 100 ms
    const loadGaps = times("load")
      .slice(1)
      .map((t, i) => t - times("load")[i]!);
    expect(Math.max(...loadGaps)).toBeLessThan(450); // load kept its 300 ms pace through the change

    const t2 = performance.now();
    expect(await s.reconfigure({ collectors: ["memory"], intervalMs: 300, intervals: { memory: 250 } })).toEqual({
      started: [],
      stopped: ["load"],
      rescheduled: ["memory"],
      restarted: [],
    });
    await Bun.sleep(800);
    expect(times("load", t2 + 50)).toEqual([]);
    const mem = times("memory", t2 + 50);
    expect(mem.length).toBeGreaterThanOrEqual(2);
    expect(mem.length).toBeLessThanOrEqual(4);
    expect(s.intervalsMs()).toEqual({ memory: 250 });
    expect(s.running()).toEqual(["memory"]);
  } finally {
    await s.stop(AbortSignal.timeout(1000));
  }
});
