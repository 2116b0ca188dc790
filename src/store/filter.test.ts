// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of type filters: dot-segment prefixes and kind/type descriptor lists (kind-only included).

import { expect, test } from "bun:test";
import { matchesFilters, segmentPrefix } from "./filter.ts";

test("dot-segment prefix", () => {
  expect(segmentPrefix("a.b", "a.b")).toBe(true);
  expect(segmentPrefix("a.b", "a.b.C")).toBe(true);
  expect(segmentPrefix("a.b", "a.b.c.D")).toBe(true);
  expect(segmentPrefix("a.b", "a.bc")).toBe(false);
  expect(segmentPrefix("SimpleType", "SimpleTypeExtended")).toBe(false);
  expect(segmentPrefix("a.b.c", "a.b")).toBe(false);
});

test("filter lists: any descriptor; kind and type both when set; kind-only works; empty matches all", () => {
  const R = "resource.v1.Resource";
  expect(matchesFilters([], R, "x.y")).toBe(true);
  expect(matchesFilters([{ kind: "", type: "" }], R, "x.y")).toBe(true);
  expect(matchesFilters([{ kind: R, type: "" }], R, "x.y")).toBe(true);
  expect(matchesFilters([{ kind: R, type: "" }], "resource.v1.Relationship", "x.y")).toBe(false);
  expect(matchesFilters([{ kind: R, type: "x" }], R, "x.y")).toBe(true);
  expect(matchesFilters([{ kind: R, type: "z" }], R, "x.y")).toBe(false);
  expect(
    matchesFilters(
      [
        { kind: "", type: "z" },
        { kind: "", type: "x" },
      ],
      R,
      "x.y",
    ),
  ).toBe(true);
  expect(matchesFilters([{ kind: "", type: "x" }], undefined, undefined)).toBe(false);
});
