// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the /proc/net/arp and /proc/net/softnet_stat parsers.

import { describe, expect, test } from "bun:test";
import { parseArp, parseSoftnetStat } from "./net-tables.ts";

const ARP = `IP address       HW type     Flags       HW address            Mask     Device
192.168.1.1      0x1         0x2         cc:aa:dd:ee:ff:00     *        eth0
192.168.1.5      0x1         0x2         cc:aa:dd:ee:ff:01     *        eth0
10.0.0.7         0x1         0x0         00:00:00:00:00:00     *        cali1234
`;

describe("parseArp", () => {
  test("counts entries per device, incomplete ones included", () => {
    expect([...parseArp(ARP)]).toEqual([
      ["eth0", 2],
      ["cali1234", 1],
    ]);
  });
  test("header only: no devices", () => {
    expect(parseArp(ARP.split("\n")[0]! + "\n").size).toBe(0);
  });
  test("a short line names the file and line", () => {
    expect(() => parseArp(ARP + "10.0.0.9 0x1 0x2\n", "/proc/net/arp")).toThrow("/proc/net/arp line 5: unexpected ARP table format");
  });
});

const SOFTNET = `01387f1d 00000000 00000012 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
01525af5 0000000a 00000018 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001 00000000 00000000
`;

describe("parseSoftnetStat", () => {
  test("processed, dropped, time_squeeze per line; cpu is the line index", () => {
    expect(parseSoftnetStat(SOFTNET)).toEqual([
      { cpu: 0, processed: 0x01387f1d, dropped: 0, time_squeeze: 0x12 },
      { cpu: 1, processed: 0x01525af5, dropped: 10, time_squeeze: 0x18 },
    ]);
  });
  test("old kernels' 9-column lines are accepted; u32 max", () => {
    expect(parseSoftnetStat("ffffffff 1 2 0 0 0 0 0 0\n")[0]!.processed).toBe(4294967295);
  });
  test("malformed lines name the file and line", () => {
    expect(() => parseSoftnetStat("1 2 3\n", "/proc/net/softnet_stat")).toThrow("/proc/net/softnet_stat line 1: 3 columns, at least 9");
    expect(() => parseSoftnetStat(SOFTNET + "zz 0 0 0 0 0 0 0 0\n", "s")).toThrow("s line 3: processed is not a hex u32");
  });
});
