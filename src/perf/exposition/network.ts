// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_network_* from the network collector (/proc/net/dev and /sys/class/net), as node_exporter's netdev
// and netclass collectors.

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
    fam("node_network_speed_bytes", "gauge", "Network device property: speed_bytes (Mbps x 125000).", () =>
      nets()
        .filter((i) => i.speed > 0n)
        .map((i) => ({ labels: { device: i.interface }, value: n(i.speed) * 125000 })),
    );
    fam("node_network_up", "gauge", 'Value is 1 if operstate is "up", 0 otherwise.', () =>
      nets().map((i) => ({ labels: { device: i.interface }, value: i.oper_state === "up" ? 1 : 0 })),
    );
    fam("node_network_carrier", "gauge", "Network device property: carrier.", () =>
      nets().map((i) => ({ labels: { device: i.interface }, value: i.link_detected ? 1 : 0 })),
    );
  },
};
