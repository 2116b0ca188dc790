// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Protobuf base-128 varints of non-negative safe integers: their encoded size, and writing one into a buffer.

/** Bytes the varint encoding of `n` takes (1 to 8 for a safe integer). */
export function varintSize(n: number): number {
  if (n < 0x10000000) return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4;
  let size = 5;
  for (let rest = Math.floor(n / 0x800000000); rest > 0; rest = Math.floor(rest / 128)) size++;
  return size;
}

/** Writes `n` as a varint at `pos` in `buf` (which has the room) and returns the position after it. */
export function putVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n > 0x7fffffff) {
    buf[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  // now within 31 bits: bit operations
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[pos++] = n;
  return pos;
}
