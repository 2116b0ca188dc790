// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of Go-style duration parsing and formatting: valid forms, rejected forms, round-trip.

import { expect, test } from "bun:test";
import { formatDuration, parseDuration } from "./duration.ts";

test("Go-style durations", () => {
  expect(parseDuration("10m")).toBe(600_000);
  expect(parseDuration("1h30m")).toBe(5_400_000);
  expect(parseDuration("500ms")).toBe(500);
  expect(parseDuration("2.5s")).toBe(2500);
  expect(parseDuration("0")).toBe(0);
});

test("bad durations name the reason", () => {
  for (const bad of ["10", "ten", "5 m", "-1s", "", "1d"]) expect(() => parseDuration(bad)).toThrow("invalid duration");
});

test("format round-trips", () => {
  for (const ms of [600_000, 5_400_000, 500, 1000, 20_000]) expect(parseDuration(formatDuration(ms))).toBe(ms);
});
