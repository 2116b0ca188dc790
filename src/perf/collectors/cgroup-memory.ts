// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// cgroup_memory collector: per-container memory usage, limits, cache and OOM counts (cgroup v1 or v2).

import type { HostPaths, PointCollector } from "../collector.ts";
import { parseCgroupU64, parseFlatKeyed } from "../parsers/cgroup.ts";
import { U64_MAX } from "../parsers/num.ts";
import { type CgroupContainer, collectPerContainer } from "./cgroup-discovery.ts";
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

/** Where each cgroup version keeps usage, limit, peak usage and the OOM counters (v1 also memory.failcnt). */
const MEMORY_FILES = {
  1: { usage: "memory.usage_in_bytes", limit: "memory.limit_in_bytes", peak: "memory.max_usage_in_bytes", oom: "memory.oom_control" },
  2: { usage: "memory.current", limit: "memory.max", peak: "memory.peak", oom: "memory.events" },
} as const;

/** A single-value cgroup file's u64: 0 when the file is missing or does not parse ("max" is U64_MAX). */
const u64File = (text: string | undefined): bigint => (text === undefined ? 0n : (parseCgroupU64(text) ?? 0n));

/** Per-container memory from cgroup v1 or v2 (memory.stat critical per container). All bytes. */
export class CgroupMemoryCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("cgroup_memory", "Cgroup Memory Collector", true, true, "2.6.24");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["sys"]);
  }
  collect(signal: AbortSignal): Promise<CgroupMemoryStats[]> {
    return collectPerContainer(this.io, this.paths.sys, "memory", signal, (c, version) => this.one(c, version, signal));
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
      const f = MEMORY_FILES[version];
      const [usage, limit, peak, oom, failcnt] = await Promise.all([
        rd(f.usage),
        rd(f.limit),
        rd(f.peak),
        rd(f.oom),
        version === 1 ? rd("memory.failcnt") : undefined,
      ]);
      s.usage_bytes = u64File(usage);
      s.limit_bytes = u64File(limit);
      s.max_usage_bytes = u64File(peak);
      const o = oom === undefined ? undefined : parseFlatKeyed(oom).values;
      if (version === 1) {
        s.fail_count = u64File(failcnt);
        if (o !== undefined) s.under_oom = o.get("under_oom") === 1n;
      } else if (o !== undefined) {
        s.fail_count = o.get("max") ?? 0n;
      }
      if (o !== undefined) s.oom_kill_count = o.get("oom_kill") ?? 0n;
      if (s.limit_bytes > 0n && s.limit_bytes < U64_MAX / 2n) s.usage_percent = (Number(s.usage_bytes) / Number(s.limit_bytes)) * 100;
      if (s.usage_bytes > 0n) s.cache_percent = (Number(s.cache) / Number(s.usage_bytes)) * 100;
      return s;
    }
  }
}
