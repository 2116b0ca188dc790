// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// TCP connection states counted from /proc/net/tcp and tcp6, and the /proc/net/sockstat parser.

import { fields, lines, parseU64 } from "./num.ts";

/** The kernel's TCP states by their hex code in /proc/net/tcp (uppercase, as the kernel prints). */
export const TCP_STATES: Record<string, string> = {
  "01": "ESTABLISHED",
  "02": "SYN_SENT",
  "03": "SYN_RECV",
  "04": "FIN_WAIT1",
  "05": "FIN_WAIT2",
  "06": "TIME_WAIT",
  "07": "CLOSE",
  "08": "CLOSE_WAIT",
  "09": "LAST_ACK",
  "0A": "LISTEN",
  "0B": "CLOSING",
};

export function emptyStateCounts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of Object.values(TCP_STATES)) out[name] = 0;
  return out;
}

/**
 * Counts connection states in /proc/net/tcp or tcp6 into `into`: skips the header, needs at least 4
 * fields, field 3 is the state. Unknown states and short lines are counted as malformed.
 */
export function countTcpStates(text: string, into: Record<string, number>): { malformed: number } {
  let malformed = 0;
  const ls = lines(text);
  for (let i = 1; i < ls.length; i++) {
    const f = fields(ls[i]!);
    if (f.length === 0) continue;
    if (f.length < 4) {
      malformed++;
      continue;
    }
    const name = TCP_STATES[f[3]!];
    if (name === undefined) {
      malformed++;
      continue;
    }
    into[name] = (into[name] ?? 0) + 1;
  }
  return { malformed };
}

/**
 * Parses /proc/net/sockstat or sockstat6 ("TCP: inuse 1 orphan 0 tw 2 alloc 1 mem 149") into
 * "TCP_inuse" -> value (node_exporter's sockstat naming).
 */
export function parseSockstat(text: string): { values: Map<string, bigint>; malformed: number } {
  const values = new Map<string, bigint>();
  let malformed = 0;
  for (const line of lines(text)) {
    const f = fields(line);
    if (f.length === 0) continue;
    if (!f[0]!.endsWith(":") || f.length % 2 !== 1) {
      malformed++;
      continue;
    }
    const proto = f[0]!.slice(0, -1);
    for (let i = 1; i + 1 < f.length; i += 2) {
      const v = parseU64(f[i + 1]);
      if (v === undefined) malformed++;
      else values.set(`${proto}_${f[i]}`, v);
    }
  }
  return { values, malformed };
}
