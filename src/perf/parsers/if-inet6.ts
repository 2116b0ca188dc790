// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// /proc/net/if_inet6: the IPv6 addresses of each interface (pure, from text).

/** RFC 5952 text of a 16-byte address given as 32 hex digits. */
export function formatIpv6(hex32: string): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(parseInt(hex32.slice(i * 4, i * 4 + 4), 16));
  return formatIpv6Groups(groups);
}

/** RFC 5952 text of an IPv6 address given as its eight 16-bit groups (no IPv4-mapped form). */
export function formatIpv6Groups(groups: readonly number[]): string {
  // Longest run of zero groups (length >= 2), first one on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const txt = groups.map((g) => g.toString(16));
  if (bestStart < 0) return txt.join(":");
  const head = txt.slice(0, bestStart).join(":");
  const tail = txt.slice(bestStart + bestLen).join(":");
  return `${head}::${tail}`;
}

/** /proc/net/if_inet6: "addr32hex ifindex prefixlen scope flags ifname" per line -> addresses per interface. */
export function parseIfInet6(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || !/^[0-9a-fA-F]{32}$/.test(f[0]!)) continue;
    const name = f[5]!;
    const list = out.get(name) ?? [];
    list.push(formatIpv6(f[0]!.toLowerCase()));
    out.set(name, list);
  }
  // The kernel lists addresses in hash order; sort so an unchanged set never reads as a change.
  for (const list of out.values()) list.sort();
  return out;
}
