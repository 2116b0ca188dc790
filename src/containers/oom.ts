// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// OOM kills on the runtime graph's containers: which container a kill's cgroup (path, or ids) belongs to, the count and
// last kill kept per container (bounded, metered), and the ContainerNode tags that carry them
// (oom_kills, last_oom_kill_time, last_oom_kill_pid, last_oom_kill_comm), read back from the store on start.

import { statSync } from "node:fs";
import { type BoundMeter, meterBound } from "../metrics/registry.ts";
import { extractContainerId } from "../perf/parsers/cgroup.ts";
import type { Tag } from "../proto/gen/resource/v1/resource_pb.ts";

/** One OOM kill as the runtime graph takes it (the oomkill eBPF program's record, trimmed). */
export interface OomKillEvent {
  /** Epoch ms of the kill. */
  timeMs: number;
  /** The victim. */
  pid: number;
  comm: string;
  /** The victim's cgroup path ("/docker/<id>", "/kubepods.slice/.../cri-containerd-<id>.scope"); "" when it was reaped first. */
  cgroup: string;
  /**
   * The victim's cgroup ids (directory inodes) in the unified hierarchy and the memory controller's (0n: unknown),
   * taken by the kernel in the victim's context: they name its container after the process (and its /proc entry) is gone.
   */
  cgroupIds?: { unified: bigint; memory: bigint };
}

/** A live source of OOM kills (the oomkill eBPF program); the runtime graph does not depend on eBPF itself. */
export interface OomKillEvents {
  start(onKill: (kill: OomKillEvent) => void): Promise<void>;
  stop(): Promise<void>;
}

export interface OomRecord {
  count: number;
  lastMs: number;
  pid: number;
  comm: string;
}

/** Containers whose OOM kills are kept (a kill past this many evicts the oldest record). */
export const OOM_RECORDS_MAX = 4096;
/** A kill on a container the scans have not found yet is kept this long (it was created since the last scan). */
const UNSEEN_KEEP_MS = 60_000;

export const OOM_TAGS = { count: "oom_kills", time: "last_oom_kill_time", pid: "last_oom_kill_pid", comm: "last_oom_kill_comm" } as const;

/**
 * The container a kill's cgroup is in: the one whose cgroup path is the victim's or a parent of it, else the
 * container id the path's last segment names (a container created since the last scan).
 */
export function containerOfCgroup(cgroup: string, containers: readonly { id: string; cgroupPath: string }[]): string | undefined {
  if (!cgroup || cgroup === "/") return undefined;
  for (const c of containers) if (cgroup === c.cgroupPath || cgroup.startsWith(`${c.cgroupPath}/`)) return c.id;
  const id = extractContainerId(cgroup);
  return /^[0-9a-f]{64}$/.test(id) ? id : undefined;
}

/** A container as ContainerCgroupIds needs it (discover.ts's ContainerInfo). */
interface ContainerCgroup {
  id: string;
  cgroupVersion: 1 | 2;
  relPath: string;
}

type Ids = { unified?: bigint; memory?: bigint };

/** The inode of a cgroup directory, undefined when it is gone (ENOENT) or not there. */
function cgroupInode(dir: string): bigint | undefined {
  try {
    return statSync(dir, { bigint: true }).ino;
  } catch (e) {
    // ENOENT/ENOTDIR: no such cgroup in this hierarchy (a v1 host without the unified mount, a container just removed);
    // EACCES/EPERM: a hierarchy the agent may not look into (its kills are then named by path only)
    if (["ENOENT", "ENOTDIR", "EACCES", "EPERM"].includes((e as NodeJS.ErrnoException).code ?? "")) return undefined;
    throw e;
  }
}

/**
 * Each container's cgroup ids (the directory's inode = the kernel's cgroup id) in the unified hierarchy and the
 * memory controller's, taken when a scan first finds the container (one or two stat calls on cgroupfs, which
 * answers from memory) and kept while scans find it: an OOM kill's ids name the container even when its
 * cgroup was removed right after the kill (a container whose only process was killed).
 */
export class ContainerCgroupIds {
  private byContainer = new Map<string, Ids>();

  constructor(private readonly inode: (dir: string) => bigint | undefined = cgroupInode) {}

  /** After a scan: `root` is the cgroup mount it walked (`<sys>/fs/cgroup`), `containers` what it found. */
  update(root: string, containers: readonly ContainerCgroup[]): void {
    const next = new Map<string, Ids>();
    for (const c of containers) {
      let ids = this.byContainer.get(c.id);
      if (!ids) {
        ids =
          c.cgroupVersion === 2
            ? { unified: this.inode(`${root}/${c.relPath}`) }
            : { unified: this.inode(`${root}/unified/${c.relPath}`), memory: this.inode(`${root}/memory/${c.relPath}`) };
      }
      next.set(c.id, ids);
    }
    this.byContainer = next;
  }

  /** The container whose cgroup has one of these ids (ids of 0 or 1, the root, name none). */
  containerOf(ids: { unified: bigint; memory: bigint }): string | undefined {
    for (const [id, c] of this.byContainer) {
      if (ids.unified > 1n && c.unified === ids.unified) return id;
      if (ids.memory > 1n && (c.memory ?? c.unified) === ids.memory) return id;
    }
    return undefined;
  }
}

export class OomRecords {
  private readonly byId = new Map<string, OomRecord>();
  private readonly meter: BoundMeter = meterBound("runtime_graph_oom_records", OOM_RECORDS_MAX);

  get(id: string): OomRecord | undefined {
    return this.byId.get(id);
  }

  record(id: string, kill: OomKillEvent): void {
    const prev = this.byId.get(id);
    if (!prev && this.byId.size >= OOM_RECORDS_MAX) {
      this.byId.delete(this.byId.keys().next().value as string);
      this.meter.dropped("full");
    }
    this.byId.set(id, { count: (prev?.count ?? 0) + 1, lastMs: kill.timeMs, pid: kill.pid, comm: kill.comm });
    this.meter.depth(this.byId.size);
  }

  /** A container's record as its stored node's tags say (after a restart), unless one is already kept. */
  seed(id: string, tags: readonly Tag[]): void {
    const t = new Map(tags.map((x) => [x.key, x.value]));
    const count = Number(t.get(OOM_TAGS.count));
    if (!(count > 0) || this.byId.has(id) || this.byId.size >= OOM_RECORDS_MAX) return;
    const lastMs = Date.parse(t.get(OOM_TAGS.time) ?? "");
    this.byId.set(id, {
      count,
      lastMs: Number.isFinite(lastMs) ? lastMs : 0,
      pid: Number(t.get(OOM_TAGS.pid)) || 0,
      comm: t.get(OOM_TAGS.comm) ?? "",
    });
    this.meter.depth(this.byId.size);
  }

  /** Forgets containers that are gone (not in `live`), except recent kills on containers not scanned yet. */
  retain(live: ReadonlySet<string>, now: number): void {
    for (const [id, r] of this.byId) if (!live.has(id) && now - r.lastMs > UNSEEN_KEEP_MS) this.byId.delete(id);
    this.meter.depth(this.byId.size);
  }
}

/** The tags a container node carries for its OOM kills (none without any). */
export function oomTags(r: OomRecord | undefined): { key: string; value: string }[] {
  if (!r) return [];
  return [
    { key: OOM_TAGS.count, value: String(r.count) },
    { key: OOM_TAGS.time, value: r.lastMs ? new Date(r.lastMs).toISOString() : "" },
    { key: OOM_TAGS.pid, value: String(r.pid) },
    { key: OOM_TAGS.comm, value: r.comm },
  ];
}

export const oomSig = (r: OomRecord | undefined): string => (r ? `\u0001${r.count}\u0001${r.lastMs}\u0001${r.pid}\u0001${r.comm}` : "");
