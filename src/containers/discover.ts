// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Container discovery: the cgroup tree walk shared with the cgroup collectors (v1 and v2, systemd
// and cgroupfs names) plus containerd's task state (containers whose cgroup is named after a
// containerd namespace, e.g. ctr's "/<ns>/<id>"), then each container's limits and runtime metadata.

import { detectCgroupVersion, discoverContainers } from "../perf/collectors/cgroup-discovery.ts";
import type { HostIo } from "../perf/io.ts";
import { ContainerRuntime } from "../proto/gen/antimetal/runtime/v1/container_pb.ts";
import { type CgroupLimits, cgroupsPathToRel, controllerDir, readLimitsMany } from "./cgroup.ts";
import { CONTAINERD_TASK_DIR, type MetadataReader, parseOciConfig, type RuntimeMetadata } from "./metadata.ts";
import { humanNames, parseImageReference, podUidFromPath, runtimeFromPath } from "./parse.ts";

export interface ContainerInfo {
  id: string;
  runtime: ContainerRuntime;
  cgroupVersion: 1 | 2;
  /** The cgroup's path in its hierarchy ("/system.slice/docker-<id>.scope"), as /proc/<pid>/cgroup shows it: the same wherever the agent mounts /sys. */
  cgroupPath: string;
  /** Relative to the hierarchy root: what /proc/<pid>/cgroup shows. */
  relPath: string;
  podUid?: string;
  /** From CRI's annotations: the pod's namespace and name. */
  podNamespace?: string;
  podName?: string;
  imageName: string;
  imageTag: string;
  labels: Record<string, string>;
  createdMs: number;
  startedMs: number;
  limits: CgroupLimits;
  containerName: string;
  workloadName: string;
}

export interface DiscoveryResult {
  version: 1 | 2;
  /** The v1 controller hierarchy the containers were found under ("" for v2). */
  subsystem: string;
  root: string;
  containers: ContainerInfo[];
}

const V1_SUBSYSTEMS = ["cpu", "memory", "cpuacct", "blkio", "devices"];

async function firstSubsystem(io: HostIo, root: string, signal: AbortSignal): Promise<string> {
  for (const s of V1_SUBSYSTEMS) if (await io.isDir(`${root}/${s}`, signal)) return s;
  return "cpu";
}

/** Scans between re-reads of what rarely changes: runtime metadata and containerd task configs. */
const METADATA_REFRESH_SCANS = 10;

type Found = { runtime: ContainerRuntime; relPath: string; ns?: string };
type Meta = { runtime: ContainerRuntime; meta: RuntimeMetadata } | undefined;

/**
 * Every container on the host, scan after scan: `<sys>/fs/cgroup` walked by the original's rules
 * (kubepods included on v1), merged by id with containerd's task state under `hostRoot`; then limits
 * (every scan, one read round trip for all containers) and metadata (cached per container, read again
 * every METADATA_REFRESH_SCANS scans).
 */
export class ContainerDiscovery {
  private scans = 0;
  private metaCache = new Map<string, { at: number; value: Meta }>();
  /** containerd task "<ns>/<id>" -> its cgroup's relative path ("" when it has none). */
  private taskCache = new Map<string, { at: number; relPath: string }>();
  private layout: { at: number; version: 1 | 2; subsystem: string } | undefined;

  constructor(
    private readonly io: HostIo,
    private readonly sysRoot: string,
    private readonly hostRoot: string,
    private readonly meta: MetadataReader,
  ) {}

  /** Containers in containerd's task state the walk did not find and whose cgroup directory exists. */
  private async containerdTasks(known: Map<string, Found>, root: string, version: 1 | 2, subsystem: string, signal: AbortSignal) {
    const io = this.io;
    const base = `${this.hostRoot}/${CONTAINERD_TASK_DIR}`;
    const out: { id: string; ns: string; relPath: string }[] = [];
    const seen = new Set<string>();
    // containerd's state is under /run (tmpfs): read in place there, on the reader threads anywhere else.
    const inMemory = io.isInMemoryFs(base);
    const list = async (dir: string) => (inMemory ? io.listKernfsSync(dir) : await io.listOptional(dir, signal));
    for (const ns of await list(base)) {
      if (!ns.isDirectory()) continue;
      for (const c of await list(`${base}/${ns.name}`)) {
        if (!c.isDirectory() || known.has(c.name)) continue;
        const key = `${ns.name}/${c.name}`;
        seen.add(key);
        let cached = this.taskCache.get(key);
        if (!cached || this.scans - cached.at >= METADATA_REFRESH_SCANS) {
          const text = inMemory
            ? io.readManyInMemorySync([`${base}/${key}/config.json`])[0]
            : await io.readOptional(`${base}/${key}/config.json`, signal);
          let cgroupsPath: string | undefined;
          try {
            cgroupsPath = text === undefined ? undefined : parseOciConfig(text).cgroupsPath;
          } catch (e) {
            if (!(e instanceof SyntaxError)) throw e;
            continue; // being written: the next scan reads it
          }
          cached = { at: this.scans, relPath: cgroupsPath ? cgroupsPathToRel(cgroupsPath) : "" };
          this.taskCache.set(key, cached);
        }
        if (cached.relPath && (await io.isDir(controllerDir(root, version, subsystem, cached.relPath), signal)))
          out.push({ id: c.name, ns: ns.name, relPath: cached.relPath });
      }
    }
    for (const k of this.taskCache.keys()) if (!seen.has(k)) this.taskCache.delete(k);
    return out;
  }

  private async metadata(id: string, f: Found, signal: AbortSignal): Promise<Meta> {
    const hit = this.metaCache.get(id);
    if (hit && this.scans - hit.at < METADATA_REFRESH_SCANS) return hit.value;
    const value = await this.meta.read(id, f.runtime, signal, f.ns);
    this.metaCache.set(id, { at: this.scans, value });
    return value;
  }

  async scan(signal: AbortSignal): Promise<DiscoveryResult> {
    const io = this.io;
    this.scans++;
    const root = `${this.sysRoot}/fs/cgroup`;
    // The hierarchy's version does not change under a running host: detected again only with the metadata.
    if (!this.layout || this.scans - this.layout.at >= METADATA_REFRESH_SCANS) {
      const version = await detectCgroupVersion(io, root, signal);
      this.layout = { at: this.scans, version, subsystem: version === 1 ? await firstSubsystem(io, root, signal) : "" };
    }
    const { version, subsystem } = this.layout;
    const found = new Map<string, Found>();
    for (const c of await discoverContainers(io, root, version, subsystem, signal, { syncList: true }))
      found.set(c.id, { runtime: runtimeFromPath(c.relPath), relPath: c.relPath });
    for (const t of await this.containerdTasks(found, root, version, subsystem, signal))
      found.set(t.id, {
        runtime: t.ns === "k8s.io" ? ContainerRuntime.CRI_CONTAINERD : ContainerRuntime.CONTAINERD,
        relPath: t.relPath,
        ns: t.ns,
      });
    for (const id of this.metaCache.keys()) if (!found.has(id)) this.metaCache.delete(id);

    const entries = [...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const [limits, metas] = await Promise.all([
      readLimitsMany(
        io,
        root,
        version,
        entries.map(([, f]) => f.relPath),
        signal,
      ),
      Promise.all(entries.map(([id, f]) => this.metadata(id, f, signal))),
    ]);
    const containers = entries.map(([id, f], i): ContainerInfo => {
      const m = metas[i];
      const labels = m?.meta.labels ?? {};
      const image = parseImageReference(m?.meta.image ?? "");
      const names = m ? humanNames(labels, image?.name ?? "") : { containerName: "", workloadName: "" };
      return {
        id,
        runtime: m?.runtime ?? f.runtime,
        cgroupVersion: version,
        cgroupPath: `/${f.relPath}`,
        relPath: f.relPath,
        podUid: podUidFromPath(f.relPath) ?? (labels["io.kubernetes.cri.sandbox-uid"] || labels["io.kubernetes.pod.uid"] || undefined),
        podNamespace: labels["io.kubernetes.cri.sandbox-namespace"] || labels["io.kubernetes.pod.namespace"] || undefined,
        podName: labels["io.kubernetes.cri.sandbox-name"] || labels["io.kubernetes.pod.name"] || undefined,
        imageName: image?.name ?? "",
        imageTag: image?.tag ?? "",
        labels,
        createdMs: m?.meta.createdMs ?? 0,
        startedMs: m?.meta.startedMs ?? 0,
        limits: limits[i]!,
        ...names,
      };
    });
    return { version, subsystem, root, containers };
  }
}
