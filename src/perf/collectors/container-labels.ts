// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Where the container_* series get their container, pod, namespace, image and name labels (and the start
// time): the container runtimes' own state on the host, read-only, under HOST_ROOT, through the runtime
// graph's metadata reader (containers/metadata.ts, the one reader of that state); bounded reads, cached per id.

import { type CadvisorLabels, cadvisorLabels, type MetadataReader, metadataReader } from "../../containers/index.ts";
import type { Logger } from "../../log/logger.ts";
import { type BoundMeter, meterBound } from "../../metrics/registry.ts";
import { ContainerRuntime } from "../../proto/gen/antimetal/runtime/v1/container_pb.ts";
import { errorMessage } from "../../util/errors.ts";
import type { HostPaths } from "../collector.ts";
import { type DirEntry, errCode, type HostIo } from "../io.ts";
import { parsePidStat } from "../parsers/pid.ts";
import { parseStat } from "../parsers/stat.ts";
import type { CgroupContainer } from "./cgroup-discovery.ts";
import { auxvValues } from "./common.ts";

/** kubelet's cAdvisor labels other than `id` ("" when the runtime does not say), and the start time. */
export interface ContainerLabels extends CadvisorLabels {
  /** When the runtime created the container (unix seconds), if its state says. */
  createdSeconds?: number;
}

const EMPTY_LABELS: Readonly<ContainerLabels> = Object.freeze({ container: "", pod: "", namespace: "", image: "", name: "" });

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

/** The runtime a cgroup path names (cgroup-discovery's detectRuntime), tried first; then every runtime. */
const RUNTIME_OF: Record<string, ContainerRuntime> = {
  docker: ContainerRuntime.DOCKER,
  "cri-o": ContainerRuntime.CRI_O,
  containerd: ContainerRuntime.CONTAINERD,
  podman: ContainerRuntime.PODMAN,
};

interface Entry {
  labels: ContainerLabels;
  /** Found in the runtime's state (else retried after MISS_RETRY_MS). */
  found: boolean;
  at: number;
}

/**
 * Labels from containerd's task bundles (CRI annotations; the init process's start time), cri-o's
 * userdata config.json and docker's config.v2.json, the runtime the cgroup path names first. A container
 * none of them knows gets `name`/`image` etc. "" and the start time of the first process in its cgroup.
 */
export class RuntimeStateLabels implements ContainerLabelSource {
  private readonly cache = new Map<string, Entry>();
  private readonly meter: BoundMeter;
  private namespaces: { dir: string; names: string[]; at: number }[] = [];
  private btime: number | undefined;
  private readonly warned = new Set<string>();
  private readonly reader: MetadataReader;

  constructor(
    private readonly io: HostIo,
    private readonly paths: Pick<HostPaths, "proc" | "root">,
    private readonly now: () => number = Date.now,
    private readonly logger?: Logger,
  ) {
    this.meter = meterBound("container_labels_cache", LABEL_CACHE_MAX);
    const root = this.paths.root ?? "";
    this.reader = metadataReader(io, root === "/" ? "" : root, {
      maxBytes: STATE_FILE_MAX_BYTES,
      onUnreadable: (path, e) => this.warnOnce(path, e, "container runtime state file not read"),
      namespaces: (dir, signal) => this.namespacesOf(dir, signal),
    });
  }

  private warnOnce(path: string, e: unknown, msg: string): void {
    if (!this.warned.has(path)) this.logger?.warn({ path, err: errorMessage(e) }, msg);
    this.warned.add(path);
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
    const first = RUNTIME_OF[c.runtime] ?? ContainerRuntime.UNKNOWN;
    let r = await this.reader.read(c.id, first, signal);
    if (!r && first !== ContainerRuntime.UNKNOWN) r = await this.reader.read(c.id, ContainerRuntime.UNKNOWN, signal);
    if (!r) return undefined;
    const labels: ContainerLabels = cadvisorLabels(r.meta, r.runtime, c.id);
    if (r.meta.createdMs > 0) return { ...labels, createdSeconds: Math.floor(r.meta.createdMs / 1000) };
    if (r.runtime !== ContainerRuntime.CONTAINERD && r.runtime !== ContainerRuntime.CRI_CONTAINERD) return labels;
    const pid = firstPid(await this.io.readOptional(`${r.dir}/init.pid`, signal, 64));
    const start = pid !== undefined ? await this.processStart(pid, signal) : undefined;
    return start !== undefined ? { ...labels, createdSeconds: start } : labels;
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
      if (code !== "ENOENT" && code !== "ENOTDIR")
        this.warnOnce(
          dir,
          e,
          "container runtime state not readable: container, pod, namespace and image labels stay empty (needs uid 0 or CAP_DAC_READ_SEARCH)",
        );
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
