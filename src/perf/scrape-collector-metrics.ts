// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_scrape_collector_success and node_scrape_collector_duration_seconds, labelled by the agent's
// collector (metric type): node_exporter's per-collector health families, so its dashboards and alerts
// (e.g. NodeExporterCollectorFailed-style rules) work against the agent.

import { Gauge } from "prom-client";
import { registry } from "../metrics/registry.ts";

export const scrapeCollectorSuccess = new Gauge({
  name: "node_scrape_collector_success",
  help: "node_exporter: Whether a collector succeeded.",
  labelNames: ["collector"] as const,
  registers: [registry],
});

export const scrapeCollectorDuration = new Gauge({
  name: "node_scrape_collector_duration_seconds",
  help: "node_exporter: Duration of a collector scrape.",
  labelNames: ["collector"] as const,
  registers: [registry],
});

/**
 * Records the outcome of one scheduled collection. The agent collects on a schedule, not per scrape, so
 * both values describe the collector's last collection (a timed-out one counts its whole budget).
 */
export function recordCollectorScrape(collector: string, seconds: number, ok: boolean): void {
  scrapeCollectorSuccess.set({ collector }, ok ? 1 : 0);
  scrapeCollectorDuration.set({ collector }, seconds);
}
