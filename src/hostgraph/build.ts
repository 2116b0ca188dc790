// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// This host's hardware graph (antimetal.hardware.v1) built from one refresh's collector outputs,
// through the graph's builders and keys.

import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { newRelationship, newResource, packMessage, resourceRef } from "../graph/build.ts";
import { refPath, relationshipKey, resourceRefOf } from "../graph/keys.ts";
import {
  BusConnectionSchema,
  type BusType,
  ConnectedToSchema,
  ContainedBySchema,
  ContainmentType,
  ContainsSchema,
  CPUCoreNodeSchema,
  CPUPackageNodeSchema,
  DiskDeviceNodeSchema,
  DiskPartitionNodeSchema,
  DuplexMode,
  InterfaceType,
  MemoryModuleNodeSchema,
  NetworkInterfaceNodeSchema,
  NUMAAffinitySchema,
  NUMANodeSchema,
  OperationalState,
  SocketSharingSchema,
  SystemNodeSchema,
} from "../proto/gen/antimetal/hardware/v1/hardware_pb.ts";
import { RegisteredAsSchema, UnderlyingSchema } from "../proto/gen/kubernetes/v1/relationships_pb.ts";
import { Provider } from "../proto/gen/resource/v1/provider_pb.ts";
import type { Relationship } from "../proto/gen/resource/v1/relationship_pb.ts";
import { type Resource, type ResourceRef, TagSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import type { CpuInfoInput, DiskInfoInput, HostInventory, MemoryInfoInput, NetDeviceFacts, NetworkInfoInput, U64 } from "./types.ts";

export const HARDWARE_PACKAGE = "antimetal.hardware.v1";
export const KUBE_NODE_TYPE = "k8s.io.api.core.v1.Node";

/** The hardware predicates this graph writes (full proto names). */
export const HARDWARE_PREDICATES = [
  ContainsSchema.typeName,
  ContainedBySchema.typeName,
  NUMAAffinitySchema.typeName,
  SocketSharingSchema.typeName,
  BusConnectionSchema.typeName,
  ConnectedToSchema.typeName,
] as const;

/** SystemNode --RegisteredAs--> Kubernetes Node, Node --Underlying--> SystemNode (declared beside the channel classifier). */
export { NODE_LINK_PREDICATES } from "./channels.ts";

/**
 * SocketSharing joins every ordered pair of logical CPUs in a package (as the original), which is
 * n x (n-1) relationships: 4032 for 64 CPUs, 36672 for 192. Packages with more logical CPUs than
 * this get none (their Contains relationships already say which cores share the package).
 */
export const SOCKET_SHARING_MAX_CPUS = 64;

export interface HostGraph {
  /** The SystemNode's name: machine-id, else DMI product_uuid, else hostname. */
  systemName: string;
  systemRef: ResourceRef;
  /** Sorted by refPath (graph/keys.ts). */
  resources: Resource[];
  /** Sorted by relationshipKey. */
  relationships: Relationship[];
}

/** Sort and dedupe key of a resource: its readable key ("type_url/name" for hardware). */
function resourcePath(r: Resource): string {
  return refPath(resourceRefOf(r));
}

function u64(v: U64 | undefined): bigint {
  if (v === undefined) return 0n;
  return typeof v === "bigint" ? v : BigInt(Math.trunc(v));
}

export function relationship<D extends DescMessage>(
  subject: ResourceRef,
  object: ResourceRef,
  schema: D,
  predicate: MessageInitShape<D>,
): Relationship {
  return newRelationship({ subject, object, predicate: packMessage(schema, predicate) });
}

/** The two relationships that link this host to its Kubernetes Node (see docs/hostgraph.md). */
export function nodeLinkRelationships(systemRef: ResourceRef, nodeRef: ResourceRef): Relationship[] {
  return [relationship(systemRef, nodeRef, RegisteredAsSchema, {}), relationship(nodeRef, systemRef, UnderlyingSchema, {})];
}

const DUPLEX: Record<string, DuplexMode> = { full: DuplexMode.FULL, half: DuplexMode.HALF };
const OPER: Record<string, OperationalState> = {
  up: OperationalState.UP,
  down: OperationalState.DOWN,
  testing: OperationalState.TESTING,
  dormant: OperationalState.DORMANT,
  notpresent: OperationalState.NOT_PRESENT,
  lowerlayerdown: OperationalState.LOWER_LAYER_DOWN,
};
const IFTYPE: Record<string, InterfaceType> = {
  ethernet: InterfaceType.ETHERNET,
  wireless: InterfaceType.WIRELESS,
  loopback: InterfaceType.LOOPBACK,
  virtual: InterfaceType.VIRTUAL,
  bridge: InterfaceType.BRIDGE,
  vlan: InterfaceType.VLAN,
  tunnel: InterfaceType.TUN,
  tun: InterfaceType.TUN,
  tap: InterfaceType.TAP,
  bond: InterfaceType.BOND,
  infiniband: InterfaceType.INFINIBAND,
};

/** What every part of the build shares: where resources and relationships go, and the refs later parts link to. */
interface BuildContext {
  inv: HostInventory;
  /** The SystemNode's name, the prefix of every other resource's name. */
  sys: string;
  systemRef: ResourceRef;
  resources: Resource[];
  relationships: Relationship[];
  /** Logical CPU (processor) -> its CPUCoreNode. */
  coreRefs: Map<number, ResourceRef>;
  /** NUMA node id -> its NUMANode (NUMA machines only). */
  numaRefs: Map<number, ResourceRef>;
}

/** Adds a hardware resource named `name` with `spec` as a `schema` message; returns its ref. */
function addResource<D extends DescMessage>(
  ctx: BuildContext,
  schema: D,
  name: string,
  spec: MessageInitShape<D>,
  tags: { key: string; value: string }[] = [],
): ResourceRef {
  ctx.resources.push(
    newResource({
      type: schema.typeName,
      metadata: { provider: Provider.ANTIMETAL, providerId: name, name, tags: tags.map((t) => create(TagSchema, t)) },
      spec: packMessage(schema, spec),
    }),
  );
  return resourceRef(schema.typeName, name);
}

/** parent Contains child, child ContainedBy parent. */
function contains(ctx: BuildContext, parent: ResourceRef, child: ResourceRef, type: ContainmentType): void {
  ctx.relationships.push(relationship(parent, child, ContainsSchema, { type }));
  ctx.relationships.push(relationship(child, parent, ContainedBySchema, { type }));
}

/**
 * Builds this host's hardware graph from one refresh's collector outputs and host facts.
 * Pure and deterministic: the same input gives byte-identical resources in the same order.
 */
export function buildHostGraph(inv: HostInventory): HostGraph {
  const f = inv.facts;
  const sys = f.machineId || f.systemUuid || f.hostname || "unknown";
  const ctx: BuildContext = {
    inv,
    sys,
    systemRef: resourceRef(SystemNodeSchema.typeName, sys),
    resources: [],
    relationships: [],
    coreRefs: new Map(),
    numaRefs: new Map(),
  };

  const tags = [{ key: "hostname", value: f.hostname }];
  if (f.machineId) tags.push({ key: "machine-id", value: f.machineId });
  if (f.systemUuid) tags.push({ key: "system-uuid", value: f.systemUuid });
  addResource(
    ctx,
    SystemNodeSchema,
    sys,
    {
      hostname: f.hostname,
      architecture: f.architecture,
      bootTime: f.bootTimeSeconds > 0 ? timestampFromMs(f.bootTimeSeconds * 1000) : undefined,
      kernelVersion: f.kernelVersion,
      osInfo: f.osInfo,
    },
    tags,
  );

  if (inv.cpuInfo) buildCpu(ctx, inv.cpuInfo);
  if (inv.memoryInfo) buildMemory(ctx, inv.memoryInfo);
  if (inv.diskInfo) buildDisks(ctx, inv.diskInfo);
  if (inv.networkInfo) buildNetwork(ctx, inv.networkInfo);

  // Dedupe (a device listed twice would otherwise repeat) and sort.
  const byKey = new Map<string, Resource>();
  for (const r of ctx.resources) byKey.set(resourcePath(r), r);
  const relByKey = new Map<string, Relationship>();
  for (const r of ctx.relationships) relByKey.set(relationshipKey(r), r);
  return {
    systemName: sys,
    systemRef: ctx.systemRef,
    resources: [...byKey.entries()].sort(([a], [b]) => cmp(a, b)).map(([, r]) => r),
    relationships: [...relByKey.entries()].sort(([a], [b]) => cmp(a, b)).map(([, r]) => r),
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function buildCpu(ctx: BuildContext, cpu: CpuInfoInput): void {
  const { sys } = ctx;
  const sockets = [...new Set(cpu.cores.map((c) => c.physical_id))].sort((a, b) => a - b);
  const pkgRefs = new Map<number, ResourceRef>();
  for (const socket of sockets) {
    const cores = cpu.cores.filter((c) => c.physical_id === socket);
    const pkgRef = addResource(ctx, CPUPackageNodeSchema, `${sys}-cpu-package-${socket}`, {
      socketId: socket,
      vendorId: cpu.vendor_id,
      modelName: cpu.model_name,
      cpuFamily: cpu.cpu_family,
      model: cpu.model,
      stepping: cpu.stepping,
      microcode: cpu.microcode,
      cacheSize: cpu.cache_size,
      physicalCores: new Set(cores.map((c) => c.core_id)).size,
      logicalCores: cores.length,
    });
    pkgRefs.set(socket, pkgRef);
    contains(ctx, ctx.systemRef, pkgRef, ContainmentType.PHYSICAL);
  }
  // The rated maximum (cpufreq) is stable; "cpu MHz" in /proc/cpuinfo moves with frequency scaling
  // and would rewrite every core on every refresh. It is used only where cpufreq is absent (VMs).
  const maxMhz = cpu.cpu_max_mhz ?? 0;
  const bySocket = new Map<number, ResourceRef[]>();
  for (const core of [...cpu.cores].sort((a, b) => a.processor - b.processor)) {
    const coreRef = addResource(ctx, CPUCoreNodeSchema, `${sys}-cpu-core-${core.processor}`, {
      processorId: core.processor,
      coreId: core.core_id,
      physicalId: core.physical_id,
      frequencyMhz: maxMhz > 0 ? maxMhz : core.cpu_mhz,
      siblings: core.siblings,
    });
    ctx.coreRefs.set(core.processor, coreRef);
    contains(ctx, pkgRefs.get(core.physical_id)!, coreRef, ContainmentType.PHYSICAL);
    const list = bySocket.get(core.physical_id) ?? [];
    list.push(coreRef);
    bySocket.set(core.physical_id, list);
  }
  for (const [socket, cores] of bySocket) {
    if (cores.length > SOCKET_SHARING_MAX_CPUS) continue;
    for (const a of cores) {
      for (const b of cores) {
        if (a !== b && a.name !== b.name)
          ctx.relationships.push(relationship(a, b, SocketSharingSchema, { physicalId: socket, socketId: socket }));
      }
    }
  }
}

function buildMemory(ctx: BuildContext, mem: MemoryInfoInput): void {
  const { sys, relationships: rels, numaRefs } = ctx;
  const memRef = addResource(ctx, MemoryModuleNodeSchema, `${sys}-memory`, {
    totalBytes: u64(mem.total_bytes),
    numaEnabled: mem.numa_enabled,
    numaBalancingAvailable: mem.numa_balancing_available,
    numaNodeCount: mem.numa_nodes.length,
  });
  contains(ctx, ctx.systemRef, memRef, ContainmentType.PHYSICAL);
  // As the original: NUMA nodes are resources only on NUMA machines (more than one node).
  if (!mem.numa_enabled) return;
  const nodes = [...mem.numa_nodes].sort((a, b) => a.node_id - b.node_id);
  const ids = nodes.map((n) => n.node_id);
  for (const n of nodes) {
    const numaRef = addResource(ctx, NUMANodeSchema, `${sys}-numa-node-${n.node_id}`, {
      nodeId: n.node_id,
      totalBytes: u64(n.total_bytes),
      cpus: n.cpus,
      distances: n.distances,
    });
    numaRefs.set(n.node_id, numaRef);
    contains(ctx, ctx.systemRef, numaRef, ContainmentType.LOGICAL);
    rels.push(relationship(memRef, numaRef, NUMAAffinitySchema, { nodeId: n.node_id, distance: 0 }));
    for (const cpu of n.cpus) {
      const coreRef = ctx.coreRefs.get(cpu);
      if (coreRef) rels.push(relationship(coreRef, numaRef, NUMAAffinitySchema, { nodeId: n.node_id, distance: 0 }));
    }
  }
  for (const n of nodes) {
    // nodeN/distance lists the distance to every online node in node-id order.
    const targets = n.distances.length === ids.length ? ids : n.distances.map((_, i) => i);
    n.distances.forEach((distance, i) => {
      const other = targets[i]!;
      const otherRef = numaRefs.get(other);
      if (other !== n.node_id && otherRef) {
        rels.push(relationship(numaRefs.get(n.node_id)!, otherRef, NUMAAffinitySchema, { nodeId: other, distance }));
      }
    });
  }
}

/** The device ConnectedTo the system over its bus, and the system's BusConnection to it. */
function busLinks(ctx: BuildContext, deviceRef: ResourceRef, bus: { type: BusType; address: string } | undefined): void {
  if (!bus) return;
  ctx.relationships.push(relationship(deviceRef, ctx.systemRef, ConnectedToSchema, { busType: bus.type, busAddress: bus.address }));
  ctx.relationships.push(relationship(ctx.systemRef, deviceRef, BusConnectionSchema, { busType: bus.type, busAddress: bus.address }));
}

function numaLink(ctx: BuildContext, deviceRef: ResourceRef, numaNode: number | undefined): void {
  if (numaNode === undefined) return;
  const numaRef = ctx.numaRefs.get(numaNode);
  if (numaRef) ctx.relationships.push(relationship(deviceRef, numaRef, NUMAAffinitySchema, { nodeId: numaNode, distance: 0 }));
}

function buildDisks(ctx: BuildContext, disks: DiskInfoInput[]): void {
  const { sys } = ctx;
  for (const d of disks) {
    const diskRef = addResource(ctx, DiskDeviceNodeSchema, `${sys}-disk-${d.device}`, {
      device: d.device,
      model: d.model,
      vendor: d.vendor,
      sizeBytes: u64(d.size_bytes),
      rotational: d.rotational,
      blockSize: d.block_size >>> 0,
      physicalBlockSize: d.physical_block_size >>> 0,
      scheduler: d.scheduler,
      queueDepth: d.queue_depth >>> 0,
    });
    contains(ctx, ctx.systemRef, diskRef, ContainmentType.PHYSICAL);
    const bus = ctx.inv.facts.block[d.device]?.bus;
    busLinks(ctx, diskRef, bus);
    numaLink(ctx, diskRef, bus?.numaNode);
    for (const p of d.partitions) {
      const partRef = addResource(ctx, DiskPartitionNodeSchema, `${sys}-partition-${p.name}`, {
        name: p.name,
        parentDevice: d.device,
        sizeBytes: u64(p.size_bytes),
        startSector: u64(p.start_sector),
      });
      contains(ctx, diskRef, partRef, ContainmentType.PARTITION);
    }
  }
}

/**
 * The collector's type (the original's rules, where any ARPHRD_ETHER device is "ethernet"),
 * refined with sysfs: a bond or bridge directory, tun_flags (TUN/TAP), and an Ethernet device
 * without a `device` link is software (veth, dummy, vxlan, ifb): VIRTUAL.
 */
function interfaceType(n: NetworkInfoInput, facts: NetDeviceFacts | undefined): InterfaceType {
  if (facts?.bond) return InterfaceType.BOND;
  if (facts?.bridge) return InterfaceType.BRIDGE;
  if (facts?.tunFlags !== undefined) return facts.tunFlags & 0x2 ? InterfaceType.TAP : InterfaceType.TUN;
  const t = IFTYPE[n.type] ?? InterfaceType.UNKNOWN;
  if (t === InterfaceType.ETHERNET && facts && !facts.device) return InterfaceType.VIRTUAL;
  return t;
}

function buildNetwork(ctx: BuildContext, ifaces: NetworkInfoInput[]): void {
  const { sys, inv } = ctx;
  const refs = new Map<string, ResourceRef>();
  for (const n of ifaces) {
    const facts = inv.facts.net[n.interface];
    const type = interfaceType(n, facts);
    const netRef = addResource(ctx, NetworkInterfaceNodeSchema, `${sys}-net-${n.interface}`, {
      interface: n.interface,
      macAddress: n.mac_address,
      speed: u64(n.speed),
      duplex: DUPLEX[n.duplex.toLowerCase()] ?? DuplexMode.UNKNOWN,
      mtu: n.mtu >>> 0,
      driver: n.driver,
      type,
      operState: OPER[n.oper_state.toLowerCase()] ?? OperationalState.UNKNOWN,
      carrier: n.carrier,
      ipv4Addresses: facts?.ipv4 ?? [],
      ipv6Addresses: facts?.ipv6 ?? [],
    });
    refs.set(n.interface, netRef);
    contains(ctx, ctx.systemRef, netRef, facts?.device || facts?.bus ? ContainmentType.PHYSICAL : ContainmentType.LOGICAL);
    busLinks(ctx, netRef, facts?.bus);
    numaLink(ctx, netRef, facts?.bus?.numaNode);
  }
  // Bond slaves and bridge ports: the master logically contains its members.
  for (const n of ifaces) {
    const facts = inv.facts.net[n.interface];
    if (!facts) continue;
    for (const m of facts.members) {
      const memberRef = refs.get(m);
      if (memberRef && m !== n.interface) contains(ctx, refs.get(n.interface)!, memberRef, ContainmentType.LOGICAL);
    }
  }
}
