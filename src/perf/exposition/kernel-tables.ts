// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_nf_conntrack_*, node_filefd_* and node_entropy_* from the conntrack, filefd and entropy collectors
// (node_exporter's conntrack, filefd and entropy collectors).

import type { ConntrackStat } from "../parsers/kernel-tables.ts";
import { type FamilyGroup, n, one } from "./family.ts";

/** node_nf_conntrack_stat_* (all gauges in node_exporter 1.5), in its order. */
const CONNTRACK_STAT_FAMILIES: [keyof ConntrackStat, string][] = [
  ["found", "Number of searched entries which were successful."],
  ["invalid", "Number of packets seen which can not be tracked."],
  ["ignore", "Number of packets seen which are already connected to a conntrack entry."],
  ["insert", "Number of entries inserted into the list."],
  ["insert_failed", "Number of entries for which list insertion was attempted but failed."],
  ["drop", "Number of packets dropped due to conntrack failure."],
  ["early_drop", "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached."],
  ["search_restart", "Number of conntrack table lookups which had to be restarted due to hashtable resizes."],
];

export const kernelTableFamilies: FamilyGroup = {
  name: "kernel_tables",
  types: ["conntrack", "filefd", "entropy"],
  define(d, fam) {
    const ct = () => d.get("conntrack") ?? undefined;
    fam("node_nf_conntrack_entries", "gauge", "Number of currently allocated flow entries for connection tracking.", () =>
      one(ct() && n(ct()!.entries)),
    );
    fam("node_nf_conntrack_entries_limit", "gauge", "Maximum size of connection tracking table.", () =>
      one(ct() && n(ct()!.entries_limit)),
    );
    for (const [key, help] of CONNTRACK_STAT_FAMILIES)
      fam(`node_nf_conntrack_stat_${key}`, "gauge", help, () => {
        const s = ct()?.stat;
        return one(s ? n(s[key]) : undefined);
      });
    const fd = () => d.get("filefd");
    fam("node_filefd_allocated", "gauge", "File descriptor statistics: allocated.", () => one(fd() && n(fd()!.allocated)));
    fam("node_filefd_maximum", "gauge", "File descriptor statistics: maximum.", () => one(fd() && n(fd()!.maximum)));
    const ent = () => d.get("entropy");
    fam("node_entropy_available_bits", "gauge", "Bits of available entropy.", () => one(ent() && n(ent()!.available_bits)));
    fam("node_entropy_pool_size_bits", "gauge", "Bits of entropy pool.", () => one(ent() && n(ent()!.pool_size_bits)));
  },
};
