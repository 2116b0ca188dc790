// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The collector registry: every built-in collector for the host roots, and whether each can run here
// (kernel version and capabilities) or why not.

import { missingCapabilities } from "../system/capabilities.ts";
import { compareKernel, type KernelVersion, parseKernelVersion } from "../system/kernel-version.ts";
import { errorMessage } from "../util/errors.ts";
import type { CollectorSpec, ContinuousCollector, HostPaths, MetricType, PointCollector } from "./collector.ts";
import { CgroupCPUCollector } from "./collectors/cgroup-cpu.ts";
import { CgroupMemoryCollector } from "./collectors/cgroup-memory.ts";
import type { CollectorOptions } from "./collectors/common.ts";
import { ContainerMetricsCollector } from "./collectors/container-metrics.ts";
import { CPUCollector } from "./collectors/cpu.ts";
import { DiskCollector } from "./collectors/disk.ts";
import { FilesystemCollector } from "./collectors/filesystem.ts";
import { BondingCollector, EdacCollector, MdstatCollector, ThermalZoneCollector } from "./collectors/host-hardware.ts";
import { OSReleaseCollector, SelinuxCollector, UnameCollector } from "./collectors/host-identity.ts";
import { HwmonCollector } from "./collectors/hwmon.ts";
import { CPUInfoCollector, DiskInfoCollector, MemoryInfoCollector, NetworkInfoCollector } from "./collectors/info.ts";
import { KernelCollector, kmsgAccess } from "./collectors/kernel.ts";
import { ConntrackCollector, EntropyCollector, FilefdCollector } from "./collectors/kernel-tables.ts";
import { LoadCollector } from "./collectors/load.ts";
import { MemoryCollector } from "./collectors/memory.ts";
import { ArpCollector, SoftnetCollector } from "./collectors/net-tables.ts";
import { NetClassCollector } from "./collectors/netclass.ts";
import { NetworkCollector } from "./collectors/network.ts";
import { NUMAStatsCollector } from "./collectors/numa.ts";
import { PowerSupplyCollector } from "./collectors/power-supply.ts";
import { PressureCollector } from "./collectors/pressure.ts";
import { ProcessCollector } from "./collectors/process.ts";
import { SystemStatsCollector } from "./collectors/system.ts";
import { TCPCollector } from "./collectors/tcp.ts";
import { TimeCollector, TimexCollector } from "./collectors/time.ts";

export type AnyCollector = PointCollector | ContinuousCollector;

export interface CollectorEntry {
  spec: CollectorSpec;
  available: boolean;
  /** Why it cannot run here ("missing capability: CAP_SYSLOG", "kernel 3.2.0 < 3.5.0", a path error). */
  reason?: string;
  create(): AnyCollector;
}

export interface CollectorRegistry {
  /** Every registered collector, in METRIC_TYPES order, available or not. */
  entries(): CollectorEntry[];
  get(type: MetricType): CollectorEntry | undefined;
  available(): CollectorEntry[];
  unavailable(): CollectorEntry[];
  /** "available" or the reason, or "not found" (the original's GetCollectorStatus). */
  status(type: MetricType): { available: boolean; reason: string };
  /**
   * Adds a collector built elsewhere (the eBPF execsnoop). When `available` is not given it is decided
   * from the spec's capabilities and minimum kernel, like the built-in ones. Throws on a duplicate type.
   */
  registerExternal(entry: { spec: CollectorSpec; create(): AnyCollector; available?: boolean; reason?: string }): CollectorEntry;
}

export interface RegistryEnv {
  /** Effective capability mask of this process (CapEff). */
  capabilities: bigint;
  kernel: KernelVersion;
}

export function isPoint(c: AnyCollector): c is PointCollector {
  return typeof (c as PointCollector).collect === "function";
}
export function isContinuous(c: AnyCollector): c is ContinuousCollector {
  return typeof (c as ContinuousCollector).start === "function";
}

type Ctor = new (paths: HostPaths, opts: CollectorOptions) => AnyCollector;

/** Built-in collectors, in METRIC_TYPES order (execsnoop is registered by the eBPF helper). */
export const BUILTIN: [MetricType, Ctor][] = [
  ["load", LoadCollector],
  ["cpu", CPUCollector],
  ["memory", MemoryCollector],
  ["system", SystemStatsCollector],
  ["disk", DiskCollector],
  ["network", NetworkCollector],
  ["tcp", TCPCollector],
  ["kernel", KernelCollector],
  ["process", ProcessCollector],
  ["numa_stats", NUMAStatsCollector],
  ["cgroup_cpu", CgroupCPUCollector],
  ["cgroup_memory", CgroupMemoryCollector],
  ["cpu_info", CPUInfoCollector],
  ["memory_info", MemoryInfoCollector],
  ["disk_info", DiskInfoCollector],
  ["network_info", NetworkInfoCollector],
  ["filesystem", FilesystemCollector],
  ["uname", UnameCollector],
  ["os_release", OSReleaseCollector],
  ["time", TimeCollector],
  ["timex", TimexCollector],
  ["pressure", PressureCollector],
  ["conntrack", ConntrackCollector],
  ["filefd", FilefdCollector],
  ["entropy", EntropyCollector],
  ["arp", ArpCollector],
  ["softnet", SoftnetCollector],
  ["thermal_zone", ThermalZoneCollector],
  ["bonding", BondingCollector],
  ["edac", EdacCollector],
  ["mdstat", MdstatCollector],
  ["hwmon", HwmonCollector],
  ["power_supply", PowerSupplyCollector],
  ["selinux", SelinuxCollector],
  ["netclass", NetClassCollector],
  ["container_metrics", ContainerMetricsCollector],
];

/** Why `spec` cannot run with `env`, or undefined. All missing capabilities are listed. */
export function unavailableReason(spec: CollectorSpec, env: RegistryEnv): string | undefined {
  const reasons: string[] = [];
  for (const cap of missingCapabilities(env.capabilities, spec.requiredCapabilities)) reasons.push(`missing capability: ${cap}`);
  try {
    const min = parseKernelVersion(spec.minKernel);
    if (compareKernel(env.kernel, min) < 0)
      reasons.push(`kernel ${env.kernel.major}.${env.kernel.minor}.${env.kernel.patch} is older than the required ${spec.minKernel}`);
  } catch {
    // a spec without a parsable minimum kernel has none
  }
  return reasons.length ? reasons.join("; ") : undefined;
}

/**
 * The collectors for these host roots and this process's capabilities and kernel. Building an entry
 * constructs one throwaway instance to validate the paths (constructors never touch the filesystem).
 */
export function createCollectorRegistry(paths: HostPaths, env: RegistryEnv, opts: CollectorOptions = {}): CollectorRegistry {
  const map = new Map<MetricType, CollectorEntry>();
  for (const [type, C] of BUILTIN) {
    let probe: AnyCollector | undefined;
    let reason: string | undefined;
    try {
      probe = new C(paths, opts);
    } catch (e) {
      reason = errorMessage(e);
    }
    const spec = probe?.spec ?? { type, name: type, point: true, continuous: true, requiredCapabilities: [], minKernel: "2.6.0" };
    reason ??= unavailableReason(spec, env);
    if (type === "kernel" && reason === undefined) {
      // /dev/kmsg, else syslog(2) (a pod's device cgroup refuses the device), else why neither works.
      const access = kmsgAccess(paths);
      if (access !== "kmsg" && access !== "syslog") reason = access;
    }
    map.set(type, { spec, available: reason === undefined, ...(reason !== undefined ? { reason } : {}), create: () => new C(paths, opts) });
  }
  const order = (t: MetricType) => BUILTIN.findIndex(([x]) => x === t);
  const sorted = () => [...map.values()].sort((a, b) => (order(a.spec.type) >>> 0) - (order(b.spec.type) >>> 0));
  return {
    entries: sorted,
    get: (t) => map.get(t),
    available: () => sorted().filter((e) => e.available),
    unavailable: () => sorted().filter((e) => !e.available),
    status(t) {
      const e = map.get(t);
      if (!e) return { available: false, reason: "not found" };
      return e.available ? { available: true, reason: "available" } : { available: false, reason: e.reason ?? "unavailable" };
    },
    registerExternal(entry) {
      if (map.has(entry.spec.type)) throw new Error(`collector ${entry.spec.type} is already registered`);
      const reason =
        entry.available === false
          ? (entry.reason ?? "unavailable")
          : entry.available === true
            ? undefined
            : unavailableReason(entry.spec, env);
      const e: CollectorEntry = {
        spec: entry.spec,
        available: reason === undefined,
        ...(reason !== undefined ? { reason } : {}),
        create: entry.create,
      };
      map.set(entry.spec.type, e);
      return e;
    },
  };
}
