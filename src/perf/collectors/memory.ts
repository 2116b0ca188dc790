// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// memory collector: /proc/meminfo in bytes (kB wrapping like Go's u64 multiply) and swap-in/out pages
// from /proc/vmstat, with deltas.

import type { HostPaths, PointCollector } from "../collector.ts";
import { type DeltaMetadata, DeltaTracker, rate, u64Delta } from "../delta.ts";
import { parseMeminfo } from "../parsers/meminfo.ts";
import { mulWrapU64 } from "../parsers/num.ts";
import { parseVmstat } from "../parsers/vmstat.ts";
import { BaseCollector, type CollectorOptions, type HasExtra, spec, withExtra } from "./common.ts";

/** Every meminfo and vmstat key, for the exposition (not part of the JSON). */
export interface MemoryExtra {
  meminfo: Map<string, bigint>;
  /** meminfo keys whose value was in kB. */
  kb: Set<string>;
  vmstat: Map<string, bigint>;
}

/** meminfo key -> JSON field, in the original's order. kB keys are multiplied by 1024. */
const KB_FIELDS: [string, string][] = [
  ["MemTotal", "mem_total"],
  ["MemFree", "mem_free"],
  ["MemAvailable", "mem_available"],
  ["Buffers", "buffers"],
  ["Cached", "cached"],
  ["SwapCached", "swap_cached"],
  ["Active", "active"],
  ["Inactive", "inactive"],
  ["SwapTotal", "swap_total"],
  ["SwapFree", "swap_free"],
  ["Dirty", "dirty"],
  ["Writeback", "writeback"],
  ["AnonPages", "anon_pages"],
  ["Mapped", "mapped"],
  ["Shmem", "shmem"],
  ["Slab", "slab"],
  ["SReclaimable", "s_reclaimable"],
  ["SUnreclaim", "s_unreclaim"],
  ["KernelStack", "kernel_stack"],
  ["PageTables", "page_tables"],
  ["CommitLimit", "commit_limit"],
  ["Committed_AS", "committed_as"],
  ["VmallocTotal", "vmalloc_total"],
  ["VmallocUsed", "vmalloc_used"],
];
const HUGE_COUNT_FIELDS: [string, string][] = [
  ["HugePages_Total", "hugepages_total"],
  ["HugePages_Free", "hugepages_free"],
  ["HugePages_Rsvd", "hugepages_rsvd"],
  ["HugePages_Surp", "hugepages_surp"],
];

export type MemoryStats = Record<string, bigint | MemoryDeltaData> & { delta?: MemoryDeltaData };
export interface MemoryDeltaData extends DeltaMetadata {
  swap_in: bigint;
  swap_out: bigint;
  swap_in_per_sec?: number;
  swap_out_per_sec?: number;
}

/**
 * /proc/meminfo (critical) in BYTES and pswpin/pswpout from /proc/vmstat (optional, in pages, as the
 * original). kB to bytes wraps modulo 2^64 like Go's uint64 multiply (acceptance case 12).
 */
export class MemoryCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("memory", "System Memory Collector", true, true, "2.6.0");
  private readonly tracker: DeltaTracker<{ swapIn: bigint; swapOut: bigint }>;
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc"]);
    this.tracker = new DeltaTracker(this.deltaConfig);
  }
  async collect(signal: AbortSignal): Promise<MemoryStats & HasExtra<MemoryExtra>> {
    const p = this.paths.proc;
    const [memTxt, vmTxt] = await Promise.all([this.readCritical(`${p}/meminfo`, signal), this.io.readOptional(`${p}/vmstat`, signal)]);
    const now = this.now();
    const mi = parseMeminfo(memTxt);
    this.malformed(mi.malformed);
    const v = mi.values;
    const out: Record<string, unknown> = {};
    for (const [k, j] of KB_FIELDS) out[j] = mulWrapU64(v.get(k) ?? 0n, 1024n);
    const hugePageSize = mulWrapU64(v.get("Hugepagesize") ?? 0n, 1024n);
    for (const [k, j] of HUGE_COUNT_FIELDS) out[j] = hugePageSize > 0n ? mulWrapU64(v.get(k) ?? 0n, hugePageSize) : 0n;
    out.hugepage_size = hugePageSize;
    out.hugetlb = mulWrapU64(v.get("Hugetlb") ?? 0n, 1024n);
    let swapIn = 0n;
    let swapOut = 0n;
    let vm: Map<string, bigint> = new Map();
    if (vmTxt !== undefined) {
      const pv = parseVmstat(vmTxt);
      vm = pv.values;
      swapIn = vm.get("pswpin") ?? 0n;
      swapOut = vm.get("pswpout") ?? 0n;
    }
    out.swap_in = swapIn;
    out.swap_out = swapOut;
    const should = this.tracker.shouldCalculate(now);
    if (should.ok) {
      const prev = this.tracker.last!;
      const a = u64Delta(swapIn, prev.swapIn);
      const b = u64Delta(swapOut, prev.swapOut);
      const reset = a.reset || b.reset;
      const d: MemoryDeltaData = { ...this.tracker.metadata(now, should.intervalMs, reset), swap_in: a.delta, swap_out: b.delta };
      if (!reset) {
        const secs = should.intervalMs / 1000;
        d.swap_in_per_sec = rate(a.delta, secs);
        d.swap_out_per_sec = rate(b.delta, secs);
      }
      out.delta = d;
      this.tracker.commit({ swapIn, swapOut }, now);
    } else if (this.tracker.isFirst) this.tracker.commit({ swapIn, swapOut }, now);
    return withExtra<MemoryStats, MemoryExtra>(out as MemoryStats, { meminfo: v, kb: mi.kb, vmstat: vm });
  }
}
