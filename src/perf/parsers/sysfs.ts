// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parsers for sysfs attribute files (single u64 values, cpulists, NUMA distances, I/O scheduler) and
// the original's network interface type rule.

import { fields, parseI32, parseU64 } from "./num.ts";

/** A single-value sysfs file as u64 (trimmed); undefined if it is not one ("-1" speed, "max"). */
export function parseSysfsU64(text: string | undefined): bigint | undefined {
  return text === undefined ? undefined : parseU64(text.trim());
}

/** A cpulist such as "0-3,8,10-11,15" -> [0,1,2,3,8,10,11,15]; empty or blank -> []. Bad parts are skipped. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(",")) {
    const p = part.trim();
    if (!p) continue;
    const dash = p.indexOf("-");
    if (dash < 0) {
      const v = parseI32(p);
      if (v !== undefined) out.push(v);
      continue;
    }
    const a = parseI32(p.slice(0, dash));
    const b = parseI32(p.slice(dash + 1));
    if (a === undefined || b === undefined || b < a || b - a > 65536) continue;
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/** nodeN/distance: space-separated ints; invalid tokens skipped. */
export function parseDistance(text: string): number[] {
  const out: number[] = [];
  for (const t of fields(text)) {
    const v = parseI32(t);
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** queue/scheduler: the bracketed entry ("noop deadline [cfq]" -> "cfq"), else the trimmed text ("none"). */
export function parseScheduler(text: string): string {
  const m = /\[([^\]]*)\]/.exec(text);
  return m ? m[1]! : text.trim();
}

/** ARPHRD type codes from /sys/class/net/<if>/type that the original maps. */
export function interfaceTypeFromCode(code: number | undefined): string | undefined {
  switch (code) {
    case 1:
      return "ethernet";
    case 772:
      return "loopback";
    case 776:
    case 778:
      return "tunnel";
    default:
      return undefined;
  }
}

/**
 * The original's network interface type rule, given what exists: wireless/ dir, the name, the type
 * code, and whether a device link exists.
 */
export function interfaceType(name: string, o: { wireless: boolean; typeCode: number | undefined; hasDevice: boolean }): string {
  if (o.wireless) return "wireless";
  if (name === "lo") return "loopback";
  const byCode = interfaceTypeFromCode(o.typeCode);
  if (byCode) return byCode;
  const prefixes: [string, string][] = [
    ["eth", "ethernet"],
    ["wlan", "wireless"],
    ["tun", "tunnel"],
    ["tap", "tap"],
    ["veth", "virtual"],
    ["docker", "bridge"],
    ["br-", "bridge"],
    ["virbr", "bridge"],
  ];
  for (const [p, t] of prefixes) if (name.startsWith(p)) return t;
  if (o.hasDevice) return "ethernet";
  return "virtual";
}
