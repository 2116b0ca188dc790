// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import type { HostPaths } from "../perf/collector.ts";
import type { CollectorOptions } from "../perf/collectors/common.ts";
import { CPUInfoCollector, DiskInfoCollector, MemoryInfoCollector, NetworkInfoCollector } from "../perf/collectors/info.ts";
import { readHostFacts } from "./facts.ts";
import type { CpuInfoInput, DiskInfoInput, HostInventory, MemoryInfoInput, NetworkInfoInput } from "./types.ts";
import { errorMessage } from "../util/errors.ts";

/** The four once-collectors the graph is built from (each answers one `collect`). */
export interface HardwareCollectors {
  cpu_info: { collect(signal: AbortSignal): Promise<CpuInfoInput> };
  memory_info: { collect(signal: AbortSignal): Promise<MemoryInfoInput> };
  disk_info: { collect(signal: AbortSignal): Promise<DiskInfoInput[]> };
  network_info: { collect(signal: AbortSignal): Promise<NetworkInfoInput[]> };
}

export function createHardwareCollectors(paths: HostPaths, opts: CollectorOptions = {}): HardwareCollectors {
  return {
    cpu_info: new CPUInfoCollector(paths, opts),
    memory_info: new MemoryInfoCollector(paths, opts),
    disk_info: new DiskInfoCollector(paths, opts),
    network_info: new NetworkInfoCollector(paths, opts),
  };
}

export interface CollectedInventory {
  inventory: HostInventory;
  /** Collector name -> error message, for the collectors that failed this time. */
  errors: Record<string, string>;
}

/** Runs the collectors (concurrently) and reads the host facts for the devices they found. */
export async function collectInventory(paths: HostPaths, collectors: HardwareCollectors, signal: AbortSignal): Promise<CollectedInventory> {
  const errors: Record<string, string> = {};
  const run = async <T>(name: keyof HardwareCollectors, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (e) {
      if (signal.aborted) throw e;
      errors[name] = errorMessage(e);
      return undefined;
    }
  };
  const [cpuInfo, memoryInfo, diskInfo, networkInfo] = await Promise.all([
    run("cpu_info", () => collectors.cpu_info.collect(signal)),
    run("memory_info", () => collectors.memory_info.collect(signal)),
    run("disk_info", () => collectors.disk_info.collect(signal)),
    run("network_info", () => collectors.network_info.collect(signal)),
  ]);
  const facts = await readHostFacts(paths, {
    net: (networkInfo ?? []).map((n) => n.interface),
    block: (diskInfo ?? []).map((d) => d.device),
  });
  const inventory: HostInventory = { facts };
  if (cpuInfo) inventory.cpuInfo = cpuInfo;
  if (memoryInfo) inventory.memoryInfo = memoryInfo;
  if (diskInfo) inventory.diskInfo = diskInfo;
  if (networkInfo) inventory.networkInfo = networkInfo;
  return { inventory, errors };
}
