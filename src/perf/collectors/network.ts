// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// network collector: per-interface /proc/net/dev counters with deltas and rates, plus speed, duplex,
// operstate and carrier from sysfs.

import type { HostPaths, PointCollector } from "../collector.ts";
import { type DeltaMetadata, DeltaTracker, rate, recordDeltas } from "../delta.ts";
import { type NetDevRecord, parseNetDev } from "../parsers/netdev.ts";
import { parseU64 } from "../parsers/num.ts";
import { BaseCollector, type CollectorOptions, spec } from "./common.ts";

export interface NetworkDeltaData extends DeltaMetadata {
  rx_bytes: bigint;
  tx_bytes: bigint;
  rx_packets: bigint;
  tx_packets: bigint;
  rx_errors: bigint;
  tx_errors: bigint;
  rx_dropped: bigint;
  tx_dropped: bigint;
  rx_bytes_per_sec?: number;
  tx_bytes_per_sec?: number;
  rx_packets_per_sec?: number;
  tx_packets_per_sec?: number;
  rx_errors_per_sec?: number;
  tx_errors_per_sec?: number;
  rx_dropped_per_sec?: number;
  tx_dropped_per_sec?: number;
}

export interface NetworkStats {
  interface: string;
  rx_bytes: bigint;
  rx_packets: bigint;
  rx_errors: bigint;
  rx_dropped: bigint;
  rx_fifo: bigint;
  rx_frame: bigint;
  rx_compressed: bigint;
  rx_multicast: bigint;
  tx_bytes: bigint;
  tx_packets: bigint;
  tx_errors: bigint;
  tx_dropped: bigint;
  tx_fifo: bigint;
  tx_collisions: bigint;
  tx_carrier: bigint;
  tx_compressed: bigint;
  speed: bigint;
  duplex: string;
  oper_state: string;
  link_detected: boolean;
  delta?: NetworkDeltaData;
}

const KEYS = ["rxBytes", "txBytes", "rxPackets", "txPackets", "rxErrors", "txErrors", "rxDropped", "txDropped"] as const;
const JSON_KEYS = ["rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "rx_errors", "tx_errors", "rx_dropped", "tx_dropped"] as const;

/**
 * /proc/net/dev (critical) plus /sys/class/net/<if>/{speed,duplex,operstate,carrier} (optional).
 * Speed in Mbps ("-1" -> 0). Baseline updated on every collection (pattern b).
 */
export class NetworkCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("network", "Network Statistics Collector", true, true, "2.6.0");
  private readonly tracker: DeltaTracker<Map<string, NetDevRecord>>;
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc", "sys"]);
    this.tracker = new DeltaTracker(this.deltaConfig);
  }
  async collect(signal: AbortSignal): Promise<NetworkStats[]> {
    const text = await this.readCritical(`${this.paths.proc}/net/dev`, signal);
    const now = this.now();
    const parsed = parseNetDev(text);
    this.malformed(parsed.malformed);
    this.badNumbers("net/dev", parsed.badNumbers);
    const should = this.tracker.shouldCalculate(now);
    const prev = this.tracker.last;
    const sys = this.paths.sys;
    const out = await Promise.all(
      parsed.interfaces.map(async (r): Promise<NetworkStats> => {
        const base = `${sys}/class/net/${r.interface}`;
        const [speed, duplex, oper, carrier] = await Promise.all([
          this.io.readOptional(`${base}/speed`, signal),
          this.io.readOptional(`${base}/duplex`, signal),
          this.io.readOptional(`${base}/operstate`, signal),
          this.io.readOptional(`${base}/carrier`, signal),
        ]);
        const s: NetworkStats = {
          interface: r.interface,
          rx_bytes: r.rxBytes,
          rx_packets: r.rxPackets,
          rx_errors: r.rxErrors,
          rx_dropped: r.rxDropped,
          rx_fifo: r.rxFifo,
          rx_frame: r.rxFrame,
          rx_compressed: r.rxCompressed,
          rx_multicast: r.rxMulticast,
          tx_bytes: r.txBytes,
          tx_packets: r.txPackets,
          tx_errors: r.txErrors,
          tx_dropped: r.txDropped,
          tx_fifo: r.txFifo,
          tx_collisions: r.txCollisions,
          tx_carrier: r.txCarrier,
          tx_compressed: r.txCompressed,
          speed: speed !== undefined ? (parseU64(speed.trim()) ?? 0n) : 0n,
          duplex: duplex?.trim() ?? "",
          oper_state: oper?.trim() ?? "",
          link_detected: carrier?.trim() === "1",
        };
        const p = should.ok ? prev?.get(r.interface) : undefined;
        if (p) {
          const { deltas, reset } = recordDeltas(r as unknown as Record<string, bigint>, p as unknown as Record<string, bigint>, KEYS);
          const d = { ...this.tracker.metadata(now, should.intervalMs, reset) } as NetworkDeltaData;
          const rec = d as unknown as Record<string, unknown>;
          for (const [i, k] of KEYS.entries()) {
            rec[JSON_KEYS[i]!] = deltas[k];
            if (!reset) rec[`${JSON_KEYS[i]}_per_sec`] = rate(deltas[k], should.intervalMs / 1000);
          }
          s.delta = d;
        }
        return s;
      }),
    );
    if (this.deltaConfig.mode === "enabled") this.tracker.commit(new Map(parsed.interfaces.map((r) => [r.interface, r])), now);
    return out;
  }
}
