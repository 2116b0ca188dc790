// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_network_* from the netclass collector (/sys/class/net/<iface>), as node_exporter 1.5's netclass
// collector serves them (and node_network_receive_nohandler_total, which its netdev collector serves).

import type { NetClassIface } from "../parsers/netclass.ts";
import { type FamilyGroup, type Kind, n, type Sample } from "./family.ts";

type NumericField = {
  [K in keyof NetClassIface]-?: NetClassIface[K] extends number | undefined ? K : never;
}[keyof NetClassIface];

/** node_exporter's property name, type and the record field it reads (emitted only where the file was readable). */
const PROPERTIES: [string, Kind, NumericField][] = [
  ["address_assign_type", "gauge", "addr_assign_type"],
  ["carrier", "gauge", "carrier"],
  ["carrier_changes_total", "counter", "carrier_changes"],
  ["carrier_up_changes_total", "counter", "carrier_up_count"],
  ["carrier_down_changes_total", "counter", "carrier_down_count"],
  ["device_id", "gauge", "dev_id"],
  ["dormant", "gauge", "dormant"],
  ["flags", "gauge", "flags"],
  ["iface_id", "gauge", "ifindex"],
  ["iface_link", "gauge", "iflink"],
  ["iface_link_mode", "gauge", "link_mode"],
  ["mtu_bytes", "gauge", "mtu"],
  ["name_assign_type", "gauge", "name_assign_type"],
  ["net_dev_group", "gauge", "netdev_group"],
  ["transmit_queue_length", "gauge", "tx_queue_len"],
  ["protocol_type", "gauge", "type"],
];

export const netclassFamilies: FamilyGroup = {
  name: "netclass",
  types: ["netclass"],
  define(d, fam) {
    const ifaces = () => d.get("netclass") ?? [];
    fam("node_network_info", "gauge", "Non-numeric data from /sys/class/net/<iface>, value is always 1.", () =>
      ifaces().map((i) => ({
        labels: {
          address: i.address ?? "",
          broadcast: i.broadcast ?? "",
          device: i.name,
          duplex: i.duplex ?? "",
          ifalias: i.ifalias ?? "",
          operstate: i.operstate ?? "",
        },
        value: 1,
      })),
    );
    fam("node_network_up", "gauge", "Value is 1 if operstate is 'up', 0 otherwise.", () =>
      ifaces().map((i) => ({ labels: { device: i.name }, value: i.operstate === "up" ? 1 : 0 })),
    );
    for (const [property, kind, field] of PROPERTIES) {
      fam(`node_network_${property}`, kind, `Network device property: ${property}`, () =>
        ifaces().flatMap((i): Sample[] => (i[field] === undefined ? [] : [{ labels: { device: i.name }, value: i[field] }])),
      );
    }
    // Mbps to bytes/s; -1 (unknown) is served as -125000, as node_exporter does without --collector.netclass.ignore-invalid-speed.
    fam("node_network_speed_bytes", "gauge", "Network device property: speed_bytes", () =>
      ifaces().flatMap((i): Sample[] => (i.speed === undefined ? [] : [{ labels: { device: i.name }, value: i.speed * 125000 }])),
    );
    fam("node_network_receive_nohandler_total", "counter", "Network device statistic receive_nohandler.", () =>
      ifaces().flatMap((i): Sample[] => (i.rx_nohandler === undefined ? [] : [{ labels: { device: i.name }, value: n(i.rx_nohandler) }])),
    );
  },
};
