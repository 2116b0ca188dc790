// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parser for the pressure stall information files /proc/pressure/{cpu,io,memory,irq} (PSI, Linux 4.20+).

import { fields, lines, parseF64, parseU64 } from "./num.ts";

export interface PSILine {
  avg10: number;
  avg60: number;
  avg300: number;
  /** Cumulative stall time in microseconds. */
  total: bigint;
}

export interface PSIStats {
  /** Some tasks stalled ("some" line; absent from irq, which has only "full"). */
  some?: PSILine;
  /** All non-idle tasks stalled ("full" line; cpu has it since Linux 5.13, with zero values at system level). */
  full?: PSILine;
}

/**
 * Parses one pressure file: lines "some|full avg10=F avg60=F avg300=F total=U". An unknown line kind,
 * a missing key or a bad number throws naming the line.
 */
export function parsePressure(text: string, file = "pressure"): PSIStats {
  const out: PSIStats = {};
  const rows = lines(text);
  for (let i = 0; i < rows.length; i++) {
    const f = fields(rows[i]!);
    if (f.length === 0) continue;
    const kind = f[0];
    if (kind !== "some" && kind !== "full") throw new Error(`${file} line ${i + 1}: unknown kind ${JSON.stringify(kind)}`);
    const kv = new Map<string, string>();
    for (const part of f.slice(1)) {
      const eq = part.indexOf("=");
      if (eq <= 0) throw new Error(`${file} line ${i + 1}: not key=value: ${JSON.stringify(part)}`);
      kv.set(part.slice(0, eq), part.slice(eq + 1));
    }
    const avg = (k: string): number => {
      const v = parseF64(kv.get(k));
      if (v === undefined) throw new Error(`${file} line ${i + 1}: ${k} missing or not a number`);
      return v;
    };
    const total = parseU64(kv.get("total"));
    if (total === undefined) throw new Error(`${file} line ${i + 1}: total missing or not an unsigned integer`);
    out[kind] = { avg10: avg("avg10"), avg60: avg("avg60"), avg300: avg("avg300"), total };
  }
  return out;
}
