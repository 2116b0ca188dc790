// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// /proc/net/if_inet6 text to addresses per interface, in RFC 5952 form.

import { expect, test } from "bun:test";
import { formatIpv6, parseIfInet6 } from "./if-inet6.ts";

test.each([
  ["00000000000000000000000000000001", "::1"],
  ["00000000000000000000000000000000", "::"],
  ["fe800000000000000202b3fffe1e8329", "fe80::202:b3ff:fe1e:8329"],
  ["20010db8000000010000000000000001", "2001:db8:0:1::1"],
  // a single zero group is not compressed; the first of two equal runs is
  ["20010db8000000010001000100010001", "2001:db8:0:1:1:1:1:1"],
  ["20010000000000010000000000000001", "2001:0:0:1::1"],
  ["20010db8000000000001000000000001", "2001:db8::1:0:0:1"],
])("formatIpv6 follows RFC 5952: %p", (hex, text) => {
  expect(formatIpv6(hex)).toBe(text);
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
