// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the PSI (/proc/pressure/*) parser.

import { expect, test } from "bun:test";
import { parsePressure } from "./pressure.ts";

test("some and full lines with totals in microseconds", () => {
  const io = "some avg10=0.22 avg60=0.34 avg300=0.33 total=33777654\nfull avg10=0.00 avg60=0.02 avg300=0.00 total=9756302\n";
  expect(parsePressure(io)).toEqual({
    some: { avg10: 0.22, avg60: 0.34, avg300: 0.33, total: 33777654n },
    full: { avg10: 0, avg60: 0.02, avg300: 0, total: 9756302n },
  });
});

test("cpu before 5.13 has only some; irq has only full", () => {
  expect(parsePressure("some avg10=98.02 avg60=91.43 avg300=80.97 total=3100989546\n").full).toBeUndefined();
  expect(parsePressure("full avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551615\n")).toEqual({
    full: { avg10: 0, avg60: 0, avg300: 0, total: 18446744073709551615n },
  });
});

test("malformed lines name the file and line", () => {
  const f = "/proc/pressure/memory";
  expect(() => parsePressure("some avg10=0 avg60=0 avg300=0 total=1\npartial avg10=0\n", f)).toThrow(`${f} line 2: unknown kind "partial"`);
  expect(() => parsePressure("some avg10=0 avg60=0 avg300=0\n", f)).toThrow(`${f} line 1: total missing`);
  expect(() => parsePressure("some avg10=x avg60=0 avg300=0 total=1\n", f)).toThrow(`${f} line 1: avg10 missing or not a number`);
  expect(() => parsePressure("some avg10\n", f)).toThrow(`${f} line 1: not key=value`);
});
