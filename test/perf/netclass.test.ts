// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The netclass collector over a fixture /sys/class/net and its node_network_* families: what node_exporter
// 1.5 serves for an up link, a down link (no carrier, dormant or speed), unknown speed and bonding_masters.

import { afterAll, describe, expect, test } from "bun:test";
import { metricEvent } from "../../src/perf/collector.ts";
import { NetClassCollector } from "../../src/perf/collectors/netclass.ts";
import { PrometheusExposition } from "../../src/perf/exposition.ts";
import { cleanupTrees, makeTree, pathsFor, sig } from "./tree.ts";

afterAll(cleanupTrees);

const ETH0 = {
  "sys/class/net/eth0/address": "02:fc:00:00:00:01\n",
  "sys/class/net/eth0/broadcast": "ff:ff:ff:ff:ff:ff\n",
  "sys/class/net/eth0/duplex": "full\n",
  "sys/class/net/eth0/ifalias": "uplink\n",
  "sys/class/net/eth0/operstate": "up\n",
  "sys/class/net/eth0/carrier": "1\n",
  "sys/class/net/eth0/carrier_changes": "2\n",
  "sys/class/net/eth0/carrier_up_count": "1\n",
  "sys/class/net/eth0/carrier_down_count": "1\n",
  "sys/class/net/eth0/flags": "0x1003\n",
  "sys/class/net/eth0/ifindex": "4\n",
  "sys/class/net/eth0/mtu": "1400\n",
  "sys/class/net/eth0/speed": "10000\n",
  "sys/class/net/eth0/type": "1\n",
  "sys/class/net/eth0/statistics/rx_nohandler": "7\n",
};

async function render(files: Record<string, string>) {
  const paths = pathsFor(makeTree(files));
  const data = await new NetClassCollector(paths).collect(sig());
  const expo = new PrometheusExposition();
  expo.accept(metricEvent("netclass", data, "gauge", "n"));
  return { data, text: await expo.render() };
}

describe("netclass collector and node_network_* families", () => {
  test("an up link: info labels, properties, speed in bytes, nohandler", async () => {
    const { text } = await render(ETH0);
    for (const line of [
      'node_network_info{address="02:fc:00:00:00:01",broadcast="ff:ff:ff:ff:ff:ff",device="eth0",duplex="full",ifalias="uplink",operstate="up"} 1',
      'node_network_up{device="eth0"} 1',
      'node_network_carrier{device="eth0"} 1',
      'node_network_carrier_changes_total{device="eth0"} 2',
      'node_network_carrier_up_changes_total{device="eth0"} 1',
      'node_network_flags{device="eth0"} 4099',
      'node_network_iface_id{device="eth0"} 4',
      'node_network_mtu_bytes{device="eth0"} 1400',
      'node_network_protocol_type{device="eth0"} 1',
      'node_network_speed_bytes{device="eth0"} 1250000000',
      'node_network_receive_nohandler_total{device="eth0"} 7',
      "# TYPE node_network_carrier_changes_total counter",
      "# HELP node_network_mtu_bytes Network device property: mtu_bytes",
      "# HELP node_network_up Value is 1 if operstate is 'up', 0 otherwise.",
    ])
      expect(text).toContain(line);
  });

  test("a down link has no carrier or dormant sample; speed -1 is served as -125000; bonding_masters is not an interface", async () => {
    const { data, text } = await render({
      ...ETH0,
      "sys/class/net/eth0/speed": "-1\n",
      "sys/class/net/ifb0/operstate": "down\n",
      "sys/class/net/ifb0/mtu": "1500\n",
      "sys/class/net/bonding_masters": "bond0\n",
    });
    expect(data.map((i) => i.name)).toEqual(["eth0", "ifb0"]);
    expect(text).toContain('node_network_speed_bytes{device="eth0"} -125000');
    expect(text).toContain('node_network_up{device="ifb0"} 0');
    expect(text).toContain('node_network_info{address="",broadcast="",device="ifb0",duplex="",ifalias="",operstate="down"} 1');
    expect(text).toContain('node_network_mtu_bytes{device="ifb0"} 1500');
    expect(text).not.toContain('node_network_carrier{device="ifb0"}');
    expect(text).not.toContain('node_network_speed_bytes{device="ifb0"}');
  });

  test("an interface with a malformed attribute is left out, the others stay", async () => {
    const { data } = await render({ ...ETH0, "sys/class/net/bad0/mtu": "lots\n" });
    expect(data.map((i) => i.name)).toEqual(["eth0"]);
  });

  test("a missing /sys/class/net fails the collector naming the directory", async () => {
    const paths = pathsFor(makeTree({ "sys/class/other": "x" }));
    await expect(new NetClassCollector(paths).collect(sig())).rejects.toThrow("failed to read network interfaces at");
  });
});
