// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/** Largest u64, the value the kernel prints for "unlimited" in several files. */

export const U64_MAX = 18446744073709551615n;
const U64_MOD = 18446744073709551616n;

/**
 * Go's strconv.ParseUint(s, 10, 64): decimal digits only (no sign, no spaces), at most 2^64-1.
 * Returns undefined on any failure, so callers can leave the field at zero as the original does.
 */
export function parseU64(s: string | undefined): bigint | undefined {
  if (s === undefined || s.length === 0 || s.length > 20) return undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  // Fast path: anything with at most 15 digits fits a double exactly.
  const v = s.length <= 15 ? BigInt(Number(s)) : BigInt(s);
  return v > U64_MAX ? undefined : v;
}

/** parseU64 with 0n for failures (the original's "bad values become 0"). */
export function u64(s: string | undefined): bigint {
  return parseU64(s) ?? 0n;
}

/**
 * u64 for a parser that reports what it could not read: a present field that is not a u64 becomes 0n
 * (the original's value) and is counted; an absent field (an older kernel's shorter line) is 0n, not counted.
 */
export class CountingU64 {
  bad = 0;
  read(s: string | undefined): bigint {
    if (s === undefined) return 0n;
    const v = parseU64(s);
    if (v !== undefined) return v;
    this.bad++;
    return 0n;
  }
}

/** Go's strconv.ParseInt(s, 10, 64) (optional sign), as bigint. */
export function parseI64(s: string | undefined): bigint | undefined {
  if (s === undefined) return undefined;
  if (!/^[+-]?\d{1,19}$/.test(s)) return undefined;
  const v = BigInt(s);
  return v > 9223372036854775807n || v < -9223372036854775808n ? undefined : v;
}

/** Go's strconv.ParseInt(s, 10, 32), as number. */
export function parseI32(s: string | undefined): number | undefined {
  if (s === undefined || !/^[+-]?\d{1,10}$/.test(s)) return undefined;
  const v = Number(s);
  return v > 2147483647 || v < -2147483648 ? undefined : v;
}

/** Go's strconv.ParseFloat(s, 64) for the decimal forms /proc uses. */
export function parseF64(s: string | undefined): number | undefined {
  if (s === undefined || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

/** Unsigned multiply with Go uint64 wrap-around (the original's kB to bytes conversion). */
export function mulWrapU64(a: bigint, b: bigint): bigint {
  return (a * b) % U64_MOD;
}

/** Go strings.Fields: split on runs of ASCII whitespace, no empty fields. */
export function fields(line: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    const ws = c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12;
    if (ws) {
      if (start >= 0) {
        out.push(line.slice(start, i));
        start = -1;
      }
    } else if (start < 0) start = i;
  }
  if (start >= 0) out.push(line.slice(start));
  return out;
}

/** Splits file text into lines without the trailing empty line. */
export function lines(text: string): string[] {
  const ls = text.split("\n");
  if (ls.length > 0 && ls[ls.length - 1] === "") ls.pop();
  return ls;
}

/** Non-negative bigint to number for rates and percentages (exact below 2^53, rounded above). */
export function toNum(v: bigint): number {
  return Number(v);
}
