// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Runs the four hardware once-collectors (cpu, memory, disk, network info) and reads the host facts the
// graph is built from.

//
// One hardware inventory for the host graph: the four info collectors, then the host facts, under a deadline.

import type { HostPaths } from "../perf/collector.ts";
import type { CollectorOptions } from "../perf/collectors/common.ts";
import { CPUInfoCollector, DiskInfoCollector, MemoryInfoCollector, NetworkInfoCollector } from "../perf/collectors/info.ts";
import { HostIo, raceAbort } from "../perf/io.ts";
import { errorMessage } from "../util/errors.ts";
import { factsReader, readHostFacts } from "./facts.ts";
import type { CpuInfoInput, DiskInfoInput, HostInventory, MemoryInfoInput, NetworkInfoInput } from "./types.ts";

/** The four once-collectors the graph is built from (each answers one `collect`). */
export interface HardwareCollectors {
  cpu_info: { collect(signal: AbortSignal): Promise<CpuInfoInput> };
  memory_info: { collect(signal: AbortSignal): Promise<MemoryInfoInput> };
  disk_info: { collect(signal: AbortSignal): Promise<DiskInfoInput[]> };
  network_info: { collect(signal: AbortSignal): Promise<NetworkInfoInput[]> };
}

export function createHardwareCollectors(paths: HostPaths, options: CollectorOptions = {}): HardwareCollectors {
  // Bun's I/O threads first, as the host facts and the runtime graph (HostIo nativeFirst): with the
  // performance collectors off, the agent then starts no reader Worker for the inventory.
  const opts = { ...options, io: options.io ?? new HostIo(paths.sys, 4, paths.proc, { nativeFirst: true }) };
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

/** Deadline of one inventory (collectors, then facts): a host file that never answers cannot hold the graph. */
export const INVENTORY_TIMEOUT_MS = 30_000;

/**
 * Runs the collectors (concurrently) and reads the host facts for the devices they found. A part
 * that fails or misses the deadline is named in `errors`; only `signal` (shutdown) aborts the whole.
 */
export async function collectInventory(
  paths: HostPaths,
  collectors: HardwareCollectors,
  signal: AbortSignal,
  timeoutMs = INVENTORY_TIMEOUT_MS,
): Promise<CollectedInventory> {
  const errors: Record<string, string> = {};
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
  const run = async <T>(name: keyof HardwareCollectors, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await raceAbort(fn(), deadline);
    } catch (e) {
      if (signal.aborted) throw e;
      errors[name] = deadline.aborted ? `timed out after ${timeoutMs} ms` : errorMessage(e);
      return undefined;
    }
  };
  const [cpuInfo, memoryInfo, diskInfo, networkInfo] = await Promise.all([
    run("cpu_info", () => collectors.cpu_info.collect(deadline)),
    run("memory_info", () => collectors.memory_info.collect(deadline)),
    run("disk_info", () => collectors.disk_info.collect(deadline)),
    run("network_info", () => collectors.network_info.collect(deadline)),
  ]);
  const reader = factsReader({ signal: deadline, stop: signal });
  const facts = await readHostFacts(
    paths,
    {
      net: (networkInfo ?? []).map((n) => n.interface),
      block: (diskInfo ?? []).map((d) => d.device),
    },
    reader,
  );
  if (reader.errors.length > 0) errors.facts = reader.errors.join("; ");
  const inventory: HostInventory = { facts };
  if (cpuInfo) inventory.cpuInfo = cpuInfo;
  if (memoryInfo) inventory.memoryInfo = memoryInfo;
  if (diskInfo) inventory.diskInfo = diskInfo;
  if (networkInfo) inventory.networkInfo = networkInfo;
  return { inventory, errors };
}
