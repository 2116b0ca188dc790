// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_arp_entries and node_softnet_* from the arp and softnet collectors (node_exporter's arp and softnet
// collectors).

import type { FamilyGroup } from "./family.ts";

export const netTableFamilies: FamilyGroup = {
  name: "net_tables",
  types: ["arp", "softnet"],
  define(d, fam) {
    fam("node_arp_entries", "gauge", "ARP entries by device", () =>
      (d.get("arp") ?? []).map((a) => ({ labels: { device: a.device }, value: a.entries })),
    );
    const softnet = () => d.get("softnet") ?? [];
    fam("node_softnet_processed_total", "counter", "Number of processed packets", () =>
      softnet().map((r) => ({ labels: { cpu: String(r.cpu) }, value: r.processed })),
    );
    fam("node_softnet_dropped_total", "counter", "Number of dropped packets", () =>
      softnet().map((r) => ({ labels: { cpu: String(r.cpu) }, value: r.dropped })),
    );
    fam("node_softnet_times_squeezed_total", "counter", "Number of times processing packets ran out of quota", () =>
      softnet().map((r) => ({ labels: { cpu: String(r.cpu) }, value: r.time_squeeze })),
    );
  },
};
