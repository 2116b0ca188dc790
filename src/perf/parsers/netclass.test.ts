// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the /sys/class/net/<iface> attribute parser: a live link, a down link whose kernel refuses
// carrier and speed, hex flags and dev_id, speed -1, odd names and malformed values named by file.

import { describe, expect, test } from "bun:test";
import { parseNetClassIface } from "./netclass.ts";

describe("parseNetClassIface", () => {
  test("an up ethernet link", () => {
    const r = parseNetClassIface("eth0", {
      address: "02:fc:00:00:00:01\n",
      broadcast: "ff:ff:ff:ff:ff:ff\n",
      duplex: "full\n",
      ifalias: "\n",
      operstate: "up\n",
      addr_assign_type: "0\n",
      carrier: "1\n",
      carrier_changes: "2\n",
      carrier_up_count: "1\n",
      carrier_down_count: "1\n",
      dev_id: "0x0\n",
      dormant: "0\n",
      flags: "0x1003\n",
      ifindex: "4\n",
      iflink: "4\n",
      link_mode: "0\n",
      mtu: "1400\n",
      name_assign_type: "1\n",
      netdev_group: "0\n",
      speed: "10000\n",
      tx_queue_len: "1000\n",
      type: "1\n",
      "statistics/rx_nohandler": "18446744073709551615\n",
    });
    expect(r).toEqual({
      name: "eth0",
      address: "02:fc:00:00:00:01",
      broadcast: "ff:ff:ff:ff:ff:ff",
      duplex: "full",
      ifalias: "",
      operstate: "up",
      addr_assign_type: 0,
      carrier: 1,
      carrier_changes: 2,
      carrier_up_count: 1,
      carrier_down_count: 1,
      dev_id: 0,
      dormant: 0,
      flags: 4099,
      ifindex: 4,
      iflink: 4,
      link_mode: 0,
      mtu: 1400,
      name_assign_type: 1,
      netdev_group: 0,
      speed: 10000,
      tx_queue_len: 1000,
      type: 1,
      rx_nohandler: 18446744073709551615n,
    });
  });
  test("a down link: carrier, dormant, speed and duplex unreadable are absent; speed -1 kept", () => {
    const down = parseNetClassIface("ifb0", { operstate: "down\n", flags: "0x82\n", mtu: "1500\n" });
    expect(down).toEqual({ name: "ifb0", operstate: "down", flags: 130, mtu: 1500 });
    expect(parseNetClassIface("eth1", { speed: "-1\n" }).speed).toBe(-1);
  });
  test("odd interface names are kept as they are", () => {
    expect(parseNetClassIface("veth-a.b@c:1", {}).name).toBe("veth-a.b@c:1");
  });
  test("a malformed value names the file", () => {
    expect(() => parseNetClassIface("eth0", { mtu: "big\n" })).toThrow('class/net/eth0/mtu: "big" is not a number');
    expect(() => parseNetClassIface("eth0", { carrier: "0x1\n" })).toThrow('class/net/eth0/carrier: "0x1" is not a number');
    expect(() => parseNetClassIface("eth0", { "statistics/rx_nohandler": "-3\n" })).toThrow("class/net/eth0/statistics/rx_nohandler");
  });
});
