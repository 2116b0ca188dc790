// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The one Prometheus registry served on /metrics, and the depth/capacity/drops families every bounded
// queue, buffer and cache reports through.

import { Counter, Gauge, Registry } from "prom-client";

/**
 * The one Prometheus registry served on /metrics. Self-metrics and host metrics both register here.
 * Every bounded queue, buffer and cache reports depth, capacity and drops by reason through the
 * three families below, labelled by `queue`.
 */
export const registry = new Registry();

export const queueDepth = new Gauge({
  name: "antimetal_queue_depth",
  help: "Entries currently held by a bounded queue or buffer.",
  labelNames: ["queue"] as const,
  registers: [registry],
});

export const queueCapacity = new Gauge({
  name: "antimetal_queue_capacity",
  help: "Maximum entries a bounded queue or buffer may hold.",
  labelNames: ["queue"] as const,
  registers: [registry],
});

export const queueDropped = new Counter({
  name: "antimetal_queue_dropped_total",
  help: "Entries a bounded queue or buffer dropped, by reason.",
  labelNames: ["queue", "reason"] as const,
  registers: [registry],
});

/** Handle for one named bounded structure. */
export interface BoundMeter {
  depth(n: number): void;
  dropped(reason: string, n?: number): void;
}

export function meterBound(queue: string, capacity: number): BoundMeter {
  queueCapacity.set({ queue }, capacity);
  queueDepth.set({ queue }, 0);
  return {
    depth: (n) => queueDepth.set({ queue }, n),
    dropped: (reason, n = 1) => queueDropped.inc({ queue, reason }, n),
  };
}
