// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// cpu collector: per-CPU and aggregate /proc/stat times in USER_HZ ticks with deltas and percentages
// (guest time no longer double-counted, so percentages sum to 100).

import type { HostPaths, PointCollector } from "../collector.ts";
import { type DeltaMetadata, DeltaTracker, recordDeltas } from "../delta.ts";
import { CPU_FIELDS, type CpuTimes, parseStat } from "../parsers/stat.ts";
import { BaseCollector, type CollectorOptions, spec } from "./common.ts";

/** One CPU's /proc/stat time counters under their JSON names. */
export interface CPUTimeCounters {
  user: bigint;
  nice: bigint;
  system: bigint;
  idle: bigint;
  io_wait: bigint;
  irq: bigint;
  soft_irq: bigint;
  steal: bigint;
  guest: bigint;
  guest_nice: bigint;
}

export interface CPUDeltaData extends DeltaMetadata, CPUTimeCounters {
  user_percent?: number;
  nice_percent?: number;
  system_percent?: number;
  idle_percent?: number;
  io_wait_percent?: number;
  irq_percent?: number;
  soft_irq_percent?: number;
  steal_percent?: number;
  guest_percent?: number;
  guest_nice_percent?: number;
}

export interface CPUStats extends CPUTimeCounters {
  cpu_index: number;
  delta?: CPUDeltaData;
}

const JSON_NAME: Record<(typeof CPU_FIELDS)[number], string> = {
  user: "user",
  nice: "nice",
  system: "system",
  idle: "idle",
  iowait: "io_wait",
  irq: "irq",
  softirq: "soft_irq",
  steal: "steal",
  guest: "guest",
  guestNice: "guest_nice",
};

/** Fields that make up wall time: guest and guest_nice are already inside user and nice. */
const TIME_FIELDS = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"] as const;

/**
 * /proc/stat cpu lines in USER_HZ ticks, aggregate first (index -1). Deltas and percentages per CPU;
 * baseline kept when a delta is skipped (the original's pattern a).
 *
 * Fix over the original: the percentage denominator no longer counts guest and guest_nice twice
 * (they are included in user and nice), so percentages sum to 100.
 */
export class CPUCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("cpu", "CPU Statistics Collector", true, true, "2.6.0");
  private readonly tracker: DeltaTracker<Map<number, CpuTimes>>;
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc"]);
    this.tracker = new DeltaTracker(this.deltaConfig);
  }
  async collect(signal: AbortSignal): Promise<CPUStats[]> {
    const path = `${this.paths.proc}/stat`;
    const text = await this.readCritical(path, signal);
    const now = this.now();
    const st = parseStat(text);
    this.malformed(st.malformed);
    if (st.cpus.length === 0) throw new Error(`no CPU statistics found in ${path}`);
    const out: CPUStats[] = st.cpus.map((c) => ({
      cpu_index: c.index,
      user: c.user,
      nice: c.nice,
      system: c.system,
      idle: c.idle,
      io_wait: c.iowait,
      irq: c.irq,
      soft_irq: c.softirq,
      steal: c.steal,
      guest: c.guest,
      guest_nice: c.guestNice,
    }));
    const should = this.tracker.shouldCalculate(now);
    if (should.ok) {
      const prev = this.tracker.last!;
      let anyReset = false;
      st.cpus.forEach((c, i) => {
        const p = prev.get(c.index);
        if (!p) return;
        const { deltas, reset } = recordDeltas(c as unknown as Record<string, bigint>, p as unknown as Record<string, bigint>, CPU_FIELDS);
        anyReset ||= reset;
        const d = { ...this.tracker.metadata(now, should.intervalMs, reset) } as CPUDeltaData;
        const rec = d as unknown as Record<string, unknown>;
        for (const f of CPU_FIELDS) rec[JSON_NAME[f]] = deltas[f];
        if (!reset) {
          let total = 0;
          for (const f of TIME_FIELDS) total += Number(deltas[f]);
          for (const f of CPU_FIELDS) rec[`${JSON_NAME[f]}_percent`] = total > 0 ? (Number(deltas[f]) / total) * 100 : 0;
        }
        out[i]!.delta = d;
      });
      void anyReset;
      this.tracker.commit(new Map(st.cpus.map((c) => [c.index, c])), now);
    } else if (this.tracker.isFirst) {
      this.tracker.commit(new Map(st.cpus.map((c) => [c.index, c])), now);
    }
    return out;
  }
}
