// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit test of the reflector cache's form of a resourceVersion: plain decimals become numbers, and
// two resourceVersions compare equal in that form exactly when the strings are equal.

import { expect, test } from "bun:test";
import { cachedRv } from "./reflector.ts";

test("cachedRv is one-to-one: equal forms iff equal resourceVersions; plain decimals up to 15 digits as numbers", () => {
  const rvs = [
    "",
    "0",
    "00",
    "007",
    "7",
    "70",
    "1e3",
    "1000",
    " 12",
    "12 ",
    "+12",
    "12.0",
    "0x1f",
    "999999999999999",
    "1000000000000000",
    "9007199254740993",
    "9007199254740992",
    "abc",
    "12345678901234567890",
  ];
  for (const a of rvs) for (const b of rvs) expect(cachedRv(a) === cachedRv(b)).toBe(a === b);
  expect(cachedRv("1000")).toBe(1000);
  expect(cachedRv("999999999999999")).toBe(999999999999999);
  expect(cachedRv("1000000000000000")).toBe("1000000000000000");
  expect(cachedRv("007")).toBe("007");
  for (const rv of rvs) {
    const v = cachedRv(rv);
    expect(String(v)).toBe(rv);
  }
});
