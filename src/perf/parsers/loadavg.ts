// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parsers for /proc/loadavg (load averages, running/total procs, last pid) and /proc/uptime.

import { fields, parseF64, parseI32 } from "./num.ts";

export interface LoadAvg {
  load1: number;
  load5: number;
  load15: number;
  running: number;
  total: number;
  lastPid: number;
}

/** Parses /proc/loadavg ("0.50 1.25 2.75 2/1234 12345"). Throws with the original's messages. */
export function parseLoadavg(text: string): LoadAvg {
  const f = fields(text);
  if (f.length < 5) throw new Error(`unexpected format in loadavg: got ${f.length} fields, expected 5`);
  const load = (s: string, name: string): number => {
    const v = parseF64(s);
    if (v === undefined) throw new Error(`failed to parse ${name} ${JSON.stringify(s)}: invalid syntax`);
    return v;
  };
  const load1 = load(f[0]!, "load1");
  const load5 = load(f[1]!, "load5");
  const load15 = load(f[2]!, "load15");
  const parts = f[3]!.split("/");
  if (parts.length !== 2) throw new Error(`unexpected process count format: ${JSON.stringify(f[3])}`);
  const running = parseI32(parts[0]);
  const total = parseI32(parts[1]);
  if (running === undefined || total === undefined)
    throw new Error(`failed to parse process counts ${JSON.stringify(f[3])}: invalid syntax`);
  const lastPid = parseI32(f[4]);
  if (lastPid === undefined) throw new Error(`failed to parse last PID ${JSON.stringify(f[4])}: invalid syntax`);
  return { load1, load5, load15, running, total, lastPid };
}

/** Parses /proc/uptime: exactly 2 fields; returns uptime and idle seconds, or undefined. */
export function parseUptime(text: string): { uptime: number; idle: number } | undefined {
  const f = fields(text);
  if (f.length !== 2) return undefined;
  const uptime = parseF64(f[0]);
  const idle = parseF64(f[1]);
  if (uptime === undefined) return undefined;
  return { uptime, idle: idle ?? 0 };
}
