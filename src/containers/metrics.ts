// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The runtime graph's self metrics, apart from its code: `run` registers them when container discovery
// is on (so /metrics lists them from the first scrape) while the runtime graph's modules load only when it starts.

import { Counter, Gauge } from "prom-client";
import { registry } from "../metrics/registry.ts";

export const eventScans = new Counter({
  name: "antimetal_runtime_graph_event_scans_total",
  help: "Scans run on process events (eBPF) rather than the interval, by trigger: exit or exec of a process with a node, young: a process that exec'd reached the minimum age.",
  labelNames: ["trigger"] as const,
  registers: [registry],
});
export const droppedPids = new Counter({
  name: "antimetal_runtime_graph_event_pids_dropped_total",
  help: "Exec'd processes not tracked for their minimum-age recheck (more than 64 in one 250 ms bucket); the interval scan finds them.",
  registers: [registry],
});

export const writes = new Counter({
  name: "antimetal_runtime_graph_writes_total",
  help: "Store writes made by the runtime graph, by operation (upsert, delete, relationship_add, relationship_delete).",
  labelNames: ["op"] as const,
  registers: [registry],
});
export const scans = new Counter({
  name: "antimetal_runtime_graph_scans_total",
  help: "Runtime graph scans, by result (ok, error).",
  labelNames: ["result"] as const,
  registers: [registry],
});
export const size = new Gauge({
  name: "antimetal_runtime_graph_objects",
  help: "Containers, processes and relationships in the runtime graph after the last scan.",
  labelNames: ["entity"] as const,
  registers: [registry],
});
export const leftOutGauge = new Gauge({
  name: "antimetal_runtime_graph_processes_left_out",
  help: "Processes without a node at the last scan, by reason (kernel_thread, young: alive less than the minimum age, container_cap, host_cap).",
  labelNames: ["reason"] as const,
  registers: [registry],
});
export const scanSeconds = new Gauge({
  name: "antimetal_runtime_graph_scan_seconds",
  help: "Wall time of the last runtime graph scan (discovery, process listing, diff and store write).",
  registers: [registry],
});
