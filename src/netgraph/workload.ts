// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

/**
 * Process → Pod attribution behind a small interface, so it can later be answered by the runtime
 * graph (src/containers) instead: the pod UID of a process, from its cgroup path in
 * /proc/<pid>/cgroup (kubelet's cgroupfs ".../pod<uid>/<container>" and systemd
 * "kubepods-<qos>-pod<uid_with_underscores>.slice" layouts). Answers are cached by cgroup id
 * (bounded, metered) because the process is often gone by the time its connection closes. When
 * the process is already gone, the cgroup id (the cgroup v2 directory's inode number) is looked up
 * in an index of the cgroup2 tree's directories, rebuilt at most every 10 s on a miss.
 * Host files go through HostIo like the rest of the agent: /proc/<pid>/cgroup and
 * /proc/self/mountinfo with its bounded synchronous procfs read (the lookup runs per flow record,
 * synchronously), the cgroup tree with its kernfs listing, only when the root is an in-memory
 * filesystem (cgroupfs). The directory inode (the cgroup id) is a stat of that kernfs directory.
 */

import { statSync } from "node:fs";
import { join } from "node:path";
import { type BoundMeter, meterBound } from "../metrics/registry.ts";
import { HostIo } from "../perf/io.ts";
import { podUidFromPath } from "../perf/parsers/cgroup.ts";

export interface WorkloadResolver {
  /** The UID of the Pod the process (or cgroup) belongs to, or undefined when it is not in a Pod. */
  podUid(pid: number, cgroupId: bigint): string | undefined;
  /** The path of a cgroup by id (directory inode) in the unified or the memory hierarchy, when the resolver can find it. */
  pathOfId?(id: bigint, hierarchy?: "unified" | "memory"): string | undefined;
}

/** The pod UID in a /proc/<pid>/cgroup text (the unified "0::" line first, then any v1 line). */
export function podUidFromCgroupText(text: string): string | undefined {
  const lines = text.split("\n").filter(Boolean);
  const unified = lines.filter((l) => l.startsWith("0::"));
  for (const l of [...unified, ...lines]) {
    const uid = podUidFromPath(l.slice(l.indexOf(":", l.indexOf(":") + 1) + 1));
    if (uid) return uid;
  }
  return undefined;
}

export interface CgroupResolverOptions {
  procRoot?: string;
  /** Cgroup hierarchies searched by id (default from <procRoot>/self/mountinfo). */
  cgroupRoots?: { unified?: string; memory?: string };
  /** Cached answers (default 4096). */
  maxEntries?: number;
  /** Host file access (default: a HostIo over procRoot, owner "netgraph"). */
  io?: HostIo;
}

export class CgroupPodResolver implements WorkloadResolver {
  private readonly cache = new Map<string, string | null>();
  private readonly max: number;
  private readonly meter: BoundMeter;
  private readonly proc: string;
  private readonly io: HostIo;
  private roots: { unified?: string; memory?: string } | undefined;
  private readonly indices = new Map<string, { byId: Map<bigint, string>; at: number }>();

  constructor(opts: CgroupResolverOptions = {}) {
    this.proc = opts.procRoot ?? "/proc";
    this.io = opts.io ?? new HostIo("/sys", 4, this.proc).forOwner("netgraph");
    this.roots = opts.cgroupRoots;
    this.max = opts.maxEntries ?? 4096;
    this.meter = meterBound("netgraph_cgroup_pod_cache", this.max);
  }

  podUid(pid: number, cgroupId: bigint): string | undefined {
    // cgroup id 1 is the v2 root: on a v1/hybrid host every process has it, so key by pid there.
    const key = cgroupId > 1n ? `c${cgroupId}` : `p${pid}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit ?? undefined;
    if (pid <= 0) return undefined;
    let uid: string | undefined;
    const r = this.io.readSyncSoft(`${this.proc}/${pid}/cgroup`, true);
    if (r.text !== undefined) uid = podUidFromCgroupText(r.text);
    else {
      // ENOENT/ESRCH: the process exited before we looked; its cgroup (by id) may still be there.
      // Anything else (EACCES, a refused file): no answer this time, nothing cached.
      if (r.code !== "ENOENT" && r.code !== "ESRCH") return undefined;
      if (cgroupId <= 1n) return undefined;
      const path = this.pathOfId(cgroupId);
      if (path === undefined) return undefined;
      uid = podUidFromCgroupText(`0::${path}\n`);
    }
    if (this.cache.size >= this.max) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
      this.meter.dropped("full");
    }
    this.cache.set(key, uid ?? null);
    this.meter.depth(this.cache.size);
    return uid;
  }

  /**
   * The path of a cgroup id (directory inode; ids are unique within one hierarchy only) in the
   * unified hierarchy, or in the memory controller's (v1 where mounted, else the unified one).
   * The index is rebuilt at most every 10 s on a miss.
   */
  pathOfId(id: bigint, hierarchy: "unified" | "memory" = "unified"): string | undefined {
    const roots = this.roots ?? (this.roots = findCgroupRoots(this.proc, this.io));
    const root = hierarchy === "memory" ? (roots.memory ?? roots.unified) : roots.unified;
    if (!root || !this.io.isInMemoryFs(root)) return undefined;
    let idx = this.indices.get(root);
    if (!idx) {
      idx = { byId: new Map(), at: Number.NEGATIVE_INFINITY };
      this.indices.set(root, idx);
    }
    const hit = idx.byId.get(id);
    if (hit !== undefined || Date.now() - idx.at < 10_000) return hit;
    idx.at = Date.now();
    const next = new Map<bigint, string>();
    const walk = (dir: string, rel: string, depth: number) => {
      if (next.size >= 20_000) return;
      try {
        next.set(statSync(dir, { bigint: true }).ino, rel || "/");
      } catch (e) {
        // ENOENT: the cgroup was removed while we walked; its children went with it
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
        throw e;
      }
      if (depth >= 8) return;
      for (const d of this.io.listKernfsSync(dir)) if (d.isDirectory()) walk(join(dir, d.name), `${rel}/${d.name}`, depth + 1);
    };
    walk(root, "", 0);
    idx.byId = next;
    return next.get(id);
  }
}

/** The cgroup2 mount and the v1 memory controller's mount in <proc>/self/mountinfo (those present). */
export function findCgroupRoots(proc: string, io: HostIo = new HostIo("/sys", 4, proc)): { unified?: string; memory?: string } {
  const roots: { unified?: string; memory?: string } = {};
  const r = io.readSyncSoft(`${proc}/self/mountinfo`);
  if (r.text === undefined) throw new Error(`cannot read ${proc}/self/mountinfo: ${r.code}`);
  for (const line of r.text.split("\n")) {
    const [left, right] = line.split(" - ");
    const mount = left?.split(" ")[4];
    if (!mount || !right) continue;
    const [fstype, , options = ""] = right.split(" ");
    if (fstype === "cgroup2") roots.unified ??= mount;
    else if (fstype === "cgroup" && options.split(",").includes("memory")) roots.memory ??= mount;
  }
  return roots;
}
