// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// cgroup_memory collector: per-container memory usage, limits, cache and OOM counts (cgroup v1 or v2).

import type { HostPaths, PointCollector } from "../collector.ts";
import { parseCgroupU64, parseFlatKeyed } from "../parsers/cgroup.ts";
import { U64_MAX } from "../parsers/num.ts";
import { type CgroupContainer, detectCgroupVersion, discoverContainers } from "./cgroup-discovery.ts";
import { BaseCollector, type CollectorOptions, spec } from "./common.ts";

export interface CgroupMemoryStats {
  container_id: string;
  container_name: string;
  runtime: string;
  cgroup_path: string;
  rss: bigint;
  cache: bigint;
  mapped_file: bigint;
  swap: bigint;
  active_anon: bigint;
  inactive_anon: bigint;
  active_file: bigint;
  inactive_file: bigint;
  usage_bytes: bigint;
  limit_bytes: bigint;
  max_usage_bytes: bigint;
  fail_count: bigint;
  oom_kill_count: bigint;
  under_oom: boolean;
  usage_percent: number;
  cache_percent: number;
}

/** Per-container memory from cgroup v1 or v2 (memory.stat critical per container). All bytes. */
export class CgroupMemoryCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("cgroup_memory", "Cgroup Memory Collector", true, true, "2.6.24");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["sys"]);
  }
  async collect(signal: AbortSignal): Promise<CgroupMemoryStats[]> {
    const root = `${this.paths.sys}/fs/cgroup`;
    const version = await detectCgroupVersion(this.io, root, signal);
    const containers = await discoverContainers(this.io, root, version, "memory", signal);
    const results = await Promise.all(containers.map((c) => this.one(c, version, signal)));
    return results.filter((x) => x !== undefined);
  }

  private async one(c: CgroupContainer, version: 1 | 2, signal: AbortSignal): Promise<CgroupMemoryStats | undefined> {
    {
      const rd = (f: string) => this.io.readOptional(`${c.path}/${f}`, signal);
      const stat = await rd("memory.stat");
      if (stat === undefined) {
        this.opts.logger?.debug({ path: c.path }, "memory.stat missing; container skipped");
        return undefined;
      }
      const st = parseFlatKeyed(stat);
      this.malformed(st.malformed);
      const v = st.values;
      const g = (k: string) => v.get(k) ?? 0n;
      const s: CgroupMemoryStats = {
        container_id: c.id,
        container_name: "",
        runtime: c.runtime,
        cgroup_path: c.path,
        rss: version === 1 ? g("rss") : g("anon"),
        cache: version === 1 ? g("cache") : g("file"),
        mapped_file: version === 1 ? g("mapped_file") : g("file_mapped"),
        swap: version === 1 ? g("swap") : g("swap"),
        active_anon: g("active_anon"),
        inactive_anon: g("inactive_anon"),
        active_file: g("active_file"),
        inactive_file: g("inactive_file"),
        usage_bytes: 0n,
        limit_bytes: 0n,
        max_usage_bytes: 0n,
        fail_count: 0n,
        oom_kill_count: 0n,
        under_oom: false,
        usage_percent: 0,
        cache_percent: 0,
      };
      if (version === 1) {
        const [usage, limit, maxu, failcnt, oom] = await Promise.all([
          rd("memory.usage_in_bytes"),
          rd("memory.limit_in_bytes"),
          rd("memory.max_usage_in_bytes"),
          rd("memory.failcnt"),
          rd("memory.oom_control"),
        ]);
        s.usage_bytes = usage !== undefined ? (parseCgroupU64(usage) ?? 0n) : 0n;
        s.limit_bytes = limit !== undefined ? (parseCgroupU64(limit) ?? 0n) : 0n;
        s.max_usage_bytes = maxu !== undefined ? (parseCgroupU64(maxu) ?? 0n) : 0n;
        s.fail_count = failcnt !== undefined ? (parseCgroupU64(failcnt) ?? 0n) : 0n;
        if (oom !== undefined) {
          const o = parseFlatKeyed(oom).values;
          s.under_oom = o.get("under_oom") === 1n;
          s.oom_kill_count = o.get("oom_kill") ?? 0n;
        }
      } else {
        const [cur, max, events, peak] = await Promise.all([
          rd("memory.current"),
          rd("memory.max"),
          rd("memory.events"),
          rd("memory.peak"),
        ]);
        s.usage_bytes = cur !== undefined ? (parseCgroupU64(cur) ?? 0n) : 0n;
        s.limit_bytes = max !== undefined ? (parseCgroupU64(max) ?? 0n) : 0n;
        s.max_usage_bytes = peak !== undefined ? (parseCgroupU64(peak) ?? 0n) : 0n;
        if (events !== undefined) {
          const e = parseFlatKeyed(events).values;
          s.fail_count = e.get("max") ?? 0n;
          s.oom_kill_count = e.get("oom_kill") ?? 0n;
        }
      }
      if (s.limit_bytes > 0n && s.limit_bytes < U64_MAX / 2n) s.usage_percent = (Number(s.usage_bytes) / Number(s.limit_bytes)) * 100;
      if (s.usage_bytes > 0n) s.cache_percent = (Number(s.cache) / Number(s.usage_bytes)) * 100;
      return s;
    }
  }
}
