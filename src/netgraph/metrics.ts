// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * /metrics for the service graph, with bounded cardinality: per-edge connection, byte and
 * failed-connect counters for the top N edges by connections (default 100), everything else
 * summed into one series labelled source="other", destination="other". Computed at scrape time
 * from the graph's edge table (a collect callback), so an expired edge's series disappears.
 */

import { Gauge, type Registry } from "prom-client";
import { registry as sharedRegistry } from "../metrics/registry.ts";
import type { Edge, ServiceGraph } from "./graph.ts";

const LABELS = ["source", "source_kind", "destination", "destination_kind"] as const;

function name(e: Edge["subject"]): string {
  const ns = e.ref.namespace?.namespace.case === "kube" ? e.ref.namespace.namespace.value.namespace : "";
  return ns ? `${ns}/${e.ref.name}` : e.ref.name;
}

/** Registers the edge families for `graph` (top `topN` edges + "other") and the attribution counters. */
export function registerNetgraphMetrics(graph: ServiceGraph, topN = 100, registry: Registry = sharedRegistry): void {
  const conns = new Gauge({
    name: "antimetal_netgraph_edge_connections",
    help: `TCP connections completed per service-graph edge since it was first seen (top ${topN} edges; the rest under source="other").`,
    labelNames: LABELS,
    registers: [registry],
    collect() {
      fill(this, (e) => e.connections);
    },
  });
  const failed = new Gauge({
    name: "antimetal_netgraph_edge_failed_connects",
    help: "Connects that never got established per service-graph edge (same edges as antimetal_netgraph_edge_connections).",
    labelNames: LABELS,
    registers: [registry],
    collect() {
      fill(this, (e) => e.failed);
    },
  });
  const bytes = new Gauge({
    name: "antimetal_netgraph_edge_bytes",
    help: "Payload bytes per service-graph edge, direction=to_destination|from_destination (same edges as antimetal_netgraph_edge_connections).",
    labelNames: [...LABELS, "direction"] as const,
    registers: [registry],
    collect() {
      this.reset();
      const { top, rest } = split();
      for (const [, e] of top) {
        const l = labels(e);
        this.set({ ...l, direction: "to_destination" }, Number(e.bytesToObject));
        this.set({ ...l, direction: "from_destination" }, Number(e.bytesFromObject));
      }
      if (rest.length > 0) {
        let to = 0n;
        let from = 0n;
        for (const [, e] of rest) {
          to += e.bytesToObject;
          from += e.bytesFromObject;
        }
        this.set({ ...OTHER, direction: "to_destination" }, Number(to));
        this.set({ ...OTHER, direction: "from_destination" }, Number(from));
      }
    },
  });
  new Gauge({
    name: "antimetal_netgraph_edges",
    help: "Edges in the service graph now; antimetal_netgraph_edges_exported is how many have their own series.",
    registers: [registry],
    collect() {
      this.set(graph.edgeList().length);
    },
  });
  new Gauge({
    name: "antimetal_netgraph_edges_exported",
    help: "Edges with their own series in antimetal_netgraph_edge_* (at most the configured top N).",
    registers: [registry],
    collect() {
      this.set(Math.min(topN, graph.edgeList().length));
    },
  });
  new Gauge({
    name: "antimetal_netgraph_unattributed_flows",
    help: "Flow records not turned into an edge, by reason (no_local_workload, loopback, self, table_full).",
    labelNames: ["reason"] as const,
    registers: [registry],
    collect() {
      for (const [reason, n] of Object.entries(graph.unattributed)) this.set({ reason }, n);
    },
  });

  const OTHER = { source: "other", source_kind: "other", destination: "other", destination_kind: "other" };
  function labels(e: Edge) {
    return { source: name(e.subject), source_kind: e.subject.kind, destination: name(e.object), destination_kind: e.object.kind };
  }
  function split() {
    const all = graph.edgeList().sort((a, b) => b[1].connections - a[1].connections || a[0].localeCompare(b[0]));
    return { top: all.slice(0, topN), rest: all.slice(topN) };
  }
  function fill(g: Gauge<(typeof LABELS)[number]>, value: (e: Edge) => number): void {
    g.reset();
    const { top, rest } = split();
    for (const [, e] of top) g.set(labels(e), value(e));
    if (rest.length > 0)
      g.set(
        OTHER,
        rest.reduce((s, [, e]) => s + value(e), 0),
      );
  }
  void conns;
  void failed;
  void bytes;
}
