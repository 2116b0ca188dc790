// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// /proc/net/route: the IPv4 routes (pure, from text), and assignIpv4, which gives each local
// address the interface of the longest connected route covering it.

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
      if (r.mask === 0 || (v & r.mask) >>> 0 !== r.dest) continue;
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
