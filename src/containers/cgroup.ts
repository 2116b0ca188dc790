// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// A container's cgroup facts (cpu shares/quota/period, memory limit, cpuset) from its cgroup files,
// v1 (one directory per controller hierarchy) and v2, and the cgroup directory an OCI spec's
// linux.cgroupsPath names (cgroupfs "/a/b" or systemd "parent.slice:prefix:name").

import type { HostIo } from "../perf/io.ts";
import { parseCgroupI64, parseCgroupU64, parseCpuMax } from "../perf/parsers/cgroup.ts";
import { cpuWeightToShares } from "./parse.ts";

export interface CgroupLimits {
  cpuShares?: number;
  cpuQuotaUs?: number;
  cpuPeriodUs?: number;
  memoryLimitBytes?: bigint;
  cpusetCpus: string;
  cpusetMems: string;
}

/** memory.limit_in_bytes at or above this is "no limit" (v1 prints PAGE_COUNTER_MAX in bytes). */
const V1_NO_LIMIT = 1n << 62n;
const I32_MAX = 2 ** 31 - 1;

const int32 = (v: bigint | undefined): number | undefined => (v === undefined || v < 0n || v > BigInt(I32_MAX) ? undefined : Number(v));

/** Limits from the text of the v2 files cpu.weight, cpu.max, memory.max, cpuset.cpus, cpuset.mems (undefined = absent). */
export function limitsV2(files: { weight?: string; max?: string; memory?: string; cpus?: string; mems?: string }): CgroupLimits {
  const out: CgroupLimits = { cpusetCpus: files.cpus?.trim() ?? "", cpusetMems: files.mems?.trim() ?? "" };
  const weight = files.weight === undefined ? undefined : parseCgroupU64(files.weight);
  if (weight !== undefined && weight >= 1n && weight <= 10000n) out.cpuShares = cpuWeightToShares(Number(weight));
  const max = files.max === undefined ? undefined : parseCpuMax(files.max);
  if (max) {
    if (max.quota > 0n) out.cpuQuotaUs = int32(max.quota);
    out.cpuPeriodUs = int32(max.period);
  }
  const mem = files.memory === undefined ? undefined : files.memory.trim() === "max" ? undefined : parseCgroupU64(files.memory);
  if (mem !== undefined) out.memoryLimitBytes = mem;
  return out;
}

/** Limits from the v1 files cpu.shares, cpu.cfs_quota_us, cpu.cfs_period_us, memory.limit_in_bytes, cpuset.cpus, cpuset.mems. */
export function limitsV1(files: {
  shares?: string;
  quota?: string;
  period?: string;
  memory?: string;
  cpus?: string;
  mems?: string;
}): CgroupLimits {
  const out: CgroupLimits = { cpusetCpus: files.cpus?.trim() ?? "", cpusetMems: files.mems?.trim() ?? "" };
  const shares = files.shares === undefined ? undefined : parseCgroupU64(files.shares);
  if (shares !== undefined) out.cpuShares = int32(shares);
  const quota = files.quota === undefined ? undefined : parseCgroupI64(files.quota);
  if (quota !== undefined && quota > 0n) out.cpuQuotaUs = int32(quota);
  const period = files.period === undefined ? undefined : parseCgroupU64(files.period);
  if (period !== undefined) out.cpuPeriodUs = int32(period);
  const mem = files.memory === undefined ? undefined : parseCgroupU64(files.memory);
  if (mem !== undefined && mem < V1_NO_LIMIT) out.memoryLimitBytes = mem;
  return out;
}

/** The directory holding `controller`'s files for a container at `relPath` (v1: under the controller's hierarchy). */
export function controllerDir(root: string, version: 1 | 2, controller: string, relPath: string): string {
  return version === 2 ? `${root}/${relPath}` : `${root}/${controller}/${relPath}`;
}

/** Reads a container's limits (files that are absent leave their fields unset). */
export async function readLimits(io: HostIo, root: string, version: 1 | 2, relPath: string, signal: AbortSignal): Promise<CgroupLimits> {
  if (version === 2) {
    const d = `${root}/${relPath}`;
    const [weight, max, memory, cpus, mems] = await io.readManyOptional(
      ["cpu.weight", "cpu.max", "memory.max", "cpuset.cpus", "cpuset.mems"].map((f) => `${d}/${f}`),
      signal,
    );
    return limitsV2({ weight, max, memory, cpus, mems });
  }
  const cpu = controllerDir(root, 1, "cpu", relPath);
  const [[shares, quota, period], [memory], [cpus, mems]] = await Promise.all([
    io.readManyOptional([`${cpu}/cpu.shares`, `${cpu}/cpu.cfs_quota_us`, `${cpu}/cpu.cfs_period_us`], signal),
    io.readManyOptional([`${controllerDir(root, 1, "memory", relPath)}/memory.limit_in_bytes`], signal),
    io.readManyOptional(
      ["cpuset.cpus", "cpuset.mems"].map((f) => `${controllerDir(root, 1, "cpuset", relPath)}/${f}`),
      signal,
    ),
  ]);
  return limitsV1({ shares, quota, period, memory, cpus, mems });
}

/**
 * Limits of many containers with one reader-thread round trip (every file of every container in one
 * readManyOptional), in the order of `relPaths`.
 */
export async function readLimitsMany(
  io: HostIo,
  root: string,
  version: 1 | 2,
  relPaths: string[],
  signal: AbortSignal,
): Promise<CgroupLimits[]> {
  const files =
    version === 2
      ? ["cpu.weight", "cpu.max", "memory.max", "cpuset.cpus", "cpuset.mems"]
      : ["cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "memory.limit_in_bytes", "cpuset.cpus", "cpuset.mems"];
  const ctl = ["cpu", "cpu", "cpu", "memory", "cpuset", "cpuset"];
  const paths = relPaths.flatMap((rel) => files.map((f, i) => `${controllerDir(root, version, ctl[i]!, rel)}/${f}`));
  // On cgroupfs (checked by statfs, per hierarchy) the files are read in place: kernfs answers from memory
  // and cannot hang the scan; anywhere else (a fixture tree on disk) on the reader threads, under the deadline.
  const inMemory = (version === 2 ? [root] : ["cpu", "memory", "cpuset"].map((c) => `${root}/${c}`)).every((d) => io.isInMemoryFs(d));
  const texts = !paths.length ? [] : inMemory ? io.readManyInMemorySync(paths) : await io.readManyOptional(paths, signal);
  return relPaths.map((_, n) => {
    const t = texts.slice(n * files.length, (n + 1) * files.length);
    return version === 2
      ? limitsV2({ weight: t[0], max: t[1], memory: t[2], cpus: t[3], mems: t[4] })
      : limitsV1({ shares: t[0], quota: t[1], period: t[2], memory: t[3], cpus: t[4], mems: t[5] });
  });
}

/** The host's own cpuset (the root cgroup's): a container whose cpuset equals it is not pinned. */
export async function readRootCpuset(
  io: HostIo,
  root: string,
  version: 1 | 2,
  signal: AbortSignal,
): Promise<{ cpus: string; mems: string }> {
  const dir = version === 2 ? root : `${root}/cpuset`;
  const paths =
    version === 2 ? [`${dir}/cpuset.cpus.effective`, `${dir}/cpuset.mems.effective`] : [`${dir}/cpuset.cpus`, `${dir}/cpuset.mems`];
  // In place on cgroupfs, like the limits (readLimitsMany).
  const [cpus, mems] = io.isInMemoryFs(dir) ? io.readManyInMemorySync(paths) : await io.readManyOptional(paths, signal);
  return { cpus: cpus?.trim() ?? "", mems: mems?.trim() ?? "" };
}

/**
 * The cgroup directory (relative to the hierarchy root) that an OCI linux.cgroupsPath names: cgroupfs
 * "/ns/id" -> "ns/id"; systemd "kubepods-besteffort.slice:cri-containerd:<id>" ->
 * "kubepods.slice/kubepods-besteffort.slice/cri-containerd-<id>.scope" (a slice's parents are its '-' prefixes).
 */
export function cgroupsPathToRel(cgroupsPath: string): string {
  const parts = cgroupsPath.split(":");
  if (parts.length === 3 && !cgroupsPath.startsWith("/")) {
    const [slice, prefix, name] = parts as [string, string, string];
    const dirs: string[] = [];
    if (slice && slice !== "-.slice") {
      const base = slice.replace(/\.slice$/, "").split("-");
      for (let i = 1; i <= base.length; i++) dirs.push(`${base.slice(0, i).join("-")}.slice`);
    }
    dirs.push(prefix ? `${prefix}-${name}.scope` : name.endsWith(".scope") ? name : `${name}.scope`);
    return dirs.join("/");
  }
  return cgroupsPath.replace(/^\/+/, "").replace(/\/+$/, "");
}
