// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** Prometheus counters of the tcpflow and oomkill eBPF programs, on the shared registry served at /metrics. */

import { Counter, type Registry } from "prom-client";
import { registry as sharedRegistry } from "../metrics/registry.ts";

export interface TcpflowMetrics {
  /** antimetal_tcpflow_events_total{kind}: connect/accept/close records decoded. */
  events: Counter<"kind">;
  /** antimetal_tcpflow_lost_total{reason}: connections the kernel side could not hand over. */
  lost: Counter<"reason">;
}

const byRegistry = new WeakMap<Registry, TcpflowMetrics>();

/** Registers (once per registry) and returns the tcpflow counters. */
export function registerTcpflowMetrics(registry: Registry = sharedRegistry): TcpflowMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const m: TcpflowMetrics = {
    events: new Counter({
      name: "antimetal_tcpflow_events_total",
      help: "TCP connection records (connect, accept, close) received from the tcpflow eBPF program.",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    lost: new Counter({
      name: "antimetal_tcpflow_lost_total",
      help: "TCP connection records the tcpflow eBPF program could not report (ringbuf_full: ring buffer had no room; table_full: socket table full or busy; recursion: state changes the kernel skipped because the program was already running on that CPU, less those the fallback program ran instead; an upper bound; unseen_close: closes neither state-change program ran for although the kernel counted no skip, found when the socket was destroyed; an upper bound).",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
  };
  // Every series exists from the start (a loss counter that appears only after the first loss hides the "none yet").
  for (const kind of ["connect", "accept", "close"]) m.events.inc({ kind }, 0);
  for (const reason of ["ringbuf_full", "table_full", "recursion", "unseen_close"]) m.lost.inc({ reason }, 0);
  byRegistry.set(registry, m);
  return m;
}
