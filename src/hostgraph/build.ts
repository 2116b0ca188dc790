// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

import { create, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { anyPack, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  BusConnectionSchema,
  BusType,
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
import { type Relationship, RelationshipSchema } from "../proto/gen/resource/v1/relationship_pb.ts";
import { type Resource, type ResourceRef, ResourceRefSchema, ResourceSchema, TagSchema } from "../proto/gen/resource/v1/resource_pb.ts";
import { TypeDescriptorSchema } from "../proto/gen/resource/v1/object_pb.ts";
import { Provider } from "../proto/gen/resource/v1/provider_pb.ts";
import type { CpuInfoInput, DiskInfoInput, HostInventory, MemoryInfoInput, NetDeviceFacts, NetworkInfoInput, U64 } from "./types.ts";

export const HARDWARE_PACKAGE = "antimetal.hardware.v1";
export const KIND_RESOURCE = "resource.v1.Resource";
export const KIND_RELATIONSHIP = "resource.v1.Relationship";
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

/** SystemNode --RegisteredAs--> Kubernetes Node, Node --Underlying--> SystemNode. */
export const NODE_LINK_PREDICATES = [RegisteredAsSchema.typeName, UnderlyingSchema.typeName] as const;

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
  /** Sorted by resourceKey. */
  resources: Resource[];
  /** Sorted by relationshipKey. */
  relationships: Relationship[];
}

/** "type_url/name" (hardware resources carry no namespace); a Kubernetes ref adds its namespace. */
export function refKey(ref: ResourceRef | undefined): string {
  if (!ref) return "";
  const ns = ref.namespace?.namespace;
  if (ns?.case === "kube") return `${ref.typeUrl}/kube/${ns.value.cluster}/${ns.value.namespace}/${ref.name}`;
  if (ns?.case === "cloud") return `${ref.typeUrl}/cloud/${ns.value.account?.accountId ?? ""}/${ns.value.region}/${ns.value.group}/${ref.name}`;
  if (ns?.case === "host") return `${ref.typeUrl}/host/${ns.value.host}/${ns.value.container}/${ref.name}`;
  return `${ref.typeUrl}/${ref.name}`;
}

export function resourceRefOf(r: Resource): ResourceRef {
  return create(ResourceRefSchema, { typeUrl: r.type?.type ?? "", name: r.metadata?.name ?? "", namespace: r.metadata?.namespace });
}

export function resourceKey(r: Resource): string {
  return refKey(resourceRefOf(r));
}

function hex(b: Uint8Array | undefined): string {
  return b ? Buffer.from(b).toString("hex") : "";
}

/** Identity of a relationship by content: subject, predicate (type and value), object. */
export function relationshipKey(rel: Relationship): string {
  return `${refKey(rel.subject)}|${rel.type?.type ?? ""}|${rel.predicate?.typeUrl ?? ""}:${hex(rel.predicate?.value)}|${refKey(rel.object)}`;
}

function u64(v: U64 | undefined): bigint {
  if (v === undefined) return 0n;
  return typeof v === "bigint" ? v : BigInt(Math.trunc(v));
}

function ref(schema: DescMessage, name: string): ResourceRef {
  return create(ResourceRefSchema, { typeUrl: schema.typeName, name });
}

export function relationship<D extends DescMessage>(subject: ResourceRef, object: ResourceRef, schema: D, predicate: MessageInitShape<D>): Relationship {
  return create(RelationshipSchema, {
    type: { kind: KIND_RELATIONSHIP, type: schema.typeName },
    subject,
    object,
    predicate: anyPack(schema, create(schema, predicate) as MessageShape<D>),
  });
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

/**
 * Builds this host's hardware graph from one refresh's collector outputs and host facts.
 * Pure and deterministic: the same input gives byte-identical resources in the same order.
 */
export function buildHostGraph(inv: HostInventory): HostGraph {
  const f = inv.facts;
  const sys = f.machineId || f.systemUuid || f.hostname || "unknown";
  const resources: Resource[] = [];
  const rels: Relationship[] = [];

  const addResource = <D extends DescMessage>(schema: D, name: string, spec: MessageInitShape<D>, tags: { key: string; value: string }[] = []): ResourceRef => {
    resources.push(
      create(ResourceSchema, {
        type: create(TypeDescriptorSchema, { kind: KIND_RESOURCE, type: schema.typeName }),
        metadata: {
          provider: Provider.ANTIMETAL,
          providerId: name,
          name,
          tags: tags.map((t) => create(TagSchema, t)),
        },
        spec: anyPack(schema, create(schema, spec) as MessageShape<D>),
      }),
    );
    return ref(schema, name);
  };
  const contains = (parent: ResourceRef, child: ResourceRef, type: ContainmentType) => {
    rels.push(relationship(parent, child, ContainsSchema, { type }));
    rels.push(relationship(child, parent, ContainedBySchema, { type }));
  };

  // System
  const tags = [{ key: "hostname", value: f.hostname }];
  if (f.machineId) tags.push({ key: "machine-id", value: f.machineId });
  if (f.systemUuid) tags.push({ key: "system-uuid", value: f.systemUuid });
  const systemRef = addResource(
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

  const coreRefs = new Map<number, ResourceRef>();
  if (inv.cpuInfo) buildCpu(inv.cpuInfo, sys, systemRef, addResource, contains, rels, coreRefs);
  const numaRefs = new Map<number, ResourceRef>();
  if (inv.memoryInfo) buildMemory(inv.memoryInfo, sys, systemRef, addResource, contains, rels, coreRefs, numaRefs);
  if (inv.diskInfo) buildDisks(inv.diskInfo, inv, sys, systemRef, addResource, contains, rels, numaRefs);
  if (inv.networkInfo) buildNetwork(inv.networkInfo, inv, sys, systemRef, addResource, contains, rels, numaRefs);

  // Dedupe (a device listed twice would otherwise repeat) and sort.
  const byKey = new Map<string, Resource>();
  for (const r of resources) byKey.set(resourceKey(r), r);
  const relByKey = new Map<string, Relationship>();
  for (const r of rels) relByKey.set(relationshipKey(r), r);
  return {
    systemName: sys,
    systemRef,
    resources: [...byKey.entries()].sort(([a], [b]) => cmp(a, b)).map(([, r]) => r),
    relationships: [...relByKey.entries()].sort(([a], [b]) => cmp(a, b)).map(([, r]) => r),
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

type AddResource = <D extends DescMessage>(schema: D, name: string, spec: MessageInitShape<D>, tags?: { key: string; value: string }[]) => ResourceRef;
type Contains = (parent: ResourceRef, child: ResourceRef, type: ContainmentType) => void;

function buildCpu(
  cpu: CpuInfoInput,
  sys: string,
  systemRef: ResourceRef,
  add: AddResource,
  contains: Contains,
  rels: Relationship[],
  coreRefs: Map<number, ResourceRef>,
): void {
  const sockets = [...new Set(cpu.cores.map((c) => c.physical_id))].sort((a, b) => a - b);
  const pkgRefs = new Map<number, ResourceRef>();
  for (const socket of sockets) {
    const cores = cpu.cores.filter((c) => c.physical_id === socket);
    const pkgRef = add(CPUPackageNodeSchema, `${sys}-cpu-package-${socket}`, {
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
    contains(systemRef, pkgRef, ContainmentType.PHYSICAL);
  }
  // The rated maximum (cpufreq) is stable; "cpu MHz" in /proc/cpuinfo moves with frequency scaling
  // and would rewrite every core on every refresh. It is used only where cpufreq is absent (VMs).
  const maxMhz = cpu.cpu_max_mhz ?? 0;
  const bySocket = new Map<number, ResourceRef[]>();
  for (const core of [...cpu.cores].sort((a, b) => a.processor - b.processor)) {
    const coreRef = add(CPUCoreNodeSchema, `${sys}-cpu-core-${core.processor}`, {
      processorId: core.processor,
      coreId: core.core_id,
      physicalId: core.physical_id,
      frequencyMhz: maxMhz > 0 ? maxMhz : core.cpu_mhz,
      siblings: core.siblings,
    });
    coreRefs.set(core.processor, coreRef);
    contains(pkgRefs.get(core.physical_id)!, coreRef, ContainmentType.PHYSICAL);
    const list = bySocket.get(core.physical_id) ?? [];
    list.push(coreRef);
    bySocket.set(core.physical_id, list);
  }
  for (const [socket, cores] of bySocket) {
    if (cores.length > SOCKET_SHARING_MAX_CPUS) continue;
    for (const a of cores) {
      for (const b of cores) {
        if (a !== b && a.name !== b.name) rels.push(relationship(a, b, SocketSharingSchema, { physicalId: socket, socketId: socket }));
      }
    }
  }
}

function buildMemory(
  mem: MemoryInfoInput,
  sys: string,
  systemRef: ResourceRef,
  add: AddResource,
  contains: Contains,
  rels: Relationship[],
  coreRefs: Map<number, ResourceRef>,
  numaRefs: Map<number, ResourceRef>,
): void {
  const memRef = add(MemoryModuleNodeSchema, `${sys}-memory`, {
    totalBytes: u64(mem.total_bytes),
    numaEnabled: mem.numa_enabled,
    numaBalancingAvailable: mem.numa_balancing_available,
    numaNodeCount: mem.numa_nodes.length,
  });
  contains(systemRef, memRef, ContainmentType.PHYSICAL);
  // As the original: NUMA nodes are resources only on NUMA machines (more than one node).
  if (!mem.numa_enabled) return;
  const nodes = [...mem.numa_nodes].sort((a, b) => a.node_id - b.node_id);
  const ids = nodes.map((n) => n.node_id);
  for (const n of nodes) {
    const numaRef = add(NUMANodeSchema, `${sys}-numa-node-${n.node_id}`, {
      nodeId: n.node_id,
      totalBytes: u64(n.total_bytes),
      cpus: n.cpus,
      distances: n.distances,
    });
    numaRefs.set(n.node_id, numaRef);
    contains(systemRef, numaRef, ContainmentType.LOGICAL);
    rels.push(relationship(memRef, numaRef, NUMAAffinitySchema, { nodeId: n.node_id, distance: 0 }));
    for (const cpu of n.cpus) {
      const coreRef = coreRefs.get(cpu);
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

function busLinks(deviceRef: ResourceRef, systemRef: ResourceRef, bus: { type: BusType; address: string } | undefined, rels: Relationship[]): void {
  if (!bus) return;
  rels.push(relationship(deviceRef, systemRef, ConnectedToSchema, { busType: bus.type, busAddress: bus.address }));
  rels.push(relationship(systemRef, deviceRef, BusConnectionSchema, { busType: bus.type, busAddress: bus.address }));
}

function numaLink(deviceRef: ResourceRef, numaNode: number | undefined, numaRefs: Map<number, ResourceRef>, rels: Relationship[]): void {
  if (numaNode === undefined) return;
  const numaRef = numaRefs.get(numaNode);
  if (numaRef) rels.push(relationship(deviceRef, numaRef, NUMAAffinitySchema, { nodeId: numaNode, distance: 0 }));
}

function buildDisks(
  disks: DiskInfoInput[],
  inv: HostInventory,
  sys: string,
  systemRef: ResourceRef,
  add: AddResource,
  contains: Contains,
  rels: Relationship[],
  numaRefs: Map<number, ResourceRef>,
): void {
  for (const d of disks) {
    const diskRef = add(DiskDeviceNodeSchema, `${sys}-disk-${d.device}`, {
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
    contains(systemRef, diskRef, ContainmentType.PHYSICAL);
    const bus = inv.facts.block[d.device]?.bus;
    busLinks(diskRef, systemRef, bus, rels);
    numaLink(diskRef, bus?.numaNode, numaRefs, rels);
    for (const p of d.partitions) {
      const partRef = add(DiskPartitionNodeSchema, `${sys}-partition-${p.name}`, {
        name: p.name,
        parentDevice: d.device,
        sizeBytes: u64(p.size_bytes),
        startSector: u64(p.start_sector),
      });
      contains(diskRef, partRef, ContainmentType.PARTITION);
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

function buildNetwork(
  ifaces: NetworkInfoInput[],
  inv: HostInventory,
  sys: string,
  systemRef: ResourceRef,
  add: AddResource,
  contains: Contains,
  rels: Relationship[],
  numaRefs: Map<number, ResourceRef>,
): void {
  const refs = new Map<string, ResourceRef>();
  for (const n of ifaces) {
    const facts = inv.facts.net[n.interface];
    const type = interfaceType(n, facts);
    const netRef = add(NetworkInterfaceNodeSchema, `${sys}-net-${n.interface}`, {
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
    contains(systemRef, netRef, facts?.device || facts?.bus ? ContainmentType.PHYSICAL : ContainmentType.LOGICAL);
    busLinks(netRef, systemRef, facts?.bus, rels);
    numaLink(netRef, facts?.bus?.numaNode, numaRefs, rels);
  }
  // Bond slaves and bridge ports: the master logically contains its members.
  for (const n of ifaces) {
    const facts = inv.facts.net[n.interface];
    if (!facts) continue;
    for (const m of facts.members) {
      const memberRef = refs.get(m);
      if (memberRef && m !== n.interface) contains(refs.get(n.interface)!, memberRef, ContainmentType.LOGICAL);
    }
  }
}
