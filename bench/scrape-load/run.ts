// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Probe latency and collector schedule of the compiled agent while 10 and 50 concurrent scrapers hammer
// /metrics, beside Debian's prometheus-node-exporter under the same load in the same run.
// bash bench/run.sh scrape-load [--seconds 10] [--long (60 s per level)] [--levels 10,50] [--interval 1 (collector
// interval in seconds; 1 = ten times the default, to load the event loop; 10 = the default)]

import { join } from "node:path";
import { startAgent, waitForStatus } from "../../test/helpers/agent-process.ts";
import { spawnScrapers, timeProbes } from "../../test/helpers/scrape-load.ts";

const root = join(import.meta.dir, "../..");
const argv = process.argv.slice(2);
const arg = (name: string, def: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : def);
const seconds = argv.includes("--long") ? 60 : Number(arg("--seconds", "10"));
const levels = arg("--levels", "10,50").split(",").map(Number);
const NODE_EXPORTER = "/usr/bin/prometheus-node-exporter";
const COLLECTOR_INTERVAL_S = Number(arg("--interval", "1"));

async function freePort(): Promise<number> {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

/** Scrapers for `seconds` while timing `probeUrl` every 50 ms (after a 0.5 s ramp), and running `alongside`. */
async function underLoad(metricsUrl: string, probeUrl: string, concurrency: number, alongside?: (window: AbortSignal) => Promise<void>) {
  const load = spawnScrapers(metricsUrl, concurrency, seconds);
  try {
    await Bun.sleep(500);
    const window = AbortSignal.timeout((seconds - 1) * 1000);
    const [probe] = await Promise.all([timeProbes(probeUrl, 50, window), alongside?.(window)]);
    const totals = await load.done;
    return { probe, scrapesPerSec: Math.round(totals.requests / seconds), scrapeErrors: totals.errors };
  } finally {
    load.kill();
  }
}

const counter = async (url: string, re: RegExp) => Number(re.exec(await (await fetch(url)).text())?.[1] ?? NaN);
const round = (x: number) => Math.round(x * 10) / 10;

async function agentLevel(concurrency: number) {
  const agent = await startAgent(
    [
      "--data-directory",
      "",
      "--intake-address",
      "",
      "--enable-kubernetes-controller=false",
      "--enable-performance-collectors",
      "--performance-collector-interval",
      `${COLLECTOR_INTERVAL_S}s`,
    ],
    {},
    join(root, "dist/antimetal-agent"),
  );
  try {
    const metrics = `http://127.0.0.1:${agent.ports.metrics}/metrics`;
    const probes = `http://127.0.0.1:${agent.ports.probes}`;
    await waitForStatus(`${probes}/readyz`, 200);
    await Bun.sleep(1500);
    const runs = /^antimetal_collector_duration_seconds_count\{collector="load"\} (\d+)$/m;
    const lag = /^antimetal_event_loop_lag_max_seconds (\S+)$/m;
    const before = await counter(metrics, runs);
    // Each render of the self metrics (at most one a second, triggered by the scrapers) reports and resets
    // the lag max since the previous one: reading 4 times a second sees every render.
    let lagMax = 0;
    const watchLag = async (window: AbortSignal) => {
      while (!window.aborted) {
        lagMax = Math.max(lagMax, await counter(metrics, lag));
        await Bun.sleep(250);
      }
    };
    const t0 = performance.now();
    const r = await underLoad(metrics, `${probes}/livez`, concurrency, watchLag);
    const elapsed = (performance.now() - t0) / 1000;
    await Bun.sleep(1100); // self metrics are re-rendered at most once a second
    const collections = (await counter(metrics, runs)) - before;
    return {
      probeP50Ms: round(r.probe.p50Ms),
      probeP99Ms: round(r.probe.p99Ms),
      probeMaxMs: round(r.probe.maxMs),
      probeFailures: r.probe.failures,
      scrapesPerSec: r.scrapesPerSec,
      scrapeErrors: r.scrapeErrors,
      loadCollections: collections,
      loadCollectionsExpected: Math.floor(elapsed / COLLECTOR_INTERVAL_S),
      eventLoopLagMaxMs: round(lagMax * 1000),
    };
  } finally {
    await agent.stop("SIGTERM");
  }
}

async function nodeExporterLevel(concurrency: number) {
  const port = await freePort();
  const proc = Bun.spawn([NODE_EXPORTER, `--web.listen-address=127.0.0.1:${port}`], { stdout: "ignore", stderr: "ignore" });
  try {
    await waitForStatus(`http://127.0.0.1:${port}/`, 200);
    // node_exporter has no probe listener: its landing page on the metrics port stands in for one.
    const r = await underLoad(`http://127.0.0.1:${port}/metrics`, `http://127.0.0.1:${port}/`, concurrency);
    return {
      probeP50Ms: round(r.probe.p50Ms),
      probeP99Ms: round(r.probe.p99Ms),
      probeMaxMs: round(r.probe.maxMs),
      probeFailures: r.probe.failures,
      scrapesPerSec: r.scrapesPerSec,
      scrapeErrors: r.scrapeErrors,
    };
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

const results: Record<string, unknown> = {};
for (const c of levels) {
  const agent = await agentLevel(c);
  const nodeExporter = await nodeExporterLevel(c);
  results[`c${c}`] = {
    agent,
    nodeExporter,
    probeP99RatioToNodeExporter: Math.round((agent.probeP99Ms / nodeExporter.probeP99Ms) * 1000) / 1000,
  };
}
console.log(
  JSON.stringify(
    {
      bench: "scrape-load",
      secondsPerLevel: seconds,
      newConnectionPerScrape: true,
      collectorIntervalSeconds: COLLECTOR_INTERVAL_S,
      ...results,
    },
    null,
    2,
  ),
);
