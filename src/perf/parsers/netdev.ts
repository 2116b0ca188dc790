// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parser for /proc/net/dev: per-interface receive/transmit counters as u64 bigints.

import { CountingU64, fields, lines } from "./num.ts";

export interface NetDevRecord {
  interface: string;
  rxBytes: bigint;
  rxPackets: bigint;
  rxErrors: bigint;
  rxDropped: bigint;
  rxFifo: bigint;
  rxFrame: bigint;
  rxCompressed: bigint;
  rxMulticast: bigint;
  txBytes: bigint;
  txPackets: bigint;
  txErrors: bigint;
  txDropped: bigint;
  txFifo: bigint;
  txCollisions: bigint;
  txCarrier: bigint;
  txCompressed: bigint;
}

/**
 * Parses /proc/net/dev: skips the 2 header lines; a line must split into exactly 2 parts on ':' and
 * the right side needs at least 16 fields, otherwise it is skipped and counted. Loopback is kept. A
 * counter that is not a number becomes 0 and is counted in `badNumbers`.
 */
export function parseNetDev(text: string): { interfaces: NetDevRecord[]; malformed: number; badNumbers: number } {
  const interfaces: NetDevRecord[] = [];
  let malformed = 0;
  const num = new CountingU64();
  const u64 = (s: string | undefined) => num.read(s);
  const ls = lines(text);
  for (let i = 2; i < ls.length; i++) {
    const line = ls[i]!;
    if (line.trim() === "") continue;
    const parts = line.split(":");
    if (parts.length !== 2) {
      malformed++;
      continue;
    }
    const f = fields(parts[1]!);
    if (f.length < 16) {
      malformed++;
      continue;
    }
    interfaces.push({
      interface: parts[0]!.trim(),
      rxBytes: u64(f[0]),
      rxPackets: u64(f[1]),
      rxErrors: u64(f[2]),
      rxDropped: u64(f[3]),
      rxFifo: u64(f[4]),
      rxFrame: u64(f[5]),
      rxCompressed: u64(f[6]),
      rxMulticast: u64(f[7]),
      txBytes: u64(f[8]),
      txPackets: u64(f[9]),
      txErrors: u64(f[10]),
      txDropped: u64(f[11]),
      txFifo: u64(f[12]),
      txCollisions: u64(f[13]),
      txCarrier: u64(f[14]),
      txCompressed: u64(f[15]),
    });
  }
  return { interfaces, malformed, badNumbers: num.bad };
}
