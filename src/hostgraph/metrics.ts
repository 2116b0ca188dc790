// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The host graph's self metrics, apart from its code: `run` registers them at start (so /metrics lists
// them from the first scrape) while the host graph's modules load only when it starts.

import { Counter, Gauge } from "prom-client";
import { registry } from "../metrics/registry.ts";

export const writes = new Counter({
  name: "antimetal_hostgraph_writes_total",
  help: "Store writes made by the host graph, by operation (upsert, delete, relationship_add, relationship_delete).",
  labelNames: ["op"] as const,
  registers: [registry],
});
export const refreshes = new Counter({
  name: "antimetal_hostgraph_refreshes_total",
  help: "Host graph refreshes, by result (ok, partial: a collector failed, error).",
  labelNames: ["result"] as const,
  registers: [registry],
});
export const graphSize = new Gauge({
  name: "antimetal_hostgraph_objects",
  help: "Resources and relationships in this host's graph after the last refresh.",
  labelNames: ["entity"] as const,
  registers: [registry],
});
