// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Agent self-metrics: per-component state, build info, uptime, memory and event-loop lag.

import { Gauge } from "prom-client";
import type { BuildInfo } from "../build-info.ts";
import { procSelf, registerProcessMetrics } from "./process-self.ts";
import { registry } from "./registry.ts";

export type ComponentState = "pending" | "starting" | "running" | "degraded" | "failed" | "stopping" | "stopped";
const STATES: ComponentState[] = ["pending", "starting", "running", "degraded", "failed", "stopping", "stopped"];

const componentState = new Gauge({
  name: "antimetal_component_state",
  help: "1 for the current state of each component, 0 for the others.",
  labelNames: ["component", "state"] as const,
  registers: [registry],
});

export function setComponentState(component: string, state: ComponentState): void {
  for (const s of STATES) componentState.set({ component, state: s }, s === state ? 1 : 0);
}

let lagSeconds = 0;
let maxLagSeconds = 0;
let lagTimer: ReturnType<typeof setInterval> | undefined;

/**
 * Registers build info, uptime, the process_* families (a failed /proc/self read is reported once through
 * onProcessMetricsError), memory and event-loop lag. Lag is how late a 500 ms timer fires;
 * the max resets on every render of the self metrics (every scrape, at most once a second: see
 * src/metrics/scrape-cache.ts).
 */
export function registerSelfMetrics(build: BuildInfo, startedAt = Date.now(), onProcessMetricsError?: (message: string) => void): void {
  if (registry.getSingleMetric("antimetal_build_info")) return;
  new Gauge({
    name: "antimetal_build_info",
    help: "Build of the running agent; always 1.",
    labelNames: ["version", "revision", "build_date", "bun_version"] as const,
    registers: [registry],
  }).set({ version: build.version, revision: build.revision, build_date: build.date, bun_version: Bun.version }, 1);
  new Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since unix epoch in seconds.",
    registers: [registry],
  }).set(Math.floor(startedAt / 1000));
  new Gauge({
    name: "antimetal_agent_uptime_seconds",
    help: "Seconds since the agent started.",
    registers: [registry],
    collect() {
      this.set((Date.now() - startedAt) / 1000);
    },
  });
  registerProcessMetrics(registry, procSelf, onProcessMetricsError);
  new Gauge({
    name: "antimetal_js_heap_used_bytes",
    help: "JavaScript heap in use, in bytes.",
    registers: [registry],
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });
  new Gauge({
    name: "antimetal_event_loop_lag_seconds",
    help: "How late the last 500 ms event-loop probe timer fired.",
    registers: [registry],
    collect() {
      this.set(lagSeconds);
    },
  });
  new Gauge({
    name: "antimetal_event_loop_lag_max_seconds",
    help: "Largest event-loop lag seen since the previous scrape.",
    registers: [registry],
    collect() {
      this.set(maxLagSeconds);
      maxLagSeconds = lagSeconds;
    },
  });
  let expected = performance.now() + 500;
  lagTimer = setInterval(() => {
    const now = performance.now();
    lagSeconds = Math.max(0, now - expected) / 1000;
    maxLagSeconds = Math.max(maxLagSeconds, lagSeconds);
    expected = now + 500;
  }, 500);
  lagTimer.unref();
}
