// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of buildHostGraph: system naming, partial collector failures, core frequency,
// SocketSharing pairs and NUMA distances.

import { expect, test } from "bun:test";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import {
  Architecture,
  CPUCoreNodeSchema,
  NUMAAffinitySchema,
  SocketSharingSchema,
} from "../proto/gen/antimetal/hardware/v1/hardware_pb.ts";
import { buildHostGraph, SOCKET_SHARING_MAX_CPUS } from "./build.ts";
import type { CpuCoreInput, HostFacts, HostInventory, NumaNodeInput } from "./types.ts";

function facts(over: Partial<HostFacts> = {}): HostFacts {
  return {
    machineId: "mid",
    systemUuid: "uuid",
    hostname: "h",
    architecture: Architecture.X86_64,
    bootTimeSeconds: 0,
    kernelVersion: "6.1",
    osInfo: "Linux",
    net: {},
    block: {},
    ...over,
  };
}

function cpus(sockets: number, perSocket: number): CpuCoreInput[] {
  const out: CpuCoreInput[] = [];
  for (let s = 0; s < sockets; s++)
    for (let i = 0; i < perSocket; i++)
      out.push({ processor: s * perSocket + i, core_id: i, physical_id: s, siblings: perSocket, cpu_mhz: 1234.5 });
  return out;
}

function cpuInfo(cores: CpuCoreInput[], maxMhz = 0): HostInventory["cpuInfo"] {
  return {
    physical_cores: 0,
    logical_cores: cores.length,
    model_name: "m",
    vendor_id: "v",
    cpu_family: 6,
    model: 1,
    stepping: 1,
    microcode: "",
    cpu_mhz: 0,
    cpu_max_mhz: maxMhz,
    cache_size: "",
    cores,
  };
}

/** 100 bytes of memory in `nodes`, NUMA balancing unavailable. */
function memoryInfo(numaEnabled: boolean, nodes: NumaNodeInput[]): HostInventory["memoryInfo"] {
  return { total_bytes: 100n, numa_enabled: numaEnabled, numa_balancing_available: false, numa_nodes: nodes };
}

const names = (inv: HostInventory) => buildHostGraph(inv).resources.map((r) => r.metadata!.name);

test("system name: machine-id, else DMI UUID, else hostname; children are prefixed with it", () => {
  expect(names({ facts: facts() })).toEqual(["mid"]);
  expect(names({ facts: facts({ machineId: "" }) })).toEqual(["uuid"]);
  expect(names({ facts: facts({ machineId: "", systemUuid: "" }) })).toEqual(["h"]);
  const g = buildHostGraph({ facts: facts({ machineId: "", systemUuid: "" }), cpuInfo: cpuInfo(cpus(1, 1)) });
  expect(g.resources.map((r) => r.metadata!.name)).toContain("h-cpu-core-0");
  const tags = g.resources.find((r) => r.metadata!.name === "h")!.metadata!.tags.map((t) => t.key);
  expect(tags).toEqual(["hostname"]);
});

test("a failed collector leaves its part out, the rest is built", () => {
  const g = buildHostGraph({ facts: facts(), diskInfo: [] });
  expect(g.resources.map((r) => r.type!.type)).toEqual(["antimetal.hardware.v1.SystemNode"]);
  expect(g.relationships).toEqual([]);
});

test("core frequency: cpufreq max when known, else the cpuinfo value", () => {
  const f = (max: number) =>
    buildHostGraph({ facts: facts(), cpuInfo: cpuInfo(cpus(1, 1), max) })
      .resources.filter((r) => r.type!.type === CPUCoreNodeSchema.typeName)
      .map((r) => anyUnpack(r.spec!, CPUCoreNodeSchema)!.frequencyMhz);
  expect(f(3900)).toEqual([3900]);
  expect(f(0)).toEqual([1234.5]);
});

test("SocketSharing: every ordered pair per package, up to the bound", () => {
  const count = (sockets: number, per: number) =>
    buildHostGraph({ facts: facts(), cpuInfo: cpuInfo(cpus(sockets, per)) }).relationships.filter(
      (r) => r.type!.type === SocketSharingSchema.typeName,
    ).length;
  expect(count(2, 4)).toBe(2 * 4 * 3);
  expect(count(1, SOCKET_SHARING_MAX_CPUS)).toBe(SOCKET_SHARING_MAX_CPUS * (SOCKET_SHARING_MAX_CPUS - 1));
  expect(count(2, SOCKET_SHARING_MAX_CPUS + 1)).toBe(0);
});

test("NUMA distances map to node ids in order, also with sparse ids", () => {
  const g = buildHostGraph({
    facts: facts(),
    memoryInfo: memoryInfo(true, [
      { node_id: 0, total_bytes: 50n, cpus: [], distances: [10, 20] },
      { node_id: 2, total_bytes: 50n, cpus: [], distances: [20, 10] },
    ]),
  });
  const d = g.relationships
    .filter((r) => r.type!.type === NUMAAffinitySchema.typeName && r.subject!.name.includes("numa-node"))
    .map((r) => [r.subject!.name, r.object!.name, anyUnpack(r.predicate!, NUMAAffinitySchema)!.distance]);
  expect(d).toEqual([
    ["mid-numa-node-0", "mid-numa-node-2", 20],
    ["mid-numa-node-2", "mid-numa-node-0", 20],
  ]);
});

test("a single NUMA node is not a NUMA resource (as the original)", () => {
  const g = buildHostGraph({
    facts: facts(),
    memoryInfo: memoryInfo(false, [{ node_id: 0, total_bytes: 100n, cpus: [0], distances: [10] }]),
  });
  expect(g.resources.map((r) => r.metadata!.name)).toEqual(["mid-memory", "mid"]);
});
