// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Hardware inventory collectors: cpu_info (/proc/cpuinfo, cpufreq), memory_info (MemTotal, NUMA layout),
// disk_info (<sys>/block) and network_info (<sys>/class/net); the host graph is built from them.

import { errorMessage } from "../../util/errors.ts";
import type { HostPaths, PointCollector } from "../collector.ts";
import type { DirEntry, HostIo } from "../io.ts";
import { type CpuinfoParsed, parseCpuinfo } from "../parsers/cpuinfo.ts";
import { parseMeminfo } from "../parsers/meminfo.ts";
import { fields, parseI32, parseU64 } from "../parsers/num.ts";
import { interfaceType, parseCpuList, parseDistance, parseScheduler } from "../parsers/sysfs.ts";
import { BaseCollector, type CollectorOptions, listClassNet, spec } from "./common.ts";

/** cpu_info: /proc/cpuinfo's description, with cpufreq's limits and the NUMA node count from sysfs. */
export interface CPUInfo extends Omit<CpuinfoParsed, "malformed"> {
  cpu_min_mhz: number;
  cpu_max_mhz: number;
  numa_nodes: number;
}

/** The NUMA node ids under <sys>/devices/system/node, in name order (none when the directory is missing). */
async function nodeIds(io: HostIo, sys: string, signal: AbortSignal): Promise<number[]> {
  const entries = await io.listOptional(`${sys}/devices/system/node`, signal);
  return entries
    .map((e) => /^node(\d+)$/.exec(e.name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => m[0]!)
    .sort()
    .map((n) => Number(n.slice(4)));
}

/** /proc/cpuinfo (critical) + cpufreq min/max and the NUMA node count from sysfs (optional). */
export class CPUInfoCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("cpu_info", "CPU Hardware Info Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc", "sys"]);
  }
  async collect(signal: AbortSignal): Promise<CPUInfo> {
    const cf = `${this.paths.sys}/devices/system/cpu/cpu0/cpufreq`;
    const [text, minF, maxF, nodes] = await Promise.all([
      this.readCritical(`${this.paths.proc}/cpuinfo`, signal),
      this.io.readOptional(`${cf}/cpuinfo_min_freq`, signal),
      this.io.readOptional(`${cf}/cpuinfo_max_freq`, signal),
      nodeIds(this.io, this.paths.sys, signal),
    ]);
    const p = parseCpuinfo(text);
    this.malformed(p.malformed);
    const mhz = (t: string | undefined) => {
      const v = t !== undefined ? parseU64(t.trim()) : undefined;
      return v !== undefined ? Number(v) / 1000 : 0;
    };
    return {
      physical_cores: p.physical_cores,
      logical_cores: p.logical_cores,
      model_name: p.model_name,
      vendor_id: p.vendor_id,
      cpu_family: p.cpu_family,
      model: p.model,
      stepping: p.stepping,
      microcode: p.microcode,
      cpu_mhz: p.cpu_mhz,
      cpu_min_mhz: mhz(minF),
      cpu_max_mhz: mhz(maxF),
      cache_size: p.cache_size,
      cache_alignment: p.cache_alignment,
      flags: p.flags,
      numa_nodes: nodes.length > 0 ? nodes.length : 1,
      bogomips: p.bogomips,
      cores: p.cores,
    };
  }
}

export interface NUMANode {
  node_id: number;
  total_bytes: bigint;
  cpus: number[];
  distances: number[];
}
export interface MemoryInfo {
  total_bytes: bigint;
  numa_enabled: boolean;
  numa_balancing_available: boolean;
  numa_nodes: NUMANode[];
}

/** MemTotal (critical) and the NUMA layout from sysfs. */
export class MemoryInfoCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("memory_info", "Memory Hardware Info Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc", "sys"]);
  }
  async collect(signal: AbortSignal): Promise<MemoryInfo> {
    const sys = this.paths.sys;
    const [text, balancing, ids] = await Promise.all([
      this.readCritical(`${this.paths.proc}/meminfo`, signal),
      this.io.exists(`${this.paths.proc}/sys/kernel/numa_balancing`, signal),
      nodeIds(this.io, sys, signal),
    ]);
    const mt = parseMeminfo(text).values.get("MemTotal");
    if (mt === undefined) throw new Error(`MemTotal not found in ${this.paths.proc}/meminfo`);
    const total = mt * 1024n;
    const out: MemoryInfo = { total_bytes: total, numa_enabled: ids.length > 1, numa_balancing_available: balancing, numa_nodes: [] };
    if (ids.length === 0) {
      const cpus = (await this.io.listOptional(`${sys}/devices/system/cpu`, signal))
        .map((e) => /^cpu(\d+)$/.exec(e.name))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => Number(m[1]))
        .sort((a, b) => a - b);
      out.numa_nodes.push({ node_id: 0, total_bytes: total, cpus, distances: [10] });
      return out;
    }
    out.numa_nodes = await Promise.all(
      ids.map(async (id): Promise<NUMANode> => {
        const d = `${sys}/devices/system/node/node${id}`;
        const [mi, cl, dist] = await Promise.all([
          this.io.readOptional(`${d}/meminfo`, signal),
          this.io.readOptional(`${d}/cpulist`, signal),
          this.io.readOptional(`${d}/distance`, signal),
        ]);
        let bytes = 0n;
        for (const line of (mi ?? "").split("\n")) {
          if (!line.includes("MemTotal:")) continue;
          const f = fields(line);
          const i = f.indexOf("MemTotal:");
          bytes = (parseU64(f[i + 1]) ?? 0n) * 1024n;
          break;
        }
        return {
          node_id: id,
          total_bytes: bytes,
          cpus: cl !== undefined ? parseCpuList(cl) : [],
          distances: dist !== undefined ? parseDistance(dist) : [],
        };
      }),
    );
    return out;
  }
}

export interface PartitionInfo {
  name: string;
  size_bytes: bigint;
  start_sector: bigint;
}
export interface DiskInfo {
  device: string;
  model: string;
  vendor: string;
  size_bytes: bigint;
  block_size: number;
  rotational: boolean;
  queue_depth: number;
  scheduler: string;
  physical_block_size: number;
  partitions: PartitionInfo[];
}

/** Block devices from <sys>/block (critical); every attribute optional. */
export class DiskInfoCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("disk_info", "Disk Hardware Info Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["sys"]);
  }
  async collect(signal: AbortSignal): Promise<DiskInfo[]> {
    const blk = `${this.paths.sys}/block`;
    let entries: DirEntry[];
    try {
      entries = await this.io.list(blk, signal);
    } catch (e) {
      if (signal.aborted) throw e;
      throw new Error(`failed to read block devices at ${blk}: ${errorMessage(e)}`);
    }
    const names = new Set(entries.map((e) => e.name));
    const candidates = entries.filter((e) => {
      if (e.name.startsWith("loop") || e.name.startsWith("ram")) return false;
      const m = /^(.*?)(\d+)$/.exec(e.name);
      if (m) {
        let stem = m[1]!;
        if (stem.endsWith("p")) stem = stem.slice(0, -1);
        if (stem && names.has(stem)) return false;
      }
      return true;
    });
    const isDir = await Promise.all(candidates.map((e) => this.io.isDir(`${blk}/${e.name}`, signal)));
    const devs = candidates.filter((_, i) => isDir[i]).map((e) => e.name);
    devs.sort();
    const txt = (p: string) => this.io.readOptional(p, signal).then((t) => t?.trim());
    const int = (t: string | undefined) => (t !== undefined ? (parseI32(t) ?? 0) : 0);
    return Promise.all(
      devs.map(async (dev): Promise<DiskInfo> => {
        const d = `${blk}/${dev}`;
        const [model, vendor, size, lbs, pbs, rot, nr, sched, subs] = await Promise.all([
          txt(`${d}/device/model`),
          txt(`${d}/device/vendor`),
          txt(`${d}/size`),
          txt(`${d}/queue/logical_block_size`),
          txt(`${d}/queue/physical_block_size`),
          txt(`${d}/queue/rotational`),
          txt(`${d}/queue/nr_requests`),
          this.io.readOptional(`${d}/queue/scheduler`, signal),
          this.io.listOptional(d, signal),
        ]);
        const parts = subs.filter((x) => x.name.startsWith(dev) && x.name !== dev).sort((a, b) => a.name.localeCompare(b.name));
        const partitions: PartitionInfo[] = await Promise.all(
          parts.map(async (s) => {
            const [ps, st] = await Promise.all([txt(`${d}/${s.name}/size`), txt(`${d}/${s.name}/start`)]);
            return { name: s.name, size_bytes: (parseU64(ps) ?? 0n) * 512n, start_sector: parseU64(st) ?? 0n };
          }),
        );
        return {
          device: dev,
          model: model ?? "",
          vendor: vendor ?? "",
          size_bytes: (parseU64(size) ?? 0n) * 512n,
          block_size: int(lbs),
          rotational: rot === "1",
          queue_depth: int(nr),
          scheduler: sched !== undefined ? parseScheduler(sched) : "",
          physical_block_size: int(pbs),
          partitions,
        };
      }),
    );
  }
}

export interface NetworkInfo {
  interface: string;
  driver: string;
  mac_address: string;
  speed: number;
  duplex: string;
  mtu: number;
  type: string;
  oper_state: string;
  carrier: boolean;
}

/** Interfaces from <sys>/class/net (critical); properties optional. */
export class NetworkInfoCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("network_info", "Network Hardware Info Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["sys"]);
  }
  async collect(signal: AbortSignal): Promise<NetworkInfo[]> {
    const dir = `${this.paths.sys}/class/net`;
    const entries = await listClassNet(this.io, this.paths.sys, signal);
    const isDir = await Promise.all(entries.map((e) => this.io.isDir(`${dir}/${e.name}`, signal)));
    const names = entries
      .filter((_, i) => isDir[i])
      .map((e) => e.name)
      .sort();
    const txt = (p: string) => this.io.readOptional(p, signal).then((t) => t?.trim());
    return Promise.all(
      names.map(async (name): Promise<NetworkInfo> => {
        const b = `${dir}/${name}`;
        const [entries, type, addr, speed, duplex, mtu, oper, carrier, driver] = await Promise.all([
          this.io.listOptional(b, signal),
          txt(`${b}/type`),
          txt(`${b}/address`),
          txt(`${b}/speed`),
          txt(`${b}/duplex`),
          txt(`${b}/mtu`),
          txt(`${b}/operstate`),
          txt(`${b}/carrier`),
          this.io.readlink(`${b}/device/driver`, signal),
        ]);
        const wireless = entries.some((e) => e.name === "wireless" && e.isDirectory());
        const hasDevice = entries.some((e) => e.name === "device");
        const sp = speed !== undefined ? (parseI32(speed) ?? 0) : 0;
        return {
          interface: name,
          driver: driver ? driver.slice(driver.lastIndexOf("/") + 1) : "",
          mac_address: addr ?? "",
          speed: Math.max(sp, 0),
          duplex: duplex ?? "",
          mtu: mtu !== undefined ? (parseI32(mtu) ?? 0) : 0,
          type: interfaceType(name, { wireless, typeCode: type !== undefined ? parseI32(type) : undefined, hasDevice }),
          oper_state: oper ?? "",
          carrier: carrier === "1",
        };
      }),
    );
  }
}
