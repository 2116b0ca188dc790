// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the single-value sysctl, file-nr and /proc/net/stat/nf_conntrack parsers.

import { describe, expect, test } from "bun:test";
import { parseConntrackStat, parseFileNr, parseSingleU64 } from "./kernel-tables.ts";

test("parseSingleU64", () => {
  expect(parseSingleU64("262144\n", "nf_conntrack_max")).toBe(262144n);
  expect(parseSingleU64("18446744073709551615", "x")).toBe(18446744073709551615n);
  expect(() => parseSingleU64("", "/proc/sys/kernel/random/poolsize")).toThrow(
    "/proc/sys/kernel/random/poolsize: expected one unsigned integer",
  );
  expect(() => parseSingleU64("-1\n", "f")).toThrow("f: expected one unsigned integer");
});

test("parseFileNr", () => {
  expect(parseFileNr("1128\t0\t2466262\n")).toEqual({ allocated: 1128n, unused: 0n, maximum: 2466262n });
  expect(parseFileNr("1 0 9223372036854775807").maximum).toBe(9223372036854775807n);
  expect(() => parseFileNr("1 0\n", "/proc/sys/fs/file-nr")).toThrow("/proc/sys/fs/file-nr: expected 3 fields, got 2");
  expect(() => parseFileNr("a 0 1\n", "/proc/sys/fs/file-nr")).toThrow("not unsigned integers");
});

const STAT_6X = `entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart
00000021  00000000 00000001 00000000 00000002 00000003 00000000 00000000 00000004 00000005 00000006 00000007 00000000  00000000 00000000 00000000 00000008
00000021  00000000 00000010 00000000 00000020 00000030 00000000 00000000 00000040 00000050 00000060 00000070 00000000  00000000 00000000 00000000 00000080
`;

describe("parseConntrackStat", () => {
  test("sums the per-CPU hex rows by header name", () => {
    expect(parseConntrackStat(STAT_6X)).toEqual({
      found: 0x11n,
      invalid: 0x22n,
      ignore: 0x33n,
      insert: 0x44n,
      insert_failed: 0x55n,
      drop: 0x66n,
      early_drop: 0x77n,
      search_restart: 0x88n,
    });
  });
  test("an older kernel's header without a column sums it to 0", () => {
    const old =
      "entries searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error expect_new expect_create expect_delete\n" +
      "00000001 00000000 0000000a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n";
    const s = parseConntrackStat(old);
    expect(s.found).toBe(10n);
    expect(s.search_restart).toBe(0n);
  });
  test("malformed rows name the file and line", () => {
    expect(() => parseConntrackStat("entries found\n00000001\n", "/proc/net/stat/nf_conntrack")).toThrow(
      "/proc/net/stat/nf_conntrack line 2: 1 fields, the header names 2",
    );
    expect(() => parseConntrackStat("entries found\n1 zz\n", "nf")).toThrow("nf line 2: found is not hex");
    expect(() => parseConntrackStat("", "nf")).toThrow("nf: empty");
  });
});
