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
 */

import { type Dirent, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type BoundMeter, meterBound } from "../metrics/registry.ts";

export interface WorkloadResolver {
  /** The UID of the Pod the process (or cgroup) belongs to, or undefined when it is not in a Pod. */
  podUid(pid: number, cgroupId: bigint): string | undefined;
}

const POD_UID = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})/;

/** The pod UID in a /proc/<pid>/cgroup text (the unified "0::" line first, then any v1 line). */
export function podUidFromCgroupText(text: string): string | undefined {
  const lines = text.split("\n").filter(Boolean);
  const unified = lines.filter((l) => l.startsWith("0::"));
  for (const l of [...unified, ...lines]) {
    const m = POD_UID.exec(l.slice(l.indexOf(":", l.indexOf(":") + 1) + 1));
    if (m) return m[1]!.replaceAll("_", "-");
  }
  return undefined;
}

export interface CgroupResolverOptions {
  procRoot?: string;
  /** The cgroup v2 mount (default: the first cgroup2 mount in <procRoot>/self/mountinfo). */
  cgroup2Root?: string;
  /** Cached answers (default 4096). */
  maxEntries?: number;
}

export class CgroupPodResolver implements WorkloadResolver {
  private readonly cache = new Map<string, string | null>();
  private readonly max: number;
  private readonly meter: BoundMeter;
  private readonly proc: string;
  private cgroup2Root: string | undefined;
  private byId = new Map<bigint, string>();
  private indexedAt = Number.NEGATIVE_INFINITY;

  constructor(opts: CgroupResolverOptions = {}) {
    this.proc = opts.procRoot ?? "/proc";
    this.cgroup2Root = opts.cgroup2Root;
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
    try {
      uid = podUidFromCgroupText(readFileSync(`${this.proc}/${pid}/cgroup`, "utf8"));
    } catch (e) {
      // ENOENT/ESRCH: the process exited before we looked; its cgroup (by id) may still be there
      if ((e as NodeJS.ErrnoException).code !== "ENOENT" && (e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
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

  /** The cgroup v2 path of a cgroup id, from an index of the tree (rebuilt at most every 10 s on a miss). */
  pathOfId(id: bigint): string | undefined {
    const hit = this.byId.get(id);
    if (hit !== undefined || Date.now() - this.indexedAt < 10_000) return hit;
    this.indexedAt = Date.now();
    const root = this.cgroup2Root ?? (this.cgroup2Root = findCgroup2(this.proc));
    if (!root) return undefined;
    const next = new Map<bigint, string>();
    const walk = (dir: string, rel: string, depth: number) => {
      if (next.size >= 20_000) return;
      let entries: Dirent[];
      try {
        next.set(statSync(dir, { bigint: true }).ino, rel || "/");
        if (depth >= 8) return;
        entries = readdirSync(dir, { withFileTypes: true });
      } catch (e) {
        // ENOENT: the cgroup was removed while we walked; its children went with it
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
        throw e;
      }
      for (const d of entries) if (d.isDirectory()) walk(join(dir, d.name), `${rel}/${d.name}`, depth + 1);
    };
    walk(root, "", 0);
    this.byId = next;
    return next.get(id);
  }
}

/** The first cgroup2 mount point in <proc>/self/mountinfo. */
function findCgroup2(proc: string): string | undefined {
  for (const line of readFileSync(`${proc}/self/mountinfo`, "utf8").split("\n")) {
    const [left, right] = line.split(" - ");
    if (right?.startsWith("cgroup2 ")) return left?.split(" ")[4];
  }
  return undefined;
}
