// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parser for /proc/net/udp and /proc/net/udp6: the sum of the tx_queue and rx_queue columns over all
// sockets (procfs' NetUDPSummary, what node_exporter's udp_queues collector serves).

import { fields, lines } from "./num.ts";

/** Bytes queued in the kernel for UDP datagrams, summed over the file's sockets. */
export interface UdpQueues {
  txQueue: number;
  rxQueue: number;
  sockets: number;
}

/**
 * Sums column 5 ("tx_queue:rx_queue", hex) of every socket line after the header. Throws naming the file
 * and line when a socket line has too few fields or the queue column is not two hex numbers.
 */
export function parseUdpQueues(text: string, path = "net/udp"): UdpQueues {
  const out: UdpQueues = { txQueue: 0, rxQueue: 0, sockets: 0 };
  for (const [i, line] of lines(text).entries()) {
    const f = fields(line);
    if (f.length === 0 || f[0] === "sl") continue;
    const m = f.length >= 5 ? /^([0-9A-Fa-f]+):([0-9A-Fa-f]+)$/.exec(f[4]!) : null;
    if (!m) throw new Error(`${path} line ${i + 1}: no tx_queue:rx_queue column in "${line.trim()}"`);
    out.txQueue += Number.parseInt(m[1]!, 16);
    out.rxQueue += Number.parseInt(m[2]!, 16);
    out.sockets++;
  }
  return out;
}
