// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Where the container_* series get their container, pod, namespace, image and name labels (and the start
// time): the container runtimes' own state on the host, read-only, under HOST_ROOT. One narrow interface
// (labelsFor) so the source can later be the runtime graph's metadata reader; bounded reads, cached per id.

import type { Logger } from "../../log/logger.ts";
import { type BoundMeter, meterBound } from "../../metrics/registry.ts";
import { errorMessage } from "../../util/errors.ts";
import type { HostPaths } from "../collector.ts";
import { type DirEntry, errCode, type HostIo } from "../io.ts";
import { type ContainerLabels, EMPTY_LABELS, parseDockerConfigV2, parseOciBundleLabels } from "../parsers/container-state.ts";
import { parsePidStat } from "../parsers/pid.ts";
import { parseStat } from "../parsers/stat.ts";
import type { CgroupContainer } from "./cgroup-discovery.ts";
import { auxvValues } from "./common.ts";

export type { ContainerLabels } from "../parsers/container-state.ts";

/** The labels of one container. Implementations cache; `retain` forgets every id not in `live`. */
export interface ContainerLabelSource {
  labelsFor(container: CgroupContainer, signal: AbortSignal): Promise<ContainerLabels>;
  retain(live: ReadonlySet<string>): void;
}

/** A runtime state file larger than this is not read (real ones are a few KiB to a few tens of KiB). */
export const STATE_FILE_MAX_BYTES = 1 << 20;
/** Containers whose labels are kept (the metrics collector serves at most its own cap, below this). */
export const LABEL_CACHE_MAX = 4096;
/** A container the runtime state did not describe is looked up again after this long. */
const MISS_RETRY_MS = 60_000;
/** containerd namespaces looked at (k8s.io, moby, default, ...). */
const MAX_NAMESPACES = 32;
const NAMESPACE_LIST_TTL_MS = 10_000;

const CONTAINERD_TASK_DIRS = ["run/containerd/io.containerd.runtime.v2.task", "run/containerd/io.containerd.runtime.v1.linux"];
const CRIO_DIRS = ["run/containers/storage/overlay-containers", "var/lib/containers/storage/overlay-containers"];
const DOCKER_DIR = "var/lib/docker/containers";

interface Entry {
  labels: ContainerLabels;
  /** Found in the runtime's state (else retried after MISS_RETRY_MS). */
  found: boolean;
  at: number;
}

/**
 * Labels from containerd's task bundles (CRI annotations; the init process's start time), cri-o's
 * userdata config.json and docker's config.v2.json, tried in the order the cgroup path's runtime
 * suggests. A container none of them knows gets `name`/`image` etc. "" and the start time of the first
 * process in its cgroup.
 */
export class RuntimeStateLabels implements ContainerLabelSource {
  private readonly cache = new Map<string, Entry>();
  private readonly meter: BoundMeter;
  private namespaces: { dir: string; names: string[]; at: number }[] = [];
  private btime: number | undefined;
  private readonly warned = new Set<string>();

  constructor(
    private readonly io: HostIo,
    private readonly paths: Pick<HostPaths, "proc" | "root">,
    private readonly now: () => number = Date.now,
    private readonly logger?: Logger,
  ) {
    this.meter = meterBound("container_labels_cache", LABEL_CACHE_MAX);
  }

  private get root(): string {
    const r = this.paths.root ?? "";
    return r === "/" ? "" : r.replace(/\/+$/, "");
  }

  async labelsFor(c: CgroupContainer, signal: AbortSignal): Promise<ContainerLabels> {
    const hit = this.cache.get(c.id);
    const now = this.now();
    if (hit && (hit.found || now - hit.at < MISS_RETRY_MS)) return hit.labels;
    let labels = await this.lookup(c, signal);
    const found = labels !== undefined;
    labels ??= { ...EMPTY_LABELS };
    if (labels.createdSeconds === undefined) {
      const pid = firstPid(await this.io.readOptional(`${c.path}/cgroup.procs`, signal));
      const start = pid !== undefined ? await this.processStart(pid, signal) : undefined;
      if (start !== undefined) labels = { ...labels, createdSeconds: start };
    }
    if (!this.cache.has(c.id) && this.cache.size >= LABEL_CACHE_MAX) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
      this.meter.dropped("full");
    }
    this.cache.set(c.id, { labels, found, at: now });
    this.meter.depth(this.cache.size);
    return labels;
  }

  retain(live: ReadonlySet<string>): void {
    for (const id of this.cache.keys()) if (!live.has(id)) this.cache.delete(id);
    this.meter.depth(this.cache.size);
  }

  private async lookup(c: CgroupContainer, signal: AbortSignal): Promise<ContainerLabels | undefined> {
    const order =
      c.runtime === "docker"
        ? [this.docker, this.containerd]
        : c.runtime === "cri-o"
          ? [this.crio, this.containerd]
          : c.runtime === "containerd"
            ? [this.containerd, this.crio]
            : [this.containerd, this.crio, this.docker];
    for (const f of order) {
      const l = await f.call(this, c.id, signal);
      if (l) return l;
    }
    return undefined;
  }

  private async containerd(id: string, signal: AbortSignal): Promise<ContainerLabels | undefined> {
    for (const dir of CONTAINERD_TASK_DIRS) {
      for (const ns of await this.namespacesOf(`${this.root}/${dir}`, signal)) {
        const bundle = `${this.root}/${dir}/${ns}/${id}`;
        const text = await this.readState(`${bundle}/config.json`, signal);
        const labels = text !== undefined ? parseOciBundleLabels(text, id) : undefined;
        if (!labels) continue;
        const pid = firstPid(await this.io.readOptional(`${bundle}/init.pid`, signal, 64));
        const start = pid !== undefined ? await this.processStart(pid, signal) : undefined;
        return start !== undefined ? { ...labels, createdSeconds: start } : labels;
      }
    }
    return undefined;
  }

  private async crio(id: string, signal: AbortSignal): Promise<ContainerLabels | undefined> {
    for (const dir of CRIO_DIRS) {
      const text = await this.readState(`${this.root}/${dir}/${id}/userdata/config.json`, signal);
      const labels = text !== undefined ? parseOciBundleLabels(text, id) : undefined;
      if (labels) return labels;
    }
    return undefined;
  }

  private async docker(id: string, signal: AbortSignal): Promise<ContainerLabels | undefined> {
    const text = await this.readState(`${this.root}/${DOCKER_DIR}/${id}/config.v2.json`, signal);
    return text !== undefined ? parseDockerConfigV2(text) : undefined;
  }

  /** A state file, or undefined when missing, unreadable or over the size bound (counted by HostIo, warned once). */
  private async readState(path: string, signal: AbortSignal): Promise<string | undefined> {
    try {
      return await this.io.readOptional(path, signal, STATE_FILE_MAX_BYTES);
    } catch (e) {
      if (signal.aborted || errCode(e) === "ESTUCK") throw e;
      if (!this.warned.has(path)) this.logger?.warn({ path, err: errorMessage(e) }, "container runtime state file not read");
      this.warned.add(path);
      return undefined;
    }
  }

  private async namespacesOf(dir: string, signal: AbortSignal): Promise<string[]> {
    const now = this.now();
    const hit = this.namespaces.find((n) => n.dir === dir);
    if (hit && now - hit.at < NAMESPACE_LIST_TTL_MS) return hit.names;
    let entries: DirEntry[] = [];
    try {
      entries = await this.io.list(dir, signal);
    } catch (e) {
      const code = errCode(e);
      if (signal.aborted || code === "ESTUCK") throw e;
      // ENOENT: no such runtime on this host. EACCES: containerd's state is root's (0711 directories, 0700 bundles).
      if (code !== "ENOENT" && code !== "ENOTDIR" && !this.warned.has(dir))
        this.logger?.warn(
          { path: dir, err: errorMessage(e) },
          "container runtime state not readable: container, pod, namespace and image labels stay empty (needs uid 0 or CAP_DAC_READ_SEARCH)",
        );
      this.warned.add(dir);
    }
    const names = entries
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .slice(0, MAX_NAMESPACES);
    this.namespaces = [...this.namespaces.filter((n) => n.dir !== dir), { dir, names, at: now }];
    return names;
  }

  /** Start of process `pid` in unix seconds: boot time + /proc/<pid>/stat starttime / USER_HZ. */
  private async processStart(pid: number, signal: AbortSignal): Promise<number | undefined> {
    if (this.btime === undefined) {
      const stat = await this.io.readOptional(`${this.paths.proc}/stat`, signal);
      this.btime = stat !== undefined ? Number(parseStat(stat).btime ?? 0n) : 0;
    }
    const s = await this.io.readOptional(`${this.paths.proc}/${pid}/stat`, signal);
    const st = s !== undefined ? parsePidStat(s) : undefined;
    if (!st || this.btime === 0) return undefined;
    const { hz } = await auxvValues(this.paths.proc);
    return Math.floor(this.btime + Number(st.startTime) / hz);
  }
}

/** The first pid of a cgroup.procs or init.pid file. */
function firstPid(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^\s*(\d+)/.exec(text);
  const pid = m ? Number(m[1]) : 0;
  return pid > 0 ? pid : undefined;
}
