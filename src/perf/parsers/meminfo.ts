// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parsers for /proc/meminfo and per-NUMA-node meminfo: key to raw u64 value, malformed lines counted.

import { fields, lines, parseU64 } from "./num.ts";

/**
 * Parses /proc/meminfo (or a node's meminfo with `perNode`): key without the trailing ':' to the
 * raw number (the unit is ignored, as in the original). Values that are not u64 are skipped and counted.
 */
export function parseMeminfo(text: string): { values: Map<string, bigint>; malformed: number; kb: Set<string> } {
  const values = new Map<string, bigint>();
  /** Keys whose line carried a "kB" unit (the rest, like HugePages_Total, are counts). */
  const kb = new Set<string>();
  let malformed = 0;
  for (const line of lines(text)) {
    const f = fields(line);
    if (f.length === 0) continue;
    if (f.length < 2) {
      malformed++;
      continue;
    }
    const key = f[0]!.endsWith(":") ? f[0]!.slice(0, -1) : f[0]!;
    const v = parseU64(f[1]);
    if (v === undefined) {
      malformed++;
      continue;
    }
    values.set(key, v);
    if (f[2] === "kB") kb.add(key);
  }
  return { values, malformed, kb };
}

/**
 * Parses /sys/devices/system/node/nodeN/meminfo ("Node 0 MemFree:  12345 kB"): lines with at least 4
 * fields, key = field 2 without ':', value = field 3.
 */
export function parseNodeMeminfo(text: string): { values: Map<string, bigint>; malformed: number } {
  const values = new Map<string, bigint>();
  let malformed = 0;
  for (const line of lines(text)) {
    const f = fields(line);
    if (f.length === 0) continue;
    if (f.length < 4) {
      malformed++;
      continue;
    }
    const key = f[2]!.endsWith(":") ? f[2]!.slice(0, -1) : f[2]!;
    const v = parseU64(f[3]);
    if (v === undefined) {
      malformed++;
      continue;
    }
    values.set(key, v);
  }
  return { values, malformed };
}
