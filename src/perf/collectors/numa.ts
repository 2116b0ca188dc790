// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// numa_stats collector: per-node numastat counters and memory from sysfs plus the numa_balancing
// setting, with deltas; a single-node host reports none.

import type { HostPaths, PointCollector } from "../collector.ts";
import { type DeltaMetadata, DeltaTracker, rate, recordDeltas } from "../delta.ts";
import { parseNodeMeminfo } from "../parsers/meminfo.ts";
import { mulWrapU64 } from "../parsers/num.ts";
import { parseVmstat } from "../parsers/vmstat.ts";
import { BaseCollector, type CollectorOptions, spec } from "./common.ts";

const COUNTERS = ["numa_hit", "numa_miss", "numa_foreign", "interleave_hit", "local_node", "other_node"] as const;
type Counter = (typeof COUNTERS)[number];

export interface NUMANodeStatistics {
  id: number;
  mem_free: bigint;
  mem_used: bigint;
  file_pages: bigint;
  anon_pages: bigint;
  numa_hit: bigint;
  numa_miss: bigint;
  numa_foreign: bigint;
  interleave_hit: bigint;
  local_node: bigint;
  other_node: bigint;
  delta?: DeltaMetadata & Record<string, bigint | number | boolean | string>;
}
export interface NUMAStatistics {
  enabled: boolean;
  node_count: number;
  nodes: NUMANodeStatistics[];
  auto_balance_enabled: boolean;
}

/**
 * /sys/devices/system/node/node<N>/{numastat (critical per node), meminfo (optional)} and
 * <proc>/sys/kernel/numa_balancing. A single-node host reports enabled=false and no nodes, as the
 * original. Baseline updated on every collection (pattern b).
 */
export class NUMAStatsCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("numa_stats", "NUMA Runtime Stats Collector", true, true, "2.6.7");
  private readonly tracker: DeltaTracker<Map<number, Record<Counter, bigint>>>;
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc", "sys"]);
    this.tracker = new DeltaTracker(this.deltaConfig);
  }
  async collect(signal: AbortSignal): Promise<NUMAStatistics> {
    const dir = `${this.paths.sys}/devices/system/node`;
    const entries = await this.io.listOptional(dir, signal);
    const ids = entries
      .map((e) => /^node(\d+)$/.exec(e.name))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    const bal = await this.io.readOptional(`${this.paths.proc}/sys/kernel/numa_balancing`, signal);
    const out: NUMAStatistics = { enabled: ids.length > 1, node_count: ids.length, nodes: [], auto_balance_enabled: bal?.trim() === "1" };
    if (!out.enabled) return out;
    const now = this.now();
    const should = this.tracker.shouldCalculate(now);
    const prev = this.tracker.last;
    const snap = new Map<number, Record<Counter, bigint>>();
    const nodes = await Promise.all(
      ids.map(async (id): Promise<NUMANodeStatistics | undefined> => {
        const [ns, mi] = await Promise.all([
          this.io.readOptional(`${dir}/node${id}/numastat`, signal),
          this.io.readOptional(`${dir}/node${id}/meminfo`, signal),
        ]);
        if (ns === undefined) {
          this.opts.logger?.warn({ node: id }, "numastat missing; node skipped");
          return undefined;
        }
        const v = parseVmstat(ns);
        this.malformed(v.malformed);
        const c = {} as Record<Counter, bigint>;
        for (const k of COUNTERS) c[k] = v.values.get(k) ?? 0n;
        if (COUNTERS.every((k) => c[k] === 0n)) {
          this.opts.logger?.warn({ node: id }, "numastat all zero; node skipped");
          return undefined;
        }
        const m = mi !== undefined ? parseNodeMeminfo(mi).values : new Map<string, bigint>();
        const kb = (k: string) => mulWrapU64(m.get(k) ?? 0n, 1024n);
        const node: NUMANodeStatistics = {
          id,
          mem_free: kb("MemFree"),
          mem_used: kb("MemUsed"),
          file_pages: kb("FilePages"),
          anon_pages: kb("AnonPages"),
          ...c,
        };
        snap.set(id, c);
        const p = should.ok ? prev?.get(id) : undefined;
        if (p) {
          const { deltas, reset } = recordDeltas(c, p, COUNTERS);
          const d: Record<string, unknown> = { ...this.tracker.metadata(now, should.intervalMs, reset), ...deltas };
          if (!reset) for (const k of COUNTERS) d[`${k}_per_sec`] = rate(deltas[k], should.intervalMs / 1000);
          node.delta = d as NUMANodeStatistics["delta"];
        }
        return node;
      }),
    );
    out.nodes = nodes.filter((n): n is NUMANodeStatistics => n !== undefined);
    if (this.deltaConfig.mode === "enabled") this.tracker.commit(snap, now);
    return out;
  }
}
