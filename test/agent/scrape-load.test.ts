// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Many concurrent /metrics scrapers must not starve the probes or the collectors of the compiled agent
// (an HA Prometheus pair, or a misconfigured scraper fleet, hammering the metrics port).

import { afterEach, expect, test } from "bun:test";
import { type AgentProcess, startAgent, waitForStatus } from "../helpers/agent-process.ts";
import { spawnScrapers, timeProbes } from "../helpers/scrape-load.ts";

const STANDALONE = ["--data-directory", "", "--intake-address", "", "--enable-kubernetes-controller=false"];
const SCRAPERS = Number(process.env.SCRAPERS ?? 20);
const LOAD_SECONDS = 8;

let agent: AgentProcess | undefined;
afterEach(async () => {
  await agent?.stop("SIGKILL");
  agent = undefined;
});

async function loadRuns(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const m = /^antimetal_collector_duration_seconds_count\{collector="load"\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

test(`probes answer within 1 s and collectors keep their 1 s schedule while ${SCRAPERS} scrapers hammer /metrics`, async () => {
  agent = await startAgent([...STANDALONE, "--enable-performance-collectors", "--performance-collector-interval", "1s"]);
  const metricsUrl = `http://127.0.0.1:${agent.ports.metrics}/metrics`;
  const probes = `http://127.0.0.1:${agent.ports.probes}`;
  await waitForStatus(`${probes}/readyz`, 200);
  const before = await loadRuns(metricsUrl);

  const load = spawnScrapers(metricsUrl, SCRAPERS, LOAD_SECONDS);
  try {
    await Bun.sleep(500); // let the scrapers reach full speed before timing
    const window = AbortSignal.timeout((LOAD_SECONDS - 1.5) * 1000);
    const [livez, readyz] = await Promise.all([timeProbes(`${probes}/livez`, 50, window), timeProbes(`${probes}/readyz`, 50, window)]);
    const totals = await load.done;
    const runs = (await loadRuns(metricsUrl)) - before;
    console.log(JSON.stringify({ totals, livez, readyz, runs }));

    expect(totals.errors).toBe(0);
    expect(totals.requests).toBeGreaterThan(SCRAPERS * LOAD_SECONDS); // the scrapers really ran
    for (const p of [livez, readyz]) {
      expect(p.failures).toBe(0);
      expect(p.samples).toBeGreaterThan(20);
      expect(p.maxMs).toBeLessThan(1000);
    }
    // load runs every second: at least half of its runs happen under the load.
    expect(runs).toBeGreaterThanOrEqual(LOAD_SECONDS / 2);
  } finally {
    load.kill();
  }
}, 60_000);
