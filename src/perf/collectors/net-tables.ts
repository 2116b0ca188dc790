// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// arp and softnet collectors: neighbour entries per device from /proc/net/arp (node_arp_entries) and
// per-CPU packet processing from /proc/net/softnet_stat (node_softnet_*).

import type { HostPaths, PointCollector } from "../collector.ts";
import { parseArp, parseSoftnetStat, type SoftnetRow } from "../parsers/net-tables.ts";
import { BaseCollector, type CollectorOptions, spec } from "./common.ts";

/** JSON of the arp metric type: one entry per device with neighbours. */
export interface ArpDevice {
  device: string;
  entries: number;
}

export class ArpCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("arp", "ARP Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc"]);
  }
  async collect(signal: AbortSignal): Promise<ArpDevice[]> {
    const file = `${this.paths.proc}/net/arp`;
    const counts = parseArp(await this.readCritical(file, signal), file);
    return [...counts].map(([device, entries]) => ({ device, entries }));
  }
}

/** JSON of the softnet metric type: one row per line of softnet_stat. */
export type SoftnetStats = SoftnetRow[];

export class SoftnetCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("softnet", "Softnet Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc"]);
  }
  async collect(signal: AbortSignal): Promise<SoftnetStats> {
    const file = `${this.paths.proc}/net/softnet_stat`;
    return parseSoftnetStat(await this.readCritical(file, signal), file);
  }
}
