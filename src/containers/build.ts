// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The runtime graph as resources and relationships: ContainerNode and ProcessNode (antimetal.runtime.v1)
// in the host's namespace, linked to each other, to the host's SystemNode, to pinned CPU cores and NUMA
// nodes of the hardware graph, and to their Kubernetes Pod.

import { create, equals } from "@bufbuild/protobuf";
import { anyUnpack, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { newRelationship, newResource, packMessage, resourceRef } from "../graph/build.ts";
import { refPath } from "../graph/keys.ts";
import { RELATIONSHIP_KIND } from "../graph/names.ts";
import { ContainerNodeSchema } from "../proto/gen/antimetal/runtime/v1/container_pb.ts";
import { CgroupVersion } from "../proto/gen/antimetal/runtime/v1/linux_pb.ts";
import { ProcessNodeSchema, ProcessState } from "../proto/gen/antimetal/runtime/v1/process_pb.ts";
import { ContainedBySchema, ContainmentType, ContainsSchema } from "../proto/gen/antimetal/runtime/v1/relationships_pb.ts";
import { type Namespace, NamespaceSchema } from "../proto/gen/resource/v1/namespace_pb.ts";
import { Provider } from "../proto/gen/resource/v1/provider_pb.ts";
import type { Relationship } from "../proto/gen/resource/v1/relationship_pb.ts";
import { type Resource, type ResourceRef, ResourceSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import type { ContainerInfo } from "./discover.ts";
import { type OomRecord, oomSig, oomTags } from "./oom.ts";
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
  /** OOM kills of a container (count, last kill), carried as its node's tags. */
  oomOf?: (id: string) => OomRecord | undefined;
  /** Plan no relationships: the caller found everything they derive from unchanged (edgeInputsKey). */
  skipEdges?: boolean;
}

/**
 * Everything the plan's relationships derive from (the system name, the root cpuset, each container's
 * id, Pod and cpuset, each process's pid, parent and container), as one string: equal keys plan equal
 * relationships, so a steady scan compares this instead of planning thousands of relationship keys.
 */
export function edgeInputsKey(input: RuntimeGraphInput): string {
  const parts: string[] = [input.systemName, input.rootCpuset.cpus, input.rootCpuset.mems];
  for (const c of input.containers) {
    const pod = input.podRef?.(c);
    parts.push(`c${c.id}|${pod ? refPath(pod) : ""}|${c.limits.cpusetCpus}|${c.limits.cpusetMems}`);
  }
  for (const p of input.processes) parts.push(`${p.pid}|${p.ppid}|${p.container}`);
  return parts.join("\n");
}

export function hostNamespace(host: string, container = ""): Namespace {
  return create(NamespaceSchema, { namespace: { case: "host", value: { host, container } } });
}

const CONTAINS = packMessage(ContainsSchema, { type: ContainmentType.RUNTIME });
const CONTAINED_BY = packMessage(ContainedBySchema, { type: ContainmentType.RUNTIME });

export function containerRef(systemName: string, id: string): ResourceRef {
  return resourceRef(CONTAINER_TYPE, id, hostNamespace(systemName));
}

export function processRef(systemName: string, p: Pick<ProcessInfo, "pid" | "container">): ResourceRef {
  return resourceRef(PROCESS_TYPE, String(p.pid), hostNamespace(systemName, p.container));
}

export function containerResource(systemName: string, c: ContainerInfo, oom?: OomRecord): Resource {
  const l = c.limits;
  return newResource({
    type: CONTAINER_TYPE,
    metadata: { provider: Provider.ANTIMETAL, name: c.id, namespace: hostNamespace(systemName), tags: oomTags(oom) },
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

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
/** The middle of relationshipKey (graph/keys.ts) for each predicate: "|kind|type|type_url:value|". */
const CONTAINS_MID = `|${RELATIONSHIP_KIND}|${ContainsSchema.typeName}|${CONTAINS.typeUrl}:${hex(CONTAINS.value)}|`;
const CONTAINED_BY_MID = `|${RELATIONSHIP_KIND}|${ContainedBySchema.typeName}|${CONTAINED_BY.typeUrl}:${hex(CONTAINED_BY.value)}|`;

/** One node of the desired graph: its readable key (refPath), a signature of everything its spec is built from, and how to build it. */
export interface NodePlan {
  path: string;
  type: string;
  /** Equal signatures build equal resources, except for a process's state among running/sleeping/disk sleep (not a change). */
  sig: string;
  build(): Resource;
}

/** One relationship of the desired graph: its relationshipKey and how to build it. */
export interface EdgePlan {
  key: string;
  build(): Relationship;
}

export interface RuntimeGraphPlan {
  /** By path (refPath), sorted. */
  nodes: Map<string, NodePlan>;
  /** By relationshipKey. */
  edges: Map<string, EdgePlan>;
  /** Relationships whose trouble was only logged (a malformed cpuset). */
  warnings: string[];
}

/** Process states a process moves between all the time: a move among them alone is not a change worth a write. */
const BUSY_STATES = new Set(["R", "S", "D", "I"]);

/**
 * The desired runtime graph of one scan, without building a message until asked (a steady scan builds
 * none): nodes for containers and processes; relationships: container -> its processes; parent ->
 * child process (both in the graph); SystemNode -> each container and each host process whose parent
 * is not in the graph; pinned CPU core / NUMA node -> container; Pod -> container. Each with its
 * inverse (ContainedBy).
 */
export function planRuntimeGraph(input: RuntimeGraphInput): RuntimeGraphPlan {
  const sys = input.systemName;
  const nodes = new Map<string, NodePlan>();
  const edges = new Map<string, EdgePlan>();
  const warnings: string[] = [];
  const systemPath = `${SYSTEM_NODE_TYPE}/${sys}`;
  const systemRef = () => resourceRef(SYSTEM_NODE_TYPE, sys);
  const pair = (parentPath: string, parent: () => ResourceRef, childPath: string, child: () => ResourceRef) => {
    if (input.skipEdges) return;
    const fwd = parentPath + CONTAINS_MID + childPath;
    edges.set(fwd, { key: fwd, build: () => newRelationship({ subject: parent(), object: child(), predicate: CONTAINS }) });
    const inv = childPath + CONTAINED_BY_MID + parentPath;
    edges.set(inv, { key: inv, build: () => newRelationship({ subject: child(), object: parent(), predicate: CONTAINED_BY }) });
  };
  const cPaths = new Map<string, string>();
  for (const c of input.containers) {
    const path = `${CONTAINER_TYPE}/host/${sys}//${c.id}`;
    const ref = () => containerRef(sys, c.id);
    cPaths.set(c.id, path);
    const oom = input.oomOf?.(c.id);
    nodes.set(path, { path, type: CONTAINER_TYPE, sig: containerSig(c) + oomSig(oom), build: () => containerResource(sys, c, oom) });
    pair(systemPath, systemRef, path, ref);
    const pod = input.podRef?.(c);
    if (pod) pair(refPath(pod), () => pod, path, ref);
    try {
      if (c.limits.cpusetCpus && c.limits.cpusetCpus !== input.rootCpuset.cpus)
        for (const n of parseCpuList(c.limits.cpusetCpus)) {
          const name = `${sys}-cpu-core-${n}`;
          pair(`${CPU_CORE_TYPE}/${name}`, () => resourceRef(CPU_CORE_TYPE, name), path, ref);
        }
      if (c.limits.cpusetMems && c.limits.cpusetMems !== input.rootCpuset.mems)
        for (const n of parseCpuList(c.limits.cpusetMems)) {
          const name = `${sys}-numa-node-${n}`;
          pair(`${NUMA_TYPE}/${name}`, () => resourceRef(NUMA_TYPE, name), path, ref);
        }
    } catch (e) {
      warnings.push(`container ${c.id}: ${(e as Error).message}`);
    }
  }
  const pPaths = new Map<number, { path: string; p: ProcessInfo }>();
  for (const p of input.processes) pPaths.set(p.pid, { path: `${PROCESS_TYPE}/host/${sys}/${p.container}/${p.pid}`, p });
  for (const p of input.processes) {
    const { path } = pPaths.get(p.pid)!;
    const ref = () => processRef(sys, p);
    nodes.set(path, { path, type: PROCESS_TYPE, sig: processSig(p), build: () => processResource(sys, p) });
    const parent = p.ppid > 0 ? pPaths.get(p.ppid) : undefined;
    if (parent) pair(parent.path, () => processRef(sys, parent.p), path, ref);
    const cPath = p.container ? cPaths.get(p.container) : undefined;
    if (cPath) pair(cPath, () => containerRef(sys, p.container), path, ref);
    else if (!parent) pair(systemPath, systemRef, path, ref);
  }
  return { nodes, edges, warnings };
}

function containerSig(c: ContainerInfo): string {
  const l = c.limits;
  const labels = Object.entries(c.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join("\0");
  return [
    c.runtime,
    c.cgroupVersion,
    c.cgroupPath,
    c.imageName,
    c.imageTag,
    labels,
    c.createdMs,
    c.startedMs,
    l.cpuShares,
    l.cpuQuotaUs,
    l.cpuPeriodUs,
    l.memoryLimitBytes,
    l.cpusetCpus,
    l.cpusetMems,
    c.containerName,
    c.workloadName,
  ].join("\u0001");
}

/** Signatures by object: the process lister hands back the same ProcessInfo while a process does not change. */
const processSigs = new WeakMap<ProcessInfo, string>();

function processSig(p: ProcessInfo): string {
  let sig = processSigs.get(p);
  if (sig !== undefined) return sig;
  const state = BUSY_STATES.has(p.state) ? "~" : p.state;
  sig = `${p.ppid}\u0001${p.pgid}\u0001${p.sid}\u0001${p.command}\u0001${p.cmdline}\u0001${state}\u0001${p.startMs}`;
  processSigs.set(p, sig);
  return sig;
}

/** Scheduler states a process moves between all the time: a move among them alone is not a change worth a write. */
const BUSY = new Set([ProcessState.RUNNING, ProcessState.SLEEPING, ProcessState.DISK_SLEEP]);

/** True when two ProcessNode resources differ only by a move between running, sleeping and disk sleep. */
export function onlyStateFlapped(old: Resource, next: Resource): boolean {
  const a = old.spec && anyUnpack(old.spec, ProcessNodeSchema);
  const b = next.spec && anyUnpack(next.spec, ProcessNodeSchema);
  if (!a || !b || !BUSY.has(a.state) || !BUSY.has(b.state)) return false;
  b.state = a.state;
  return equals(ProcessNodeSchema, a, b) && equals(ResourceSchema, { ...old, spec: undefined }, { ...next, spec: undefined });
}
