// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parser for /proc/vmstat and the per-node vmstat/numastat files: "key value" lines to u64 values.

import { fields, lines, parseU64 } from "./num.ts";

/**
 * Parses /proc/vmstat (also nodeN/vmstat and nodeN/numastat, which share the format): only lines with
 * exactly 2 fields count; values that are not u64 are left out and counted as malformed.
 */
export function parseVmstat(text: string): { values: Map<string, bigint>; malformed: number } {
  const values = new Map<string, bigint>();
  let malformed = 0;
  for (const line of lines(text)) {
    const f = fields(line);
    if (f.length === 0) continue;
    if (f.length !== 2) {
      malformed++;
      continue;
    }
    const v = parseU64(f[1]);
    if (v === undefined) {
      malformed++;
      continue;
    }
    values.set(f[0]!, v);
  }
  return { values, malformed };
}
