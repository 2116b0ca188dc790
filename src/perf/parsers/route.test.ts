// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// /proc/net/route text to routes, and local addresses assigned to interfaces by them.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parseFibTrieLocal } from "./fib-trie.ts";
import { assignIpv4, parseRoutes } from "./route.ts";

const FIB_TRIE = readFileSync(new URL("../../../test/fixtures/perf/samples/fib_trie", import.meta.url), "utf8");

test("assignIpv4 uses the longest connected route and never the default route", () => {
  const routes = parseRoutes(
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
      "eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
      "eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
      "br0\t0007A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
      "wide\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n",
  );
  expect(routes[1]).toEqual({ iface: "eth0", dest: 0x0a000000, mask: 0xffffff00 });
  const m = assignIpv4(parseFibTrieLocal(FIB_TRIE), routes);
  expect(Object.fromEntries(m)).toEqual({ eth0: ["10.0.0.5"], lo: ["127.0.0.1"], br0: ["192.168.7.1"], wide: ["10.96.0.10"] });
  // without the /8 route, the IPVS-style service address belongs to no interface
  expect(Object.fromEntries(assignIpv4(["10.96.0.10"], routes.slice(0, 3)))).toEqual({});
});
