// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The debug consumer's payload cut, as the original cuts it: back to a "," (dropped) or a "{" (kept).

import { expect, test } from "bun:test";
import { debugConfigFrom, truncateJson } from "./format.ts";

test("payloads over the limit are cut back to a field boundary and say their full size", () => {
  expect(truncateJson('{"a":1}', 10)).toBe('{"a":1}');
  expect(truncateJson('{"a":1,"bb":22}', 10)).toBe('{"a":1... (truncated from 15 bytes)');
  expect(truncateJson('{"abcdefghij":1}', 5)).toBe("{... (truncated from 16 bytes)");
});

test("flags map to the original's config: data from details on, 1024 bytes, timestamps", () => {
  expect(debugConfigFrom("basic", "json")).toEqual({
    level: "basic",
    format: "json",
    includeTimestamp: true,
    includeEventData: false,
    maxDataLength: 1024,
  });
  expect(debugConfigFrom("details", "text").includeEventData).toBe(true);
});
