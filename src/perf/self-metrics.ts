// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Prometheus self-metrics of the collectors: malformed lines, errors, duration, up, skips, router errors.

import { Counter, Gauge, Histogram } from "prom-client";
import { registry } from "../metrics/registry.ts";

/** Lines a parser could not use, by collector (the line is skipped; the rest of the file still counts). */
export const malformedLines = new Counter({
  name: "antimetal_collector_malformed_lines_total",
  help: "Lines of /proc or /sys files skipped because they could not be parsed, by collector.",
  labelNames: ["collector"] as const,
  registers: [registry],
});

export const collectorErrors = new Counter({
  name: "antimetal_collector_errors_total",
  help: "Failed collections, by collector and reason (error, timeout, permission).",
  labelNames: ["collector", "reason"] as const,
  registers: [registry],
});

export const collectorDuration = new Histogram({
  name: "antimetal_collector_duration_seconds",
  help: "Time one collection of one collector took.",
  labelNames: ["collector"] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
  registers: [registry],
});

export function countMalformed(collector: string, n: number): void {
  if (n > 0) malformedLines.inc({ collector }, n);
}

/** Numbers that could not be parsed, by collector and file (the value is reported as 0, as the original does). */
export const malformedValues = new Counter({
  name: "antimetal_collector_malformed_values_total",
  help: "Numbers in /proc or /sys files that could not be parsed and were reported as 0, by collector and file.",
  labelNames: ["collector", "file"] as const,
  registers: [registry],
});

export function countBadNumbers(collector: string, file: string, n: number): void {
  if (n > 0) malformedValues.inc({ collector, file }, n);
}

export const collectorUp = new Gauge({
  name: "antimetal_collector_up",
  help: "1 if the collector's last scheduled collection succeeded, 0 if it failed or timed out.",
  labelNames: ["collector"] as const,
  registers: [registry],
});

export const collectorSkipped = new Counter({
  name: "antimetal_collector_skipped_total",
  help: "Scheduled collections not started because the previous one of the same collector was still stuck in a read.",
  labelNames: ["collector"] as const,
  registers: [registry],
});

export const routerConsumerErrors = new Counter({
  name: "antimetal_metrics_router_consumer_errors_total",
  help: "Metric events a consumer threw on.",
  labelNames: ["consumer"] as const,
  registers: [registry],
});

export const collectorInterval = new Gauge({
  name: "antimetal_collector_interval_seconds",
  help: "Interval the scheduler runs each point collector at (changes live with the configuration).",
  labelNames: ["collector"] as const,
  registers: [registry],
});

export const collectorLastSuccess = new Gauge({
  name: "antimetal_collector_last_success_timestamp_seconds",
  help: "Unix time of the last successful collection, by collector.",
  labelNames: ["collector"] as const,
  registers: [registry],
});

export const expositionErrors = new Counter({
  name: "antimetal_exposition_errors_total",
  help: "Renders of a /metrics family that failed because its collector data had an unexpected shape (the family is left empty).",
  labelNames: ["family"] as const,
  registers: [registry],
});

export const expositionSeriesDropped = new Counter({
  name: "antimetal_exposition_series_dropped_total",
  help: "Series left out of a /metrics family because it had more than the per-family cap, counted at each render.",
  labelNames: ["family"] as const,
  registers: [registry],
});
