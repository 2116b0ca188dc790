// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// system collector: total interrupts and context switches from /proc/stat, with deltas and rates.

import type { HostPaths, PointCollector } from "../collector.ts";
import { type DeltaMetadata, DeltaTracker, rate, u64Delta } from "../delta.ts";
import { parseStat } from "../parsers/stat.ts";
import { BaseCollector, type CollectorOptions, type HasExtra, spec, withExtra } from "./common.ts";

/** /proc/stat lines node_exporter exports that the original's JSON leaves out. */
export interface SystemExtra {
  btime: bigint | undefined;
  procsRunning: number;
  procsBlocked: number;
  processes: bigint;
  softirq: bigint;
}

export interface SystemDeltaData extends DeltaMetadata {
  interrupts: bigint;
  context_switches: bigint;
  interrupts_per_sec?: number;
  context_switches_per_sec?: number;
}
export interface SystemStats {
  interrupts: bigint;
  context_switches: bigint;
  delta?: SystemDeltaData;
}

/** intr (total) and ctxt from /proc/stat (critical; an empty file gives zeros). */
export class SystemStatsCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("system", "System Activity Collector", true, true, "2.6.0");
  private readonly tracker: DeltaTracker<{ intr: bigint; ctxt: bigint }>;
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc"]);
    this.tracker = new DeltaTracker(this.deltaConfig);
  }
  async collect(signal: AbortSignal): Promise<SystemStats & HasExtra<SystemExtra>> {
    const text = await this.readCritical(`${this.paths.proc}/stat`, signal);
    const now = this.now();
    const st = parseStat(text);
    this.malformed(st.malformed);
    const out: SystemStats = { interrupts: st.intr, context_switches: st.ctxt };
    const should = this.tracker.shouldCalculate(now);
    if (should.ok) {
      const prev = this.tracker.last!;
      const a = u64Delta(st.intr, prev.intr);
      const b = u64Delta(st.ctxt, prev.ctxt);
      const reset = a.reset || b.reset;
      const d: SystemDeltaData = {
        ...this.tracker.metadata(now, should.intervalMs, reset),
        interrupts: a.delta,
        context_switches: b.delta,
      };
      if (!reset) {
        d.interrupts_per_sec = rate(a.delta, should.intervalMs / 1000);
        d.context_switches_per_sec = rate(b.delta, should.intervalMs / 1000);
      }
      out.delta = d;
      this.tracker.commit({ intr: st.intr, ctxt: st.ctxt }, now);
    } else if (this.tracker.isFirst) this.tracker.commit({ intr: st.intr, ctxt: st.ctxt }, now);
    return withExtra<SystemStats, SystemExtra>(out, {
      btime: st.btime,
      procsRunning: st.procsRunning,
      procsBlocked: st.procsBlocked,
      processes: st.processes,
      softirq: st.softirq,
    });
  }
}
