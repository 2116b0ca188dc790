// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the /proc/net/snmp6 and /proc/net/udp{,6} parsers: node_exporter's key split, names
// without "6", malformed lines, empty files, queue sums in hex, a header-only file and a truncated line.

import { describe, expect, test } from "bun:test";
import { parseUdpQueues } from "./netudp.ts";
import { parseSnmp6 } from "./snmp6.ts";

describe("parseSnmp6", () => {
  test("splits at the first 6 and keeps u64 values", () => {
    const r = parseSnmp6(
      "Ip6InReceives                   \t450\nIp6InOctets \t193992\nIcmp6InMsgs 1\nIcmp6InType134 3\nUdpLite6InErrors 0\nUdp6RcvbufErrors 18446744073709551615\n",
    );
    expect(r.malformed).toBe(0);
    expect(Object.fromEntries(r.values)).toEqual({
      Ip6_InReceives: 450n,
      Ip6_InOctets: 193992n,
      Icmp6_InMsgs: 1n,
      Icmp6_InType134: 3n,
      UdpLite6_InErrors: 0n,
      Udp6_RcvbufErrors: 18446744073709551615n,
    });
  });
  test("names without a 6 are skipped; lines without a numeric value are counted", () => {
    const r = parseSnmp6("IpInReceives 4\nIp6InOctets\nIp6OutOctets -1\nIp6InDiscards 1 2\n\n");
    expect(r.values.size).toBe(0);
    expect(r.malformed).toBe(3);
  });
  test("empty file (IPv6 disabled leaves no snmp6)", () => {
    expect(parseSnmp6("").values.size).toBe(0);
  });
});

const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 1316: 020200C0:CC1F 35FFFF0A:0035 01 00000000:00000340 00:00000000 00000000     0        0 7739978 2 0000000034d64552 0
 1317: 0100007F:0035 00000000:0000 07 00000010:00000001 00:00000000 00000000     0        0 7739979 2 0000000034d64553 0
`;

describe("parseUdpQueues", () => {
  test("sums the hex queue columns", () => {
    expect(parseUdpQueues(UDP)).toEqual({ txQueue: 16, rxQueue: 0x341, sockets: 2 });
  });
  test("a header-only file has empty queues", () => {
    expect(parseUdpQueues(UDP.split("\n")[0]!)).toEqual({ txQueue: 0, rxQueue: 0, sockets: 0 });
  });
  test("a truncated line names file and line", () => {
    expect(() => parseUdpQueues(`${UDP} 1318: 0100007F:0035\n`, "/proc/net/udp6")).toThrow(
      "/proc/net/udp6 line 4: no tx_queue:rx_queue column",
    );
  });
});
