// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// What each metric type's collector produces: the one map that types PointCollector.collect, MetricEvent.data,
// the exposition's family groups and the host graph's inputs.

import type { ExecRecordData } from "../ebpf/execsnoop.ts";
import type { CgroupCPUStats } from "./collectors/cgroup-cpu.ts";
import type { CgroupMemoryStats } from "./collectors/cgroup-memory.ts";
import type { HasExtra } from "./collectors/common.ts";
import type { ContainerMetricsData } from "./collectors/container-metrics.ts";
import type { CPUStats } from "./collectors/cpu.ts";
import type { DiskExtra, DiskStats } from "./collectors/disk.ts";
import type { FilesystemStats } from "./collectors/filesystem.ts";
import type { BondingMaster, EdacController, ThermalStats } from "./collectors/host-hardware.ts";
import type { OSReleaseInfo, SelinuxInfo, UnameInfo } from "./collectors/host-identity.ts";
import type { HwmonChip } from "./collectors/hwmon.ts";
import type { CPUInfo, DiskInfo, MemoryInfo, NetworkInfo } from "./collectors/info.ts";
import type { ConntrackStats, EntropyStats, FilefdStats } from "./collectors/kernel-tables.ts";
import type { LoadStats } from "./collectors/load.ts";
import type { MemoryExtra, MemoryStats } from "./collectors/memory.ts";
import type { ArpDevice, SoftnetStats } from "./collectors/net-tables.ts";
import type { NetworkStats } from "./collectors/network.ts";
import type { NUMAStatistics } from "./collectors/numa.ts";
import type { PowerSupply } from "./collectors/power-supply.ts";
import type { PressureStats } from "./collectors/pressure.ts";
import type { ProcessStats } from "./collectors/process.ts";
import type { SystemExtra, SystemStats } from "./collectors/system.ts";
import type { TCPExtra, TCPStats } from "./collectors/tcp.ts";
import type { TimeStats } from "./collectors/time.ts";
import type { KmsgRecord } from "./parsers/kmsg.ts";
import type { MDStat } from "./parsers/mdstat.ts";
import type { NetClassIface } from "./parsers/netclass.ts";
import type { TimexStats } from "./parsers/timex.ts";

export interface MetricDataMap {
  load: LoadStats;
  cpu: CPUStats[];
  memory: MemoryStats & HasExtra<MemoryExtra>;
  system: SystemStats & HasExtra<SystemExtra>;
  disk: DiskStats[] & HasExtra<DiskExtra>;
  network: NetworkStats[];
  tcp: TCPStats & HasExtra<TCPExtra>;
  /** The last records in point mode; one record per event in follow mode. */
  kernel: KmsgRecord[] | KmsgRecord;
  process: ProcessStats[];
  numa_stats: NUMAStatistics;
  cgroup_cpu: CgroupCPUStats[];
  cgroup_memory: CgroupMemoryStats[];
  cpu_info: CPUInfo;
  memory_info: MemoryInfo;
  disk_info: DiskInfo[];
  network_info: NetworkInfo[];
  execsnoop: ExecRecordData;
  filesystem: FilesystemStats[];
  uname: UnameInfo;
  /** null: no os-release file. */
  os_release: OSReleaseInfo | null;
  time: TimeStats;
  /** null: adjtimex(2) refused (seccomp). */
  timex: TimexStats | null;
  pressure: PressureStats;
  /** null: nf_conntrack not loaded. */
  conntrack: ConntrackStats | null;
  filefd: FilefdStats;
  entropy: EntropyStats;
  arp: ArpDevice[];
  softnet: SoftnetStats;
  thermal_zone: ThermalStats;
  bonding: BondingMaster[];
  edac: EdacController[];
  mdstat: MDStat[];
  hwmon: HwmonChip[];
  power_supply: PowerSupply[];
  selinux: SelinuxInfo;
  netclass: NetClassIface[];
  container_metrics: ContainerMetricsData;
}
