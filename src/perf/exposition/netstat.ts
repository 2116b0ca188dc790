// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_netstat_*, node_sockstat_* and node_tcp_connection_states from the tcp collector, as node_exporter's
// netstat, sockstat and tcpstat collectors.

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

export const netstatFamilies: FamilyGroup = {
  name: "tcp",
  types: ["tcp"],
  define(d, fam) {
    const tcpx = () => getExtra(d.get("tcp"));
    for (const key of NETSTAT_KEYS) {
      fam(`node_netstat_${key}`, "untyped", `Statistic ${key.replace("_", "")}.`, () => {
        const x = tcpx();
        const v = x?.snmp.get(key) ?? x?.netstat.get(key);
        return v === undefined ? [] : [{ labels: {}, value: n(v) }];
      });
    }
    for (const key of SOCKSTAT_KEYS) {
      fam(`node_sockstat_${key}`, "gauge", `Number of ${key} sockets in state ${key.split("_").pop()}.`, () => {
        const v = tcpx()?.sockstat.get(key);
        return v === undefined ? [] : [{ labels: {}, value: n(v) }];
      });
    }
    fam("node_sockstat_TCP_mem_bytes", "gauge", "Number of TCP sockets in state mem_bytes.", () => {
      const v = tcpx()?.sockstat.get("TCP_mem");
      return v === undefined ? [] : [{ labels: {}, value: n(v) * d.pageSize }];
    });
    fam("node_tcp_connection_states", "gauge", "Number of connection states.", () => {
      const s = d.get("tcp")?.connections_by_state;
      return s ? Object.entries(s).map(([k, v]) => ({ labels: { state: k.toLowerCase() }, value: v })) : [];
    });
  },
};
