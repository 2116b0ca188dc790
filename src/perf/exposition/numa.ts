// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_memory_numa_* from the numa_stats collector, as node_exporter's meminfo_numa collector.

import { type FamilyGroup, n } from "./family.ts";

export const numaFamilies: FamilyGroup = {
  name: "numa_stats",
  types: ["numa_stats"],
  define(d, fam) {
    const nodes = () => d.get("numa_stats")?.nodes ?? [];
    for (const k of ["numa_hit", "numa_miss", "numa_foreign", "interleave_hit", "local_node", "other_node"] as const) {
      fam(`node_memory_numa_${k}_total`, "counter", `Memory information field ${k}_total.`, () =>
        nodes().map((x) => ({ labels: { node: String(x.id) }, value: n(x[k]) })),
      );
    }
  },
};
