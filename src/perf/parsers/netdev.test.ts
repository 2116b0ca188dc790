// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the /proc/net/dev parser: exact u64 counters, malformed and short lines, odd spacing.

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parseNetDev } from "./netdev.ts";

const SAMPLE = readFileSync(new URL("../../../test/fixtures/perf/samples/net_dev", import.meta.url), "utf8");
const HEAD = SAMPLE.split("\n").slice(0, 2).join("\n") + "\n";

test("3 interfaces with exact counters (acceptance 18)", () => {
  const r = parseNetDev(SAMPLE);
  expect(r.interfaces.map((i) => i.interface)).toEqual(["lo", "eth0", "wlan0"]);
  const e = r.interfaces[1]!;
  expect([e.rxBytes, e.rxPackets, e.rxErrors, e.rxDropped, e.rxFrame, e.rxMulticast]).toEqual([9876543210n, 654321n, 10n, 5n, 2n, 100n]);
  expect([e.txBytes, e.txPackets, e.txErrors, e.txDropped, e.txCollisions, e.txCarrier]).toEqual([8765432109n, 543210n, 20n, 10n, 5n, 3n]);
});

test("line without colon skipped; too few fields -> none; u64 max exact", () => {
  const r = parseNetDev(HEAD + "eth0 1 2 3\n");
  expect(r.interfaces).toEqual([]);
  expect(r.malformed).toBe(1);
  expect(parseNetDev(HEAD + "eth0: 1000 100\n").interfaces).toEqual([]);
  const max = parseNetDev(HEAD + "eth0: 18446744073709551615 0 0 0 0 0 0 0 18446744073709551615 0 0 0 0 0 0 0\n").interfaces[0]!;
  expect(max.rxBytes).toBe(18446744073709551615n);
  expect(max.txBytes).toBe(18446744073709551615n);
});

test("interface names with tabs and no space after the colon", () => {
  const r = parseNetDev(HEAD + "\teth1:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n");
  expect(r.interfaces[0]!.interface).toBe("eth1");
  expect(r.interfaces[0]!.txCompressed).toBe(16n);
});

test("a counter that is not a number is 0 and counted in badNumbers; the interface is kept", () => {
  const r = parseNetDev(HEAD + "eth0: 12x 2 3 4 5 6 7 8 -9 10 11 12 13 14 15 16\n");
  expect(r.interfaces[0]!.rxBytes).toBe(0n);
  expect(r.interfaces[0]!.txBytes).toBe(0n);
  expect(r.interfaces[0]!.rxPackets).toBe(2n);
  expect(r.badNumbers).toBe(2);
  expect(parseNetDev(SAMPLE).badNumbers).toBe(0);
});
