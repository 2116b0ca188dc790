// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parsers for /proc/net/arp (neighbour entries per device) and /proc/net/softnet_stat (per-CPU packet
// processing counters), the sources of node_arp_entries and node_softnet_*.

import { fields, lines } from "./num.ts";

/** ARP entries per device, in first-seen order. */
export type ArpCounts = Map<string, number>;

/**
 * /proc/net/arp: a header ("IP address HW type Flags HW address Mask Device"), then one entry per line;
 * the device is the last column. A line with fewer than 6 columns throws naming the line (node_exporter's
 * "unexpected ARP table format").
 */
export function parseArp(text: string, file = "arp"): ArpCounts {
  const out: ArpCounts = new Map();
  const rows = lines(text);
  for (let i = 0; i < rows.length; i++) {
    const f = fields(rows[i]!);
    if (f.length === 0) continue;
    if (f.length < 6) throw new Error(`${file} line ${i + 1}: unexpected ARP table format, ${f.length} columns`);
    if (f[0] === "IP") continue;
    const device = f[f.length - 1]!;
    out.set(device, (out.get(device) ?? 0) + 1);
  }
  return out;
}

export interface SoftnetRow {
  /** Line index, which node_exporter 1.5 labels cpu with. */
  cpu: number;
  processed: number;
  dropped: number;
  time_squeeze: number;
}

/** Columns node_exporter 1.5 (procfs 0.8) requires on each softnet_stat line. */
const SOFTNET_MIN_COLUMNS = 9;

/**
 * /proc/net/softnet_stat: one line per online CPU of hex u32 columns; the first three are packets
 * processed, dropped (backlog full) and times net_rx_action ran out of budget. A short line or a
 * non-hex value throws naming the line.
 */
export function parseSoftnetStat(text: string, file = "softnet_stat"): SoftnetRow[] {
  const out: SoftnetRow[] = [];
  const rows = lines(text);
  for (let i = 0; i < rows.length; i++) {
    const f = fields(rows[i]!);
    if (f.length === 0) continue;
    if (f.length < SOFTNET_MIN_COLUMNS)
      throw new Error(`${file} line ${i + 1}: ${f.length} columns, at least ${SOFTNET_MIN_COLUMNS} expected`);
    const hex = (s: string, what: string): number => {
      if (!/^[0-9a-fA-F]{1,8}$/.test(s)) throw new Error(`${file} line ${i + 1}: ${what} is not a hex u32: ${JSON.stringify(s)}`);
      return Number.parseInt(s, 16);
    };
    out.push({
      cpu: out.length,
      processed: hex(f[0]!, "processed"),
      dropped: hex(f[1]!, "dropped"),
      time_squeeze: hex(f[2]!, "time_squeeze"),
    });
  }
  return out;
}
