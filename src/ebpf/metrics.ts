// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** Prometheus counters of the eBPF collectors, on the shared registry served at /metrics. */

import { Counter, type Registry } from "prom-client";
import { registry as sharedRegistry } from "../metrics/registry.ts";

export interface EbpfMetrics {
  /** antimetal_execsnoop_events_total: exec records decoded and emitted. */
  execsnoopEvents: Counter<never>;
  /** antimetal_execsnoop_lost_total{reason}: execs the kernel side could not hand over. */
  execsnoopLost: Counter<"reason">;
  /** antimetal_ebpf_records_rejected_total{program,reason}: malformed records dropped by the decoder. */
  recordsRejected: Counter<"program" | "reason">;
}

const byRegistry = new WeakMap<Registry, EbpfMetrics>();

/** Registers (once per registry) and returns the eBPF counters. */
export function registerEbpfMetrics(registry: Registry = sharedRegistry): EbpfMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const m: EbpfMetrics = {
    execsnoopEvents: new Counter({
      name: "antimetal_execsnoop_events_total",
      help: "execve calls (successful and failed) received from the execsnoop eBPF program.",
      registers: [registry],
    }),
    execsnoopLost: new Counter({
      name: "antimetal_execsnoop_lost_total",
      help: "execve calls the execsnoop eBPF program could not report (ringbuf_full: ring buffer had no room; pending_full: enter/exit table full).",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    recordsRejected: new Counter({
      name: "antimetal_ebpf_records_rejected_total",
      help: "Ring buffer records rejected by the decoder (truncated, oversized, invalid).",
      labelNames: ["program", "reason"] as const,
      registers: [registry],
    }),
  };
  byRegistry.set(registry, m);
  return m;
}
