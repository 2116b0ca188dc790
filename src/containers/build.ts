// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The runtime graph as resources and relationships: ContainerNode and ProcessNode (antimetal.runtime.v1)
// in the host's namespace, linked to each other, to the host's SystemNode, to pinned CPU cores and NUMA
// nodes of the hardware graph, and to their Kubernetes Pod.

import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { newRelationship, newResource, packMessage, resourceRef } from "../graph/build.ts";
import { refPath, relationshipKey } from "../graph/keys.ts";
import { ContainerNodeSchema } from "../proto/gen/antimetal/runtime/v1/container_pb.ts";
import { CgroupVersion } from "../proto/gen/antimetal/runtime/v1/linux_pb.ts";
import { ProcessNodeSchema } from "../proto/gen/antimetal/runtime/v1/process_pb.ts";
import { ContainedBySchema, ContainmentType, ContainsSchema } from "../proto/gen/antimetal/runtime/v1/relationships_pb.ts";
import { type Namespace, NamespaceSchema } from "../proto/gen/resource/v1/namespace_pb.ts";
import { Provider } from "../proto/gen/resource/v1/provider_pb.ts";
import type { Relationship } from "../proto/gen/resource/v1/relationship_pb.ts";
import type { Resource, ResourceRef } from "../proto/gen/resource/v1/resource_pb.ts";
import type { ContainerInfo } from "./discover.ts";
import { parseCpuList, processState } from "./parse.ts";
import type { ProcessInfo } from "./processes.ts";

export const RUNTIME_PACKAGE = "antimetal.runtime.v1";
export const CONTAINER_TYPE = ContainerNodeSchema.typeName;
export const PROCESS_TYPE = ProcessNodeSchema.typeName;
export const RUNTIME_PREDICATES = [ContainsSchema.typeName, ContainedBySchema.typeName] as const;
const SYSTEM_NODE_TYPE = "antimetal.hardware.v1.SystemNode";
const CPU_CORE_TYPE = "antimetal.hardware.v1.CPUCoreNode";
const NUMA_TYPE = "antimetal.hardware.v1.NUMANode";

export interface RuntimeGraphInput {
  /** The host's SystemNode name (the hardware graph's: machine-id, else DMI product_uuid, else hostname). */
  systemName: string;
  containers: ContainerInfo[];
  /** Processes that passed the policy. */
  processes: ProcessInfo[];
  /** The root cgroup's cpuset: containers with the same cpuset are not pinned and get no affinity links. */
  rootCpuset: { cpus: string; mems: string };
  /** The Kubernetes Pod of a container (by its pod UID or CRI pod name), when the cluster view knows it. */
  podRef?: (c: ContainerInfo) => ResourceRef | undefined;
}

export interface RuntimeGraph {
  resources: Resource[];
  relationships: Relationship[];
  /** Relationships whose trouble was only logged (a malformed cpuset). */
  warnings: string[];
}

export function hostNamespace(host: string, container = ""): Namespace {
  return create(NamespaceSchema, { namespace: { case: "host", value: { host, container } } });
}

const CONTAINS = packMessage(ContainsSchema, { type: ContainmentType.RUNTIME });
const CONTAINED_BY = packMessage(ContainedBySchema, { type: ContainmentType.RUNTIME });

/** parent Contains child, child ContainedBy parent. */
function pair(out: Relationship[], parent: ResourceRef, child: ResourceRef): void {
  out.push(newRelationship({ subject: parent, object: child, predicate: CONTAINS }));
  out.push(newRelationship({ subject: child, object: parent, predicate: CONTAINED_BY }));
}

export function containerRef(systemName: string, id: string): ResourceRef {
  return resourceRef(CONTAINER_TYPE, id, hostNamespace(systemName));
}

export function processRef(systemName: string, p: Pick<ProcessInfo, "pid" | "container">): ResourceRef {
  return resourceRef(PROCESS_TYPE, String(p.pid), hostNamespace(systemName, p.container));
}

export function containerResource(systemName: string, c: ContainerInfo): Resource {
  const l = c.limits;
  return newResource({
    type: CONTAINER_TYPE,
    metadata: { provider: Provider.ANTIMETAL, name: c.id, namespace: hostNamespace(systemName) },
    spec: packMessage(ContainerNodeSchema, {
      containerId: c.id,
      runtime: c.runtime,
      cgroupVersion: c.cgroupVersion === 2 ? CgroupVersion.V2 : CgroupVersion.V1,
      cgroupPath: c.cgroupPath,
      imageName: c.imageName,
      imageTag: c.imageTag,
      labels: c.labels,
      createdAt: c.createdMs ? timestampFromMs(c.createdMs) : undefined,
      startedAt: c.startedMs ? timestampFromMs(c.startedMs) : undefined,
      cpuShares: l.cpuShares,
      cpuQuotaUs: l.cpuQuotaUs,
      cpuPeriodUs: l.cpuPeriodUs,
      memoryLimitBytes: l.memoryLimitBytes,
      cpusetCpus: l.cpusetCpus,
      cpusetMems: l.cpusetMems,
      containerName: c.containerName,
      workloadName: c.workloadName,
    }),
  });
}

export function processResource(systemName: string, p: ProcessInfo): Resource {
  return newResource({
    type: PROCESS_TYPE,
    metadata: { provider: Provider.ANTIMETAL, name: String(p.pid), namespace: hostNamespace(systemName, p.container) },
    spec: packMessage(ProcessNodeSchema, {
      pid: p.pid,
      ppid: p.ppid,
      pgid: p.pgid,
      sid: p.sid,
      command: p.command,
      cmdline: p.cmdline,
      state: processState(p.state),
      startTime: p.startMs ? timestampFromMs(p.startMs) : undefined,
    }),
  });
}

/**
 * The whole runtime graph of one scan, sorted (resources by refPath, relationships by relationshipKey).
 * Relationships: container -> its processes; parent -> child process (both in the graph); SystemNode
 * -> each container and each host process whose parent is not in the graph; pinned CPU core / NUMA
 * node -> container; Pod -> container. Each with its inverse (ContainedBy).
 */
export function buildRuntimeGraph(input: RuntimeGraphInput): RuntimeGraph {
  const sys = input.systemName;
  const systemRef = resourceRef(SYSTEM_NODE_TYPE, sys);
  const resources: Resource[] = [];
  const rels: Relationship[] = [];
  const warnings: string[] = [];
  const cRefs = new Map<string, ResourceRef>();
  for (const c of input.containers) {
    resources.push(containerResource(sys, c));
    const ref = containerRef(sys, c.id);
    cRefs.set(c.id, ref);
    pair(rels, systemRef, ref);
    const pod = input.podRef?.(c);
    if (pod) pair(rels, pod, ref);
    try {
      if (c.limits.cpusetCpus && c.limits.cpusetCpus !== input.rootCpuset.cpus)
        for (const n of parseCpuList(c.limits.cpusetCpus)) pair(rels, resourceRef(CPU_CORE_TYPE, `${sys}-cpu-core-${n}`), ref);
      if (c.limits.cpusetMems && c.limits.cpusetMems !== input.rootCpuset.mems)
        for (const n of parseCpuList(c.limits.cpusetMems)) pair(rels, resourceRef(NUMA_TYPE, `${sys}-numa-node-${n}`), ref);
    } catch (e) {
      warnings.push(`container ${c.id}: ${(e as Error).message}`);
    }
  }
  const pRefs = new Map<number, ResourceRef>();
  for (const p of input.processes) {
    resources.push(processResource(sys, p));
    pRefs.set(p.pid, processRef(sys, p));
  }
  for (const p of input.processes) {
    const ref = pRefs.get(p.pid)!;
    const parent = p.ppid > 0 ? pRefs.get(p.ppid) : undefined;
    if (parent) pair(rels, parent, ref);
    const container = p.container ? cRefs.get(p.container) : undefined;
    if (container) pair(rels, container, ref);
    else if (!parent) pair(rels, systemRef, ref);
  }
  const byKey = new Map<string, Relationship>();
  for (const r of rels) byKey.set(relationshipKey(r), r);
  const keyed = resources.map(
    (r) => [refPath({ typeUrl: r.type!.type, name: r.metadata!.name, namespace: r.metadata!.namespace } as ResourceRef), r] as const,
  );
  keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    resources: keyed.map(([, r]) => r),
    relationships: [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r),
    warnings,
  };
}
