// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// cgroup_cpu collector: per-container CPU usage, quota and throttling from cgroup v1 (cpu, cpuacct) or v2.

import type { HostPaths, PointCollector } from "../collector.ts";
import { parseCgroupI64, parseCgroupU64, parseCpuMax, parseFlatKeyed } from "../parsers/cgroup.ts";
import { type CgroupContainer, collectPerContainer } from "./cgroup-discovery.ts";
import { BaseCollector, type CollectorOptions, spec } from "./common.ts";

export interface CgroupCPUStats {
  container_id: string;
  container_name: string;
  runtime: string;
  cgroup_path: string;
  usage_nanos: bigint;
  user_nanos: bigint;
  system_nanos: bigint;
  nr_periods: bigint;
  nr_throttled: bigint;
  throttled_time: bigint;
  cpu_shares: bigint;
  cpu_quota_us: bigint;
  cpu_period_us: bigint;
  usage_percent: number;
  throttle_percent: number;
}

/** Per-container CPU from cgroup v1 (cpu, cpuacct) or v2 (cpu.stat critical per container). Root: <sys>/fs/cgroup. */
export class CgroupCPUCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("cgroup_cpu", "Cgroup CPU Collector", true, true, "2.6.24");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["sys"]);
  }
  collect(signal: AbortSignal): Promise<CgroupCPUStats[]> {
    return collectPerContainer(this.io, this.paths.sys, "cpu", signal, (c, version) => this.one(c, version, signal));
  }

  private async one(c: CgroupContainer, version: 1 | 2, signal: AbortSignal): Promise<CgroupCPUStats | undefined> {
    {
      const s: CgroupCPUStats = {
        container_id: c.id,
        container_name: "",
        runtime: c.runtime,
        cgroup_path: c.path,
        usage_nanos: 0n,
        user_nanos: 0n,
        system_nanos: 0n,
        nr_periods: 0n,
        nr_throttled: 0n,
        throttled_time: 0n,
        cpu_shares: 0n,
        cpu_quota_us: 0n,
        cpu_period_us: 0n,
        usage_percent: 0,
        throttle_percent: 0,
      };
      const rd = (f: string, dir = c.path) => this.io.readOptional(`${dir}/${f}`, signal);
      if (version === 1) {
        const acct = c.path.replace("/cpu/", "/cpuacct/");
        const [stat, usage, shares, quota, period] = await Promise.all([
          rd("cpu.stat"),
          rd("cpuacct.usage", acct),
          rd("cpu.shares"),
          rd("cpu.cfs_quota_us"),
          rd("cpu.cfs_period_us"),
        ]);
        if (stat !== undefined) {
          const v = parseFlatKeyed(stat).values;
          s.nr_periods = v.get("nr_periods") ?? 0n;
          s.nr_throttled = v.get("nr_throttled") ?? 0n;
          s.throttled_time = v.get("throttled_time") ?? 0n;
        }
        if (usage !== undefined) s.usage_nanos = parseCgroupU64(usage) ?? 0n;
        if (shares !== undefined) s.cpu_shares = parseCgroupU64(shares) ?? 0n;
        if (quota !== undefined) s.cpu_quota_us = parseCgroupI64(quota) ?? 0n;
        if (period !== undefined) s.cpu_period_us = parseCgroupU64(period) ?? 0n;
      } else {
        const [stat, max, weight] = await Promise.all([rd("cpu.stat"), rd("cpu.max"), rd("cpu.weight")]);
        if (stat === undefined) {
          this.opts.logger?.debug({ path: c.path }, "cpu.stat missing; container skipped");
          return undefined;
        }
        const v = parseFlatKeyed(stat);
        this.malformed(v.malformed);
        s.usage_nanos = (v.values.get("usage_usec") ?? 0n) * 1000n;
        s.user_nanos = (v.values.get("user_usec") ?? 0n) * 1000n;
        s.system_nanos = (v.values.get("system_usec") ?? 0n) * 1000n;
        s.nr_periods = v.values.get("nr_periods") ?? 0n;
        s.nr_throttled = v.values.get("nr_throttled") ?? 0n;
        s.throttled_time = (v.values.get("throttled_usec") ?? 0n) * 1000n;
        const m = max !== undefined ? parseCpuMax(max) : undefined;
        if (m) {
          s.cpu_quota_us = m.quota;
          s.cpu_period_us = m.period;
        }
        const w = weight !== undefined ? parseCgroupU64(weight) : undefined;
        if (w !== undefined) s.cpu_shares = (w * 1024n) / 100n;
      }
      if (s.nr_periods > 0n) s.throttle_percent = (Number(s.nr_throttled) / Number(s.nr_periods)) * 100;
      return s;
    }
  }
}
