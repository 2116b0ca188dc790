// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import { expect, test } from "bun:test";
import { assignIpv4, formatIpv6, parseFibTrieLocal, parseIfInet6, parseRoutes } from "./netaddr.ts";

test("formatIpv6 follows RFC 5952", () => {
  expect(formatIpv6("00000000000000000000000000000001")).toBe("::1");
  expect(formatIpv6("00000000000000000000000000000000")).toBe("::");
  expect(formatIpv6("fe800000000000000202b3fffe1e8329")).toBe("fe80::202:b3ff:fe1e:8329");
  expect(formatIpv6("20010db8000000010000000000000001")).toBe("2001:db8:0:1::1");
  // a single zero group is not compressed; the first of two equal runs is
  expect(formatIpv6("20010db8000000010001000100010001")).toBe("2001:db8:0:1:1:1:1:1");
  expect(formatIpv6("20010000000000010000000000000001")).toBe("2001:0:0:1::1");
  expect(formatIpv6("20010db8000000000001000000000001")).toBe("2001:db8::1:0:0:1");
});

test("parseIfInet6 groups by interface, sorted", () => {
  const m = parseIfInet6(
    "fe80000000000000a1b2c3fffed4e5f6 03 40 20 80 wlp0s20f3\n00000000000000000000000000000001 01 80 10 80       lo\n2a0104f8000000000000000000000042 03 40 00 00 wlp0s20f3\ngarbage\n",
  );
  expect([...m.entries()]).toEqual([
    ["wlp0s20f3", ["2a01:4f8::42", "fe80::a1b2:c3ff:fed4:e5f6"]],
    ["lo", ["::1"]],
  ]);
});

const TRIE = `Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     |-- 10.1.2.99
        /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
     +-- 10.0.0.0/24 2 0 2
        |-- 10.0.0.5
           /32 host LOCAL
        |-- 10.0.0.255
           /32 link BROADCAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
     |-- 10.96.0.10
        /32 host LOCAL
     |-- 192.168.7.1
        /32 host LOCAL
`;

test("parseFibTrieLocal takes only the local table's /32 host LOCAL leaves", () => {
  expect(parseFibTrieLocal(TRIE).sort()).toEqual(["10.0.0.5", "10.96.0.10", "127.0.0.1", "192.168.7.1"]);
});

test("assignIpv4 uses the longest connected route and never the default route", () => {
  const routes = parseRoutes(
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
      "eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
      "eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
      "br0\t0007A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
      "wide\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n",
  );
  expect(routes[1]).toEqual({ iface: "eth0", dest: 0x0a000000, mask: 0xffffff00 });
  const m = assignIpv4(parseFibTrieLocal(TRIE), routes);
  expect(Object.fromEntries(m)).toEqual({ eth0: ["10.0.0.5"], lo: ["127.0.0.1"], br0: ["192.168.7.1"], wide: ["10.96.0.10"] });
  // without the /8 route, the IPVS-style service address belongs to no interface
  expect(Object.fromEntries(assignIpv4(["10.96.0.10"], routes.slice(0, 3)))).toEqual({});
});
