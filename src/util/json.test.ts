// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of stringifyExact: bigints as exact JSON integers, marker-like strings, nesting and indent.

import { expect, test } from "bun:test";
import { stringifyExact } from "./json.ts";

test("bigint values print as exact integers", () => {
  const text = stringifyExact({ max: 18446744073709551615n, small: 1n, n: 1.5, s: "x" });
  expect(text).toBe('{"max":18446744073709551615,"small":1,"n":1.5,"s":"x"}');
});

test("strings that look like markers are left alone", () => {
  expect(stringifyExact({ s: "bigint0" })).toBe('{"s":"bigint0"}');
});

test("nested arrays and indentation", () => {
  expect(stringifyExact([{ a: 2n ** 64n - 1n }], 1)).toBe('[\n {\n  "a": 18446744073709551615\n }\n]');
});
