// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Prometheus self-metrics of the Kubernetes controller: watch events, relists, watch errors, graph
// errors, leadership and initial sync time.

import { Counter, Gauge } from "prom-client";
import { registry } from "../metrics/registry.ts";

const lastProgress = new Map<string, number>();

/** Self-metrics of the Kubernetes controller, on the shared /metrics registry. */
export const kubeMetrics = {
  watchEvents: new Counter({
    name: "antimetal_kube_watch_events_total",
    help: "Watch events received, by kind and event type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR).",
    labelNames: ["kind", "type"] as const,
    registers: [registry],
  }),
  relists: new Counter({
    name: "antimetal_kube_relists_total",
    help: "Full LISTs after the initial one, by kind and reason (gone = 410 resourceVersion too old).",
    labelNames: ["kind", "reason"] as const,
    registers: [registry],
  }),
  watchRestarts: new Counter({
    name: "antimetal_kube_watch_errors_total",
    help: "LIST/WATCH failures retried with backoff, by kind and reason.",
    labelNames: ["kind", "reason"] as const,
    registers: [registry],
  }),
  objects: new Gauge({
    name: "antimetal_kube_objects",
    help: "Objects of each kind currently tracked.",
    labelNames: ["kind"] as const,
    registers: [registry],
  }),
  staleness: new Gauge({
    name: "antimetal_kube_watch_staleness_seconds",
    help: "Seconds since the watch of each kind last made progress (event, bookmark or (re)connect).",
    labelNames: ["kind"] as const,
    registers: [registry],
    collect() {
      const now = Date.now();
      for (const [kind, t] of lastProgress) this.set({ kind }, (now - t) / 1000);
    },
  }),
  graphErrors: new Counter({
    name: "antimetal_kube_graph_errors_total",
    help: "Objects the graph reconciler failed to write, by kind.",
    labelNames: ["kind"] as const,
    registers: [registry],
  }),
  isLeader: new Gauge({
    name: "antimetal_kube_leader",
    help: "1 while this agent holds the leader Lease, else 0.",
    registers: [registry],
  }),
  leaderInfo: new Gauge({
    name: "antimetal_kube_leader_info",
    help: "Current holder of the leader Lease as seen by this agent (value 1), with the lease's transition count as term.",
    labelNames: ["lease", "identity", "term"] as const,
    registers: [registry],
  }),
  leaderTransitions: new Gauge({
    name: "antimetal_kube_leader_term",
    help: "leaseTransitions of the leader Lease (increments on every change of holder).",
    registers: [registry],
  }),
  syncSeconds: new Gauge({
    name: "antimetal_kube_initial_sync_seconds",
    help: "Seconds from controller start until every kind had listed and the graph was written.",
    registers: [registry],
  }),
  progress(kind: string): void {
    lastProgress.set(kind, Date.now());
  },
  forget(kind: string): void {
    lastProgress.delete(kind);
    this.staleness.remove({ kind });
  },
};
