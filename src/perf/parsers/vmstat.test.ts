// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the /proc/vmstat parser on the swap-in/out cases: exact u64, spacing, malformed lines.

import { expect, test } from "bun:test";
import { parseVmstat } from "./vmstat.ts";

test("vmstat swap table (acceptance 13)", () => {
  const g = (t: string) => {
    const v = parseVmstat(t).values;
    return [v.get("pswpin") ?? 0n, v.get("pswpout") ?? 0n];
  };
  expect(g("pswpin 1234567\npswpout 2345678\n")).toEqual([1234567n, 2345678n]);
  expect(g("pswpin 18446744073709551615\npswpout 0\n")).toEqual([18446744073709551615n, 0n]);
  expect(g("pswpin\t1\npswpout\t2\n")).toEqual([1n, 2n]);
  expect(g("   pswpin    5   \n")).toEqual([5n, 0n]);
  expect(g("pswpin1234567\n")).toEqual([0n, 0n]);
  expect(g("pswpin 1234567 extra_value\n")).toEqual([0n, 0n]);
  expect(g("pswpin invalid_value\npswpout 2345678\n")).toEqual([0n, 2345678n]);
  expect(g("pswpin\n")).toEqual([0n, 0n]);
  expect(g("")).toEqual([0n, 0n]);
  expect(g("nr_free_pages 1\n")).toEqual([0n, 0n]);
});
