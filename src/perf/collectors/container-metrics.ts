// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// container_metrics collector: what kubelet's cAdvisor reports per container (CPU usage and CFS throttling,
// memory usage, working set, RSS, cache, swap, failcnt, OOM kills, limits, start time) from cgroup v1 or v2,
// with the runtime's labels, for at most a fixed number of containers per cycle (the rest counted).

import { type BoundMeter, meterBound } from "../../metrics/registry.ts";
import type { HostPaths, PointCollector } from "../collector.ts";
import { parseCgroupI64, parseCgroupU64, parseCpuMax, parseFlatKeyed } from "../parsers/cgroup.ts";
import { U64_MAX } from "../parsers/num.ts";
import { type CgroupContainer, detectCgroupVersion, discoverContainers } from "./cgroup-discovery.ts";
import { auxvValues, BaseCollector, type CollectorOptions, spec } from "./common.ts";
import { type ContainerLabelSource, RuntimeStateLabels } from "./container-labels.ts";

/** Containers served per cycle unless the collector is told otherwise. */
export const DEFAULT_MAX_CONTAINERS = 1000;

/** cAdvisor's spec.Cpu and the CFS counters (quota 0 = no quota, as cAdvisor reports it). */
export interface ContainerCPU {
  usage_nanos: bigint;
  user_nanos: bigint;
  system_nanos: bigint;
  cfs_periods: bigint;
  cfs_throttled_periods: bigint;
  cfs_throttled_nanos: bigint;
  quota_us: bigint;
  period_us: bigint;
  /** cpu.shares on v1; on v2 cpu.weight converted back to shares as cAdvisor does (2 + (w-1)*262142/9999). */
  shares: bigint;
}

export interface ContainerMemory {
  usage_bytes: bigint;
  /** usage minus inactive file (v1 total_inactive_file, v2 inactive_file), floored at 0. */
  working_set_bytes: bigint;
  rss_bytes: bigint;
  cache_bytes: bigint;
  swap_bytes: bigint;
  mapped_file_bytes: bigint;
  active_file_bytes: bigint;
  inactive_file_bytes: bigint;
  /** memory.limit_in_bytes / memory.max; U64_MAX when unlimited ("max"). */
  limit_bytes: bigint;
  /** v1 memory.failcnt; null on v2 (the kernel has no such counter). */
  failcnt: bigint | null;
  /** oom_kill of memory.events (v2) or memory.oom_control (v1, kernel 4.13+); null when the kernel does not say. */
  oom_kills: bigint | null;
}

export interface ContainerStats {
  /** The cgroup path as cAdvisor prints it in `id` ("/kubepods/burstable/pod.../<id>"). */
  id: string;
  container_id: string;
  runtime: string;
  cgroup_version: 1 | 2;
  container: string;
  pod: string;
  namespace: string;
  image: string;
  name: string;
  /** Unix seconds: the runtime's creation time, else the start of the container's first process; null when unknown. */
  start_time_seconds: number | null;
  /** null when the cpu files are missing. */
  cpu: ContainerCPU | null;
  /** null when memory.stat is missing. */
  memory: ContainerMemory | null;
}

export interface ContainerMetricsData {
  containers: ContainerStats[];
  /** Containers found in the cgroup tree this cycle. */
  discovered: number;
  /** Of those, left out by the cap (also in antimetal_queue_dropped_total{queue="container_metrics_containers"}). */
  dropped: number;
  max_containers: number;
  /** When the cycle ran (unix seconds): container_last_seen. */
  collected_at_seconds: number;
}

const V1_FILES = [
  "cpu/cpu.stat",
  "cpu/cpu.shares",
  "cpu/cpu.cfs_quota_us",
  "cpu/cpu.cfs_period_us",
  "cpuacct/cpuacct.usage",
  "cpuacct/cpuacct.stat",
  "memory/memory.stat",
  "memory/memory.usage_in_bytes",
  "memory/memory.limit_in_bytes",
  "memory/memory.failcnt",
  "memory/memory.oom_control",
] as const;
const V2_FILES = [
  "cpu.stat",
  "cpu.max",
  "cpu.weight",
  "memory.stat",
  "memory.current",
  "memory.max",
  "memory.events",
  "memory.swap.current",
] as const;

/** A single-value cgroup file's u64; 0 when missing or not a number. */
const u64 = (t: string | undefined): bigint => (t === undefined ? 0n : (parseCgroupU64(t) ?? 0n));

/** cAdvisor's convertCPUWeightToCPULimit: the inverse of runc's shares -> weight mapping. */
export function cpuWeightToShares(weight: bigint): bigint {
  if (weight < 1n || weight > 10000n) return 0n;
  return 2n + ((weight - 1n) * 262142n) / 9999n;
}

/** Per-container cAdvisor metrics (cgroup v1 or v2). Root: <sys>/fs/cgroup; labels from the runtime's state (HOST_ROOT). */
export class ContainerMetricsCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("container_metrics", "Container Metrics Collector (cAdvisor names)", true, true, "2.6.24");
  private readonly max: number;
  private readonly bound: BoundMeter;
  private labelSource: ContainerLabelSource | undefined;

  constructor(paths: HostPaths, opts: CollectorOptions & { labels?: ContainerLabelSource } = {}) {
    super(paths, opts, ["sys", "proc"]);
    this.max = opts.containerMetricsMaxContainers ?? DEFAULT_MAX_CONTAINERS;
    this.bound = meterBound("container_metrics_containers", this.max);
    this.labelSource = opts.labels;
  }

  private get labels(): ContainerLabelSource {
    this.labelSource ??= new RuntimeStateLabels(this.io, this.paths, this.now, this.opts.logger);
    return this.labelSource;
  }

  async collect(signal: AbortSignal): Promise<ContainerMetricsData> {
    const at = Math.floor(this.now() / 1000);
    // Served: every container of the cpu hierarchy, ctr's /<ns>/<id> ones on v1 too, sorted by cgroup path.
    const root = `${this.paths.sys}/fs/cgroup`;
    const version = await detectCgroupVersion(this.io, root, signal);
    const containers = await discoverContainers(this.io, root, version, "cpu", signal, { namespaceChildren: true });
    containers.sort((a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0));
    const served = containers.slice(0, this.max);
    const dropped = containers.length - served.length;
    if (dropped > 0) this.bound.dropped("over_cap", dropped);
    this.bound.depth(served.length);
    this.labels.retain(new Set(served.map((c) => c.id)));
    const { hz } = await auxvValues(this.paths.proc);
    const stats = await Promise.all(served.map((c) => this.one(c, version, root, hz, signal)));
    return { containers: stats, discovered: containers.length, dropped, max_containers: this.max, collected_at_seconds: at };
  }

  private async one(c: CgroupContainer, version: 1 | 2, root: string, hz: number, signal: AbortSignal): Promise<ContainerStats> {
    const files =
      version === 1 ? V1_FILES.map((f) => `${root}/${f.replace("/", `/${c.relPath}/`)}`) : V2_FILES.map((f) => `${c.path}/${f}`);
    const [texts, labels] = await Promise.all([this.io.readManyOptional(files, signal), this.labels.labelsFor(c, signal)]);
    const { cpu, memory } = version === 1 ? this.v1(texts, hz) : this.v2(texts);
    return {
      id: `/${c.relPath}`,
      container_id: c.id,
      runtime: c.runtime,
      cgroup_version: version,
      container: labels.container,
      pod: labels.pod,
      namespace: labels.namespace,
      image: labels.image,
      name: labels.name,
      start_time_seconds: labels.createdSeconds ?? null,
      cpu,
      memory,
    };
  }

  private flat(text: string | undefined): Map<string, bigint> | undefined {
    if (text === undefined) return undefined;
    const p = parseFlatKeyed(text);
    this.malformed(p.malformed);
    return p.values;
  }

  private v1(t: (string | undefined)[], hz: number): { cpu: ContainerCPU | null; memory: ContainerMemory | null } {
    const [stat, shares, quota, period, usage, acctStat, mstat, musage, mlimit, failcnt, oomControl] = t;
    let cpu: ContainerCPU | null = null;
    if (stat !== undefined || usage !== undefined) {
      const s = this.flat(stat) ?? new Map<string, bigint>();
      const acct = this.flat(acctStat) ?? new Map<string, bigint>();
      const q = quota !== undefined ? (parseCgroupI64(quota) ?? -1n) : -1n;
      const ticks = (k: string) => ((acct.get(k) ?? 0n) * 1_000_000_000n) / BigInt(hz);
      cpu = {
        usage_nanos: u64(usage),
        user_nanos: ticks("user"),
        system_nanos: ticks("system"),
        cfs_periods: s.get("nr_periods") ?? 0n,
        cfs_throttled_periods: s.get("nr_throttled") ?? 0n,
        cfs_throttled_nanos: s.get("throttled_time") ?? 0n,
        quota_us: q > 0n ? q : 0n,
        period_us: u64(period),
        shares: u64(shares),
      };
    }
    const m = this.flat(mstat);
    if (m === undefined) return { cpu, memory: null };
    // cAdvisor reads the hierarchical total_* keys (use_hierarchy); a leaf container's equal its own.
    const k = (key: string) => m.get(`total_${key}`) ?? m.get(key) ?? 0n;
    const oom = this.flat(oomControl)?.get("oom_kill");
    return {
      cpu,
      memory: memoryOf(u64(musage), m.get("total_inactive_file"), {
        rss_bytes: k("rss"),
        cache_bytes: k("cache"),
        swap_bytes: k("swap"),
        mapped_file_bytes: k("mapped_file"),
        active_file_bytes: k("active_file"),
        limit_bytes: mlimit !== undefined ? u64(mlimit) : U64_MAX,
        failcnt: u64(failcnt),
        oom_kills: oom ?? null,
      }),
    };
  }

  private v2(t: (string | undefined)[]): { cpu: ContainerCPU | null; memory: ContainerMemory | null } {
    const [stat, max, weight, mstat, current, mmax, events, swap] = t;
    let cpu: ContainerCPU | null = null;
    const s = this.flat(stat);
    if (s !== undefined) {
      const m = max !== undefined ? parseCpuMax(max) : undefined;
      cpu = {
        usage_nanos: (s.get("usage_usec") ?? 0n) * 1000n,
        user_nanos: (s.get("user_usec") ?? 0n) * 1000n,
        system_nanos: (s.get("system_usec") ?? 0n) * 1000n,
        cfs_periods: s.get("nr_periods") ?? 0n,
        cfs_throttled_periods: s.get("nr_throttled") ?? 0n,
        cfs_throttled_nanos: (s.get("throttled_usec") ?? 0n) * 1000n,
        quota_us: m && m.quota > 0n ? m.quota : 0n,
        period_us: m?.period ?? 0n,
        shares: weight !== undefined ? cpuWeightToShares(u64(weight)) : 0n,
      };
    }
    const m = this.flat(mstat);
    if (m === undefined) return { cpu, memory: null };
    const g = (key: string) => m.get(key) ?? 0n;
    const oom = this.flat(events)?.get("oom_kill");
    return {
      cpu,
      memory: memoryOf(u64(current), m.get("inactive_file"), {
        rss_bytes: g("anon"),
        cache_bytes: g("file"),
        swap_bytes: u64(swap),
        mapped_file_bytes: g("file_mapped"),
        active_file_bytes: g("active_file"),
        limit_bytes: mmax !== undefined ? u64(mmax) : U64_MAX,
        failcnt: null,
        oom_kills: oom ?? null,
      }),
    };
  }
}

/** Working set as cAdvisor computes it: usage minus inactive file when the key exists, floored at 0. */
function memoryOf(
  usage: bigint,
  inactiveFile: bigint | undefined,
  rest: Omit<ContainerMemory, "usage_bytes" | "working_set_bytes" | "inactive_file_bytes">,
): ContainerMemory {
  const inactive = inactiveFile ?? 0n;
  const ws = inactiveFile === undefined ? usage : usage < inactive ? 0n : usage - inactive;
  return { usage_bytes: usage, working_set_bytes: ws, inactive_file_bytes: inactive, ...rest };
}
