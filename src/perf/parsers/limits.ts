// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parser for /proc/<pid>/limits (the soft and hard resource limits of a process), as procfs' ProcLimits.

import { lines, parseU64 } from "./num.ts";

/** One limit: soft and hard values; undefined means "unlimited". */
export interface ProcLimit {
  soft: bigint | undefined;
  hard: bigint | undefined;
  unit: string;
}

/**
 * Parses /proc/<pid>/limits into a map keyed by the limit's name ("Max open files"). The columns are
 * fixed-width in the kernel; names contain spaces, so each line is split as name, soft, hard and an
 * optional unit from the right. Throws naming the line when a value is neither a number nor "unlimited".
 */
export function parseProcLimits(text: string, path = "limits"): Map<string, ProcLimit> {
  const out = new Map<string, ProcLimit>();
  const all = lines(text);
  for (const [i, line] of all.entries()) {
    if (line.startsWith("Limit ")) continue;
    const m = /^(.+?)\s{2,}(\S+)\s+(\S+)(?:\s+(\S+))?\s*$/.exec(line);
    if (!m) throw new Error(`${path} line ${i + 1}: cannot split "${line}" into name, soft and hard limit`);
    out.set(m[1]!, { soft: limitValue(m[2]!, path, i + 1), hard: limitValue(m[3]!, path, i + 1), unit: m[4] ?? "" });
  }
  return out;
}

function limitValue(s: string, path: string, line: number): bigint | undefined {
  if (s === "unlimited") return undefined;
  const v = parseU64(s);
  if (v === undefined) throw new Error(`${path} line ${line}: limit "${s}" is neither a number nor "unlimited"`);
  return v;
}
