// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Interface addresses from procfs text (no netlink): IPv6 from /proc/net/if_inet6, IPv4 from the
 * local host entries of /proc/net/fib_trie assigned to an interface through the connected routes
 * of /proc/net/route. Pure functions from text.
 */

/** RFC 5952 text of a 16-byte address given as 32 hex digits. */
export function formatIpv6(hex32: string): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(parseInt(hex32.slice(i * 4, i * 4 + 4), 16));
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

/** The addresses of the local table's "/32 host LOCAL" entries in /proc/net/fib_trie. */
export function parseFibTrieLocal(text: string): string[] {
  const out = new Set<string>();
  let inLocal = false;
  let last: string | undefined;
  for (const line of text.split("\n")) {
    if (line.length > 0 && !/^\s/.test(line)) {
      inLocal = line.trim() === "Local:";
      last = undefined;
      continue;
    }
    if (!inLocal) continue;
    const leaf = /^\s*\|--\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(line);
    if (leaf) {
      last = leaf[1];
      continue;
    }
    if (last && /^\s*\/32\s+host\s+LOCAL\s*$/.test(line)) out.add(last);
  }
  return [...out];
}

export interface Ipv4Route {
  iface: string;
  dest: number;
  mask: number;
}

/** /proc/net/route hex fields are the in-memory (little-endian) u32 of a network-order address. */
function hexLe(s: string): number {
  const v = parseInt(s, 16) >>> 0;
  return (((v & 0xff) << 24) | (((v >>> 8) & 0xff) << 16) | (((v >>> 16) & 0xff) << 8) | ((v >>> 24) & 0xff)) >>> 0;
}

export function parseRoutes(text: string): Ipv4Route[] {
  const out: Ipv4Route[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || !/^[0-9A-Fa-f]{8}$/.test(f[1]!) || !/^[0-9A-Fa-f]{8}$/.test(f[7]!)) continue;
    out.push({ iface: f[0]!, dest: hexLe(f[1]!), mask: hexLe(f[7]!) });
  }
  return out;
}

function ipv4ToU32(ip: string): number {
  return ip.split(".").reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
}

function popcount(v: number): number {
  let c = 0;
  for (let x = v >>> 0; x; x >>>= 1) c += x & 1;
  return c;
}

/**
 * Assigns each local IPv4 address to the interface of the longest non-default route that covers
 * it; 127/8 goes to "lo". Addresses no connected route covers (for example IPVS service addresses
 * on a dummy device) are left out rather than guessed.
 */
export function assignIpv4(locals: string[], routes: Ipv4Route[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const ip of locals) {
    const v = ipv4ToU32(ip);
    let best: Ipv4Route | undefined;
    for (const r of routes) {
      if (r.mask === 0 || ((v & r.mask) >>> 0) !== r.dest) continue;
      if (!best || popcount(r.mask) > popcount(best.mask)) best = r;
    }
    const iface = best?.iface ?? (ip.startsWith("127.") ? "lo" : undefined);
    if (!iface) continue;
    const list = out.get(iface) ?? [];
    list.push(ip);
    out.set(iface, list);
  }
  for (const list of out.values()) list.sort((a, b) => ipv4ToU32(a) - ipv4ToU32(b));
  return out;
}
