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
import { type CgroupLimits, cgroupsPathToRel, controllerDir, readLimits } from "./cgroup.ts";
import { CONTAINERD_TASK_DIR, type MetadataReader, parseOciConfig } from "./metadata.ts";
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

/** Containers in containerd's task state whose cgroup directory exists: id -> relative cgroup path and namespace. */
async function containerdTasks(
  io: HostIo,
  hostRoot: string,
  root: string,
  version: 1 | 2,
  subsystem: string,
  signal: AbortSignal,
): Promise<{ id: string; ns: string; relPath: string }[]> {
  const base = `${hostRoot}/${CONTAINERD_TASK_DIR}`;
  const out: { id: string; ns: string; relPath: string }[] = [];
  for (const ns of await io.listOptional(base, signal)) {
    if (!ns.isDirectory()) continue;
    for (const c of await io.listOptional(`${base}/${ns.name}`, signal)) {
      if (!c.isDirectory()) continue;
      const text = await io.readOptional(`${base}/${ns.name}/${c.name}/config.json`, signal);
      if (text === undefined) continue;
      let cgroupsPath: string | undefined;
      try {
        cgroupsPath = parseOciConfig(text).cgroupsPath;
      } catch (e) {
        if (!(e instanceof SyntaxError)) throw e;
        continue; // being written: the next scan reads it
      }
      if (!cgroupsPath) continue;
      const relPath = cgroupsPathToRel(cgroupsPath);
      if (relPath && (await io.isDir(controllerDir(root, version, subsystem, relPath), signal)))
        out.push({ id: c.name, ns: ns.name, relPath });
    }
  }
  return out;
}

/**
 * Every container on the host: `<sys>/fs/cgroup` walked by the original's rules (kubepods included on
 * v1), merged by id with containerd's task state under `hostRoot`; then limits and metadata for each.
 */
export async function discoverAll(
  io: HostIo,
  sysRoot: string,
  hostRoot: string,
  meta: MetadataReader,
  signal: AbortSignal,
): Promise<DiscoveryResult> {
  const root = `${sysRoot}/fs/cgroup`;
  const version = await detectCgroupVersion(io, root, signal);
  const subsystem = version === 1 ? await firstSubsystem(io, root, signal) : "";
  const found = new Map<string, { runtime: ContainerRuntime; relPath: string; ns?: string }>();
  for (const c of await discoverContainers(io, root, version, subsystem, signal))
    found.set(c.id, { runtime: runtimeFromPath(c.relPath), relPath: c.relPath });
  for (const t of await containerdTasks(io, hostRoot, root, version, subsystem, signal))
    if (!found.has(t.id))
      found.set(t.id, {
        runtime: t.ns === "k8s.io" ? ContainerRuntime.CRI_CONTAINERD : ContainerRuntime.CONTAINERD,
        relPath: t.relPath,
        ns: t.ns,
      });

  const containers = await Promise.all(
    [...found.entries()].map(async ([id, f]): Promise<ContainerInfo> => {
      const [limits, m] = await Promise.all([readLimits(io, root, version, f.relPath, signal), meta.read(id, f.runtime, signal, f.ns)]);
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
        limits,
        ...names,
      };
    }),
  );
  containers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { version, subsystem, root, containers };
}
