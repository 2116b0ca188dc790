// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the number helpers: exact u64 parsing, i32 and f64 parsing, Go-style u64 wrap, field split.

import { describe, expect, test } from "bun:test";
import { fields, mulWrapU64, parseF64, parseI32, parseU64, U64_MAX } from "./num.ts";

describe("parseU64", () => {
  test("exact at the u64 limit", () => {
    expect(parseU64("18446744073709551615")).toBe(18446744073709551615n);
    expect(parseU64("18446744073709551615")).toBe(U64_MAX);
  });
  test("overflow, sign, junk and empty are rejected", () => {
    for (const s of ["18446744073709551616", "-1", "+1", "1.5", "abc", "", " 1", "99999999999999999999999"])
      expect(parseU64(s)).toBeUndefined();
  });
  test("small and 16+ digit values", () => {
    expect(parseU64("0")).toBe(0n);
    expect(parseU64("9876543210987654")).toBe(9876543210987654n);
    expect(parseU64("9007199254740993")).toBe(9007199254740993n);
  });
});

test("parseI32 bounds and signs", () => {
  expect(parseI32("2147483647")).toBe(2147483647);
  expect(parseI32("2147483648")).toBeUndefined();
  expect(parseI32("-5")).toBe(-5);
  expect(parseI32("3.14")).toBeUndefined();
});

test("parseF64 accepts decimals only", () => {
  expect(parseF64("0.50")).toBe(0.5);
  expect(parseF64("invalid")).toBeUndefined();
  expect(parseF64("999.99")).toBe(999.99);
});

test("mulWrapU64 wraps like Go uint64", () => {
  expect(mulWrapU64(U64_MAX, 1024n)).toBe(18446744073709550592n);
  expect(mulWrapU64(1n, 1024n)).toBe(1024n);
});

test("fields splits on spaces and tabs like strings.Fields", () => {
  expect(fields("  a\tb   c \n")).toEqual(["a", "b", "c"]);
  expect(fields("   ")).toEqual([]);
});
