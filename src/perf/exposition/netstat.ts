// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_netstat_*, node_sockstat_*, node_udp_queues and node_tcp_connection_states from the tcp collector,
// as node_exporter's netstat (snmp, netstat, snmp6), sockstat, udp_queues and tcpstat collectors.

import { getExtra } from "../collectors/common.ts";
import { type FamilyGroup, n } from "./family.ts";

/** node_exporter's default netstat field filter, plus the TCP counters the original agent reports. */
const NETSTAT_FIELDS =
  /^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPLostRetransmit|TCPFastRetrans|TCPSlowStartRetrans)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab|AttemptFails|EstabResets|InCsumErrors)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$/;

export const NETSTAT_KEYS = [
  "Ip_Forwarding",
  "IpExt_InOctets",
  "IpExt_OutOctets",
  "Ip6_InOctets",
  "Ip6_OutOctets",
  "Icmp_InErrors",
  "Icmp_InMsgs",
  "Icmp_OutMsgs",
  "Icmp6_InErrors",
  "Icmp6_InMsgs",
  "Icmp6_OutMsgs",
  "Tcp_ActiveOpens",
  "Tcp_PassiveOpens",
  "Tcp_AttemptFails",
  "Tcp_EstabResets",
  "Tcp_CurrEstab",
  "Tcp_InSegs",
  "Tcp_OutSegs",
  "Tcp_RetransSegs",
  "Tcp_InErrs",
  "Tcp_OutRsts",
  "Tcp_InCsumErrors",
  "TcpExt_ListenOverflows",
  "TcpExt_ListenDrops",
  "TcpExt_SyncookiesSent",
  "TcpExt_SyncookiesRecv",
  "TcpExt_SyncookiesFailed",
  "TcpExt_TCPSynRetrans",
  "TcpExt_TCPTimeouts",
  "TcpExt_TCPOFOQueue",
  "TcpExt_TCPLostRetransmit",
  "TcpExt_TCPFastRetrans",
  "TcpExt_TCPSlowStartRetrans",
  "Udp_InDatagrams",
  "Udp_OutDatagrams",
  "Udp_NoPorts",
  "Udp_InErrors",
  "Udp_RcvbufErrors",
  "Udp_SndbufErrors",
  "Udp6_InDatagrams",
  "Udp6_OutDatagrams",
  "Udp6_NoPorts",
  "Udp6_InErrors",
  "Udp6_RcvbufErrors",
  "Udp6_SndbufErrors",
  "UdpLite_InErrors",
  "UdpLite6_InErrors",
].filter((k) => NETSTAT_FIELDS.test(k));

export const SOCKSTAT_KEYS = [
  "sockets_used",
  "TCP_inuse",
  "TCP_orphan",
  "TCP_tw",
  "TCP_alloc",
  "TCP_mem",
  "UDP_inuse",
  "UDP_mem",
  "UDPLITE_inuse",
  "RAW_inuse",
  "FRAG_inuse",
  "FRAG_memory",
  "TCP6_inuse",
  "UDP6_inuse",
  "UDPLITE6_inuse",
  "RAW6_inuse",
  "FRAG6_inuse",
  "FRAG6_memory",
];

/** node_exporter's sockstat HELP: "Number of TCP sockets in state inuse." (sockets_used: IPv4 sockets in use). */
function sockstatHelp(key: string): string {
  if (key === "sockets_used") return "Number of IPv4 sockets in use.";
  const cut = key.indexOf("_");
  return `Number of ${key.slice(0, cut)} sockets in state ${key.slice(cut + 1)}.`;
}

export const netstatFamilies: FamilyGroup = {
  name: "tcp",
  types: ["tcp"],
  define(d, fam) {
    const tcpx = () => getExtra(d.get("tcp"));
    for (const key of NETSTAT_KEYS) {
      fam(`node_netstat_${key}`, "untyped", `Statistic ${key.replace("_", "")}.`, () => {
        const x = tcpx();
        const v = x?.snmp.get(key) ?? x?.netstat.get(key) ?? x?.snmp6?.get(key);
        return v === undefined ? [] : [{ labels: {}, value: n(v) }];
      });
    }
    for (const key of SOCKSTAT_KEYS) {
      fam(`node_sockstat_${key}`, "gauge", sockstatHelp(key), () => {
        const v = tcpx()?.sockstat.get(key);
        return v === undefined ? [] : [{ labels: {}, value: n(v) }];
      });
    }
    // sockstat's mem is in pages; node_exporter adds the value in bytes for TCP and UDP.
    for (const proto of ["TCP", "UDP"]) {
      fam(`node_sockstat_${proto}_mem_bytes`, "gauge", `Number of ${proto} sockets in state mem_bytes.`, () => {
        const v = tcpx()?.sockstat.get(`${proto}_mem`);
        return v === undefined ? [] : [{ labels: {}, value: n(v) * d.pageSize }];
      });
    }
    fam("node_udp_queues", "gauge", "Number of allocated memory in the kernel for UDP datagrams in bytes.", () => {
      const q = tcpx()?.udpQueues;
      if (!q) return [];
      return (["v4", "v6"] as const).flatMap((ip) => {
        const s = q[ip];
        return s === undefined
          ? []
          : [
              { labels: { ip, queue: "tx" }, value: s.txQueue },
              { labels: { ip, queue: "rx" }, value: s.rxQueue },
            ];
      });
    });
    fam("node_tcp_connection_states", "gauge", "Number of connection states.", () => {
      const s = d.get("tcp")?.connections_by_state;
      return s ? Object.entries(s).map(([k, v]) => ({ labels: { state: k.toLowerCase() }, value: v })) : [];
    });
  },
};
