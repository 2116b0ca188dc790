// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The tcp collector's IPv6 netstat (/proc/net/snmp6), sockstat (with node_exporter's HELP and the
// mem_bytes families) and udp_queues (/proc/net/udp, udp6) over a fixture /proc, as node_exporter 1.5 serves them.

import { afterAll, describe, expect, test } from "bun:test";
import { metricEvent } from "../../src/perf/collector.ts";
import { TCPCollector } from "../../src/perf/collectors/tcp.ts";
import { PrometheusExposition } from "../../src/perf/exposition.ts";
import { cleanupTrees, makeTree, pathsFor, sample, sig } from "./tree.ts";

afterAll(cleanupTrees);

const SNMP6 = `Ip6InReceives                   \t450
Ip6InOctets                     \t193992
Ip6OutOctets                    \t194744
Icmp6InMsgs                     \t1
Icmp6InErrors                   \t1
Icmp6OutMsgs                    \t9
Udp6InDatagrams                 \t5
Udp6NoPorts                     \t2
Udp6InErrors                    \t0
Udp6OutDatagrams                \t6
Udp6RcvbufErrors                \t0
Udp6SndbufErrors                \t0
UdpLite6InErrors                \t0
`;
const UDP_HEADER = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n";
const UDP = `${UDP_HEADER} 1316: 020200C0:CC1F 35FFFF0A:0035 01 00000000:00000340 00:00000000 00000000     0        0 7739978 2 0000000034d64552 0\n`;

async function render(extra: Record<string, string>) {
  const root = makeTree({
    "proc/net/snmp": sample("snmp"),
    "proc/net/netstat": sample("netstat"),
    "proc/net/tcp": sample("tcp"),
    "proc/net/sockstat":
      "sockets: used 39\nTCP: inuse 13 orphan 0 tw 25 alloc 13 mem 289\nUDP: inuse 2 mem 3\nUDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n",
    "proc/net/sockstat6": "TCP6: inuse 1\nUDP6: inuse 0\nUDPLITE6: inuse 0\nRAW6: inuse 0\nFRAG6: inuse 0 memory 0\n",
    ...extra,
  });
  const expo = new PrometheusExposition({ pageSize: 4096 });
  expo.accept(metricEvent("tcp", await new TCPCollector(pathsFor(root), { tcpStates: "proc" }).collect(sig()), "gauge", "n"));
  return expo.render();
}

describe("IPv6 netstat, sockstat and udp_queues", () => {
  test("snmp6 counters fill the node_netstat_Ip6/Icmp6/Udp6/UdpLite6 families", async () => {
    const text = await render({ "proc/net/snmp6": SNMP6, "proc/net/udp": UDP, "proc/net/udp6": UDP_HEADER });
    for (const line of [
      "node_netstat_Ip6_InOctets 193992",
      "node_netstat_Ip6_OutOctets 194744",
      "node_netstat_Icmp6_InErrors 1",
      "node_netstat_Icmp6_OutMsgs 9",
      "node_netstat_Udp6_InDatagrams 5",
      "node_netstat_Udp6_NoPorts 2",
      "node_netstat_UdpLite6_InErrors 0",
      "# HELP node_netstat_Udp6_OutDatagrams Statistic Udp6OutDatagrams.",
      "# TYPE node_netstat_Ip6_InOctets untyped",
    ])
      expect(text).toContain(line);
    expect(text).not.toContain("node_netstat_Ip6_InReceives"); // not in node_exporter's default field filter
  });

  test("sockstat: node_exporter's HELP texts and TCP/UDP mem in bytes", async () => {
    const text = await render({});
    for (const line of [
      "# HELP node_sockstat_sockets_used Number of IPv4 sockets in use.",
      "# HELP node_sockstat_TCP_inuse Number of TCP sockets in state inuse.",
      "# HELP node_sockstat_FRAG6_memory Number of FRAG6 sockets in state memory.",
      "# HELP node_sockstat_UDP_mem_bytes Number of UDP sockets in state mem_bytes.",
      "node_sockstat_TCP_mem_bytes 1183744",
      "node_sockstat_UDP_mem 3",
      "node_sockstat_UDP_mem_bytes 12288",
      "node_sockstat_TCP6_inuse 1",
    ])
      expect(text).toContain(line);
  });

  test("udp_queues sums the queues of udp and udp6; a missing udp6 (IPv6 off) leaves v6 out", async () => {
    const both = await render({ "proc/net/udp": UDP, "proc/net/udp6": UDP_HEADER });
    expect(both).toContain('node_udp_queues{ip="v4",queue="rx"} 832');
    expect(both).toContain('node_udp_queues{ip="v4",queue="tx"} 0');
    expect(both).toContain('node_udp_queues{ip="v6",queue="rx"} 0');
    expect(both).toContain("# HELP node_udp_queues Number of allocated memory in the kernel for UDP datagrams in bytes.");
    const v4only = await render({ "proc/net/udp": UDP });
    expect(v4only).toContain('node_udp_queues{ip="v4",queue="rx"} 832');
    expect(v4only).not.toContain('ip="v6"');
  });

  test("a malformed udp file leaves only its queues out", async () => {
    const text = await render({ "proc/net/udp": `${UDP} 1317: 0100007F\n`, "proc/net/udp6": UDP_HEADER, "proc/net/snmp6": SNMP6 });
    expect(text).not.toContain('ip="v4"');
    expect(text).toContain('node_udp_queues{ip="v6",queue="rx"} 0');
    expect(text).toContain("node_netstat_Ip6_InOctets 193992");
  });
});
