// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Input shapes of the host graph: the hardware collectors' outputs reduced to the fields it uses, plus
// host and per-device facts (bus, NUMA, addresses) and one refresh's inventory.

import type { CpuCore, CpuDescription } from "../perf/parsers/cpuinfo.ts";
import type { Architecture, BusType } from "../proto/gen/antimetal/hardware/v1/hardware_pb.ts";

/**
 * What the host graph reads from the hardware collectors (src/perf/collectors). These are the
 * collectors' output shapes (the original's field names in snake_case), reduced to the fields the
 * graph uses, so the real collector outputs are assignable to them. u64 values may be bigint or
 * number (both are accepted and converted exactly).
 */
export type U64 = bigint | number;

export type CpuCoreInput = CpuCore;

export interface CpuInfoInput extends CpuDescription {
  cpu_min_mhz?: number;
  cpu_max_mhz?: number;
}

export interface NumaNodeInput {
  node_id: number;
  total_bytes: U64;
  cpus: number[];
  distances: number[];
}

export interface MemoryInfoInput {
  total_bytes: U64;
  numa_enabled: boolean;
  numa_balancing_available: boolean;
  numa_nodes: NumaNodeInput[];
}

export interface PartitionInput {
  name: string;
  size_bytes: U64;
  start_sector: U64;
}

export interface DiskInfoInput {
  device: string;
  model: string;
  vendor: string;
  size_bytes: U64;
  block_size: number;
  physical_block_size: number;
  rotational: boolean;
  queue_depth: number;
  scheduler: string;
  partitions: PartitionInput[];
}

export interface NetworkInfoInput {
  interface: string;
  driver: string;
  mac_address: string;
  speed: U64;
  duplex: string;
  mtu: number;
  type: string;
  oper_state: string;
  carrier: boolean;
}

/** Where a device hangs off, as sysfs shows it (the `device` link of a block or net device). */
export interface BusInfo {
  type: BusType;
  /** PCI address ("0000:3d:00.0"), SCSI address ("0:0:0:0"), USB port ("1-2"), or virtio name. */
  address: string;
  /** NUMA node of the closest PCI ancestor (`numa_node`), undefined when the kernel says -1 or none. */
  numaNode?: number;
  /** PCI Express (the PCI function has a `current_link_speed`). */
  pcie?: boolean;
}

export interface NetDeviceFacts {
  bus?: BusInfo;
  /** `bonding/` exists: a bond master. */
  bond: boolean;
  /** `bridge/` exists: a bridge. */
  bridge: boolean;
  /** A `device` link exists (hardware, possibly on a bus the graph does not classify). */
  device: boolean;
  /** `tun_flags` (IFF_TUN 0x1, IFF_TAP 0x2) for tun/tap devices. */
  tunFlags?: number;
  /** Bond slaves (`bonding/slaves`) or bridge ports (`brif/`), sorted. */
  members: string[];
  ipv4: string[];
  ipv6: string[];
}

export interface BlockDeviceFacts {
  bus?: BusInfo;
}

/** Facts about the host that no collector reads (see facts.ts). */
export interface HostFacts {
  machineId: string;
  systemUuid: string;
  hostname: string;
  architecture: Architecture;
  /** Seconds since the epoch (`btime` in /proc/stat); 0 when unknown. */
  bootTimeSeconds: number;
  kernelVersion: string;
  osInfo: string;
  net: Record<string, NetDeviceFacts>;
  block: Record<string, BlockDeviceFacts>;
}

/** One refresh's input. A collector that failed is undefined, and the graph omits its part. */
export interface HostInventory {
  facts: HostFacts;
  cpuInfo?: CpuInfoInput;
  memoryInfo?: MemoryInfoInput;
  diskInfo?: DiskInfoInput[];
  networkInfo?: NetworkInfoInput[];
}
