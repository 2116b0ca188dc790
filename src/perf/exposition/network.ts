// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_network_*_total from the network collector (/proc/net/dev), as node_exporter's netdev collector
// (the /sys/class/net properties are in netclass.ts).

import type { NetworkStats } from "../collectors/network.ts";
import { type FamilyGroup, n } from "./family.ts";

const NETDEV_PAIRS: [string, keyof NetworkStats][] = [
  ["receive_bytes", "rx_bytes"],
  ["receive_packets", "rx_packets"],
  ["receive_errs", "rx_errors"],
  ["receive_drop", "rx_dropped"],
  ["receive_fifo", "rx_fifo"],
  ["receive_frame", "rx_frame"],
  ["receive_compressed", "rx_compressed"],
  ["receive_multicast", "rx_multicast"],
  ["transmit_bytes", "tx_bytes"],
  ["transmit_packets", "tx_packets"],
  ["transmit_errs", "tx_errors"],
  ["transmit_drop", "tx_dropped"],
  ["transmit_fifo", "tx_fifo"],
  ["transmit_colls", "tx_collisions"],
  ["transmit_carrier", "tx_carrier"],
  ["transmit_compressed", "tx_compressed"],
];

export const networkFamilies: FamilyGroup = {
  name: "network",
  types: ["network"],
  define(d, fam) {
    const nets = () => d.get("network") ?? [];
    for (const [suffix, key] of NETDEV_PAIRS) {
      fam(`node_network_${suffix}_total`, "counter", `Network device statistic ${suffix}.`, () =>
        nets().map((i) => ({ labels: { device: i.interface }, value: n(i[key] as bigint) })),
      );
    }
  },
};
