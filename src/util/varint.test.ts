// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Varint sizes and bytes at every length boundary, against the plain base-128 definition.

import { expect, test } from "bun:test";
import { putVarint, varintSize } from "./varint.ts";

function base128(n: number): number[] {
  const out: number[] = [];
  while (n >= 128) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

const boundaries = [0, 1, 7, 14, 21, 28, 31, 32, 35, 42, 49].flatMap((bits) => [2 ** bits - 1, 2 ** bits]);

test.each([...boundaries, 300, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER])("varint of %p", (n) => {
  const buf = new Uint8Array(10);
  const end = putVarint(buf, 1, n);
  expect([...buf.subarray(1, end)]).toEqual(base128(n));
  expect(varintSize(n)).toBe(end - 1);
});

test("300 is ac 02 (the protobuf encoding guide's example)", () => {
  const buf = new Uint8Array(2);
  expect(putVarint(buf, 0, 300)).toBe(2);
  expect([...buf]).toEqual([0xac, 0x02]);
});
