// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_scrape_collector_success / node_scrape_collector_duration_seconds from the scheduler: 1 and a
// duration for a collector that succeeds, 0 for one whose critical file is missing, labelled by collector.

import { afterAll, expect, test } from "bun:test";
import { createLogger } from "../../src/log/logger.ts";
import { registry as shared } from "../../src/metrics/registry.ts";
import { createCollectorRegistry } from "../../src/perf/registry.ts";
import { MetricsRouter } from "../../src/perf/router.ts";
import { CollectorScheduler } from "../../src/perf/scheduler.ts";
import { parseKernelVersion } from "../../src/system/kernel-version.ts";
import { cleanupTrees, makeTree, pathsFor } from "./tree.ts";

afterAll(cleanupTrees);

test("node_scrape_collector_* per agent collector: success, failure and duration of the last collection", async () => {
  const root = makeTree({ "proc/meminfo": "MemTotal: 1000 kB\nMemFree: 500 kB\n" });
  const paths = pathsFor(root);
  const registry = createCollectorRegistry(paths, { capabilities: 0n, kernel: parseKernelVersion("6.1") });
  const logger = createLogger({ destination: { write: () => undefined } as unknown as NodeJS.WritableStream });
  const router = new MetricsRouter({ queueName: "test_scrape_collector" });
  const s = new CollectorScheduler({
    registry,
    router,
    logger,
    nodeName: "n",
    intervalMs: 1000,
    timeoutMs: 500,
    collectors: ["memory", "load"],
  });
  await s.start();
  try {
    await Bun.sleep(200);
    const text = await shared.metrics();
    expect(text).toContain("# HELP node_scrape_collector_success node_exporter: Whether a collector succeeded.");
    expect(text).toContain("# TYPE node_scrape_collector_duration_seconds gauge");
    expect(text).toContain('node_scrape_collector_success{collector="memory"} 1');
    expect(text).toContain('node_scrape_collector_success{collector="load"} 0');
    const d = /node_scrape_collector_duration_seconds\{collector="memory"\} (\S+)/.exec(text);
    expect(Number(d?.[1])).toBeGreaterThan(0);
    expect(Number(d?.[1])).toBeLessThan(0.5);
  } finally {
    await s.stop(AbortSignal.timeout(1000));
  }
});
