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
  return meminfoLines(text, 0);
}

/**
 * Parses /sys/devices/system/node/nodeN/meminfo ("Node 0 MemFree:  12345 kB"): lines with at least 4
 * fields, key = field 2 without ':', value = field 3.
 */
export function parseNodeMeminfo(text: string): { values: Map<string, bigint>; malformed: number } {
  const { values, malformed } = meminfoLines(text, 2);
  return { values, malformed };
}

/**
 * "key: value [kB]" lines whose key is field `at`: a line with fewer than at + 2 fields, or whose value
 * is not a u64, is skipped and counted; `kb` holds the keys whose line carried a "kB" unit (the rest,
 * like HugePages_Total, are counts).
 */
function meminfoLines(text: string, at: number): { values: Map<string, bigint>; malformed: number; kb: Set<string> } {
  const values = new Map<string, bigint>();
  const kb = new Set<string>();
  let malformed = 0;
  for (const line of lines(text)) {
    const f = fields(line);
    if (f.length === 0) continue;
    if (f.length < at + 2) {
      malformed++;
      continue;
    }
    const key = f[at]!.endsWith(":") ? f[at]!.slice(0, -1) : f[at]!;
    const v = parseU64(f[at + 1]);
    if (v === undefined) {
      malformed++;
      continue;
    }
    values.set(key, v);
    if (f[at + 2] === "kB") kb.add(key);
  }
  return { values, malformed, kb };
}
