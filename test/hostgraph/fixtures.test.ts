// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The host graph built by the real hardware collectors over fixture sysfs/procfs trees, compared
// with golden files that hold every resource and relationship exactly (proto3 JSON). To rewrite the
// goldens after an intended change: UPDATE_GOLDEN=1 bun test test/hostgraph/fixtures.test.ts, then
// review the diff.

import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { buildHostGraph, type HostGraph } from "../../src/hostgraph/build.ts";
import { collectInventory, createHardwareCollectors } from "../../src/hostgraph/collect.ts";
import { renderGraph } from "../../src/hostgraph/render.ts";
import {
  BusType,
  ConnectedToSchema,
  ContainmentType,
  ContainsSchema,
  InterfaceType,
  NetworkInterfaceNodeSchema,
  NUMAAffinitySchema,
  SystemNodeSchema,
} from "../../src/proto/gen/antimetal/hardware/v1/hardware_pb.ts";
import { Provider } from "../../src/proto/gen/resource/v1/provider_pb.ts";
import { FIXTURES, pathsUnder } from "./helpers.ts";

async function graphOf(name: string): Promise<HostGraph> {
  const paths = pathsUnder(path.join(FIXTURES, name));
  const { inventory, errors } = await collectInventory(paths, createHardwareCollectors(paths), new AbortController().signal);
  expect(errors).toEqual({});
  return buildHostGraph(inventory);
}

function golden(name: string, g: HostGraph): void {
  const file = path.join(FIXTURES, `${name}.expected.json`);
  const actual = JSON.parse(JSON.stringify(renderGraph(g)));
  if (process.env.UPDATE_GOLDEN === "1") fs.writeFileSync(file, JSON.stringify(actual, null, 1) + "\n");
  expect(actual).toEqual(JSON.parse(fs.readFileSync(file, "utf8")));
}

/** "subject-suffix Predicate object-suffix" lines for a predicate, names without the system prefix. */
function edges(g: HostGraph, predicate: string): string[] {
  const strip = (n: string | undefined) => (n === g.systemName ? "system" : (n ?? "").slice(g.systemName.length + 1));
  return g.relationships.filter((r) => r.type?.type === predicate).map((r) => `${strip(r.subject?.name)} -> ${strip(r.object?.name)}`);
}

describe("single-socket laptop", () => {
  test("matches the golden graph exactly", async () => {
    golden("laptop", await graphOf("laptop"));
  });

  test("is named by /etc/machine-id, with hostname, machine-id and DMI UUID tags", async () => {
    const g = await graphOf("laptop");
    expect(g.systemName).toBe("0f3c9a7e5b2d4e61a8c7b9d0e1f23456");
    const sys = g.resources.find((r) => r.type?.type === SystemNodeSchema.typeName)!;
    expect(sys.type?.kind).toBe("resource.v1.Resource");
    expect(sys.metadata?.provider).toBe(Provider.ANTIMETAL);
    expect(sys.metadata?.namespace).toBeUndefined();
    expect(sys.metadata?.tags.map((t) => [t.key, t.value])).toEqual([
      ["hostname", "laptop"],
      ["machine-id", "0f3c9a7e5b2d4e61a8c7b9d0e1f23456"],
      ["system-uuid", "4c4c4544-0042-3510-8052-b4c04f4e3332"],
    ]);
    expect(sys.spec?.typeUrl).toBe("type.googleapis.com/antimetal.hardware.v1.SystemNode");
    const spec = anyUnpack(sys.spec!, SystemNodeSchema)!;
    expect(spec.osInfo).toBe("Ubuntu 24.04.1 LTS");
    expect(spec.kernelVersion).toBe("6.8.0-49-generic");
    expect(spec.bootTime?.seconds).toBe(1764000000n);
  });

  test("one package with 8 cores, no NUMA nodes (one node is not NUMA), NVMe partitions, bridge port", async () => {
    const g = await graphOf("laptop");
    const names = g.resources.map((r) => r.metadata!.name.replace(g.systemName, "<sys>"));
    expect(names.filter((n) => n.includes("cpu-package"))).toEqual(["<sys>-cpu-package-0"]);
    expect(names.filter((n) => n.includes("cpu-core")).length).toBe(8);
    expect(names.some((n) => n.includes("numa-node"))).toBe(false);
    expect(names.some((n) => n.includes("loop0"))).toBe(false);
    expect(edges(g, ContainsSchema.typeName)).toContain("disk-nvme0n1 -> partition-nvme0n1p3");
    expect(edges(g, ContainsSchema.typeName)).toContain("net-docker0 -> net-veth3a9f2c1");
    expect(edges(g, ConnectedToSchema.typeName).sort()).toEqual(["disk-nvme0n1 -> system", "net-wlp0s20f3 -> system"]);
    // 8 cores on one socket: every ordered pair shares it.
    expect(edges(g, "antimetal.hardware.v1.SocketSharing").length).toBe(8 * 7);
  });
});

describe("two-socket NUMA server with NVMe and bonded NICs", () => {
  test("matches the golden graph exactly", async () => {
    golden("numa-server", await graphOf("numa-server"));
  });

  test("falls back to /var/lib/dbus/machine-id for the name", async () => {
    const g = await graphOf("numa-server");
    expect(g.systemName).toBe("7d2e0b6c94a14f0f8d3a5c1e2b4f6a80");
    expect(g.resources.every((r) => r.metadata!.name === g.systemName || r.metadata!.name.startsWith(`${g.systemName}-`))).toBe(true);
  });

  test("NUMA topology: nodes, distances, core and device affinity", async () => {
    const g = await graphOf("numa-server");
    const numa = edges(g, NUMAAffinitySchema.typeName).sort();
    expect(numa).toEqual(
      [
        "cpu-core-0 -> numa-node-0",
        "cpu-core-1 -> numa-node-0",
        "cpu-core-4 -> numa-node-0",
        "cpu-core-5 -> numa-node-0",
        "cpu-core-2 -> numa-node-1",
        "cpu-core-3 -> numa-node-1",
        "cpu-core-6 -> numa-node-1",
        "cpu-core-7 -> numa-node-1",
        "memory -> numa-node-0",
        "memory -> numa-node-1",
        "numa-node-0 -> numa-node-1",
        "numa-node-1 -> numa-node-0",
        "disk-nvme0n1 -> numa-node-1",
        "disk-sda -> numa-node-0",
        "net-eno1 -> numa-node-0",
        "net-eno2 -> numa-node-0",
      ].sort(),
    );
    const d01 = g.relationships.find(
      (r) =>
        r.type?.type === NUMAAffinitySchema.typeName && r.subject?.name.endsWith("numa-node-0") && r.object?.name.endsWith("numa-node-1"),
    )!;
    expect(anyUnpack(d01.predicate!, NUMAAffinitySchema)).toMatchObject({ nodeId: 1, distance: 21 });
  });

  test("the bond contains its slaves; slaves sit on PCIe, the bond on no bus", async () => {
    const g = await graphOf("numa-server");
    const contains = g.relationships.filter((r) => r.type?.type === ContainsSchema.typeName && r.subject?.name.endsWith("-net-bond0"));
    expect(contains.map((r) => r.object!.name.slice(g.systemName.length + 1))).toEqual(["net-eno1", "net-eno2"]);
    expect(contains.every((r) => anyUnpack(r.predicate!, ContainsSchema)!.type === ContainmentType.LOGICAL)).toBe(true);
    const bond = g.resources.find((r) => r.metadata!.name.endsWith("-net-bond0"))!;
    const spec = anyUnpack(bond.spec!, NetworkInterfaceNodeSchema)!;
    expect(spec.type).toBe(InterfaceType.BOND);
    expect(spec.ipv4Addresses).toEqual(["10.20.0.15"]);
    const bus = g.relationships
      .filter((r) => r.type?.type === ConnectedToSchema.typeName)
      .map((r) => [r.subject!.name.slice(g.systemName.length + 1), anyUnpack(r.predicate!, ConnectedToSchema)!])
      .map(([n, p]) => [n, (p as { busType: BusType }).busType, (p as { busAddress: string }).busAddress]);
    expect(bus.sort()).toEqual([
      ["disk-nvme0n1", BusType.NVME, "0000:81:00.0"],
      ["disk-sda", BusType.SATA, "0:0:0:0"],
      ["net-eno1", BusType.PCIE, "0000:18:00.0"],
      ["net-eno2", BusType.PCIE, "0000:18:00.1"],
    ]);
  });

  test("per-package core counts", async () => {
    const g = await graphOf("numa-server");
    const pkgs = g.resources.filter((r) => r.type?.type === "antimetal.hardware.v1.CPUPackageNode");
    expect(pkgs.length).toBe(2);
    // 2 sockets x 2 cores x 2 threads: SocketSharing = 2 x (4 x 3)
    expect(edges(g, "antimetal.hardware.v1.SocketSharing").length).toBe(24);
  });
});

test("the build is deterministic", async () => {
  const a = renderGraph(await graphOf("numa-server"));
  const b = renderGraph(await graphOf("numa-server"));
  expect(JSON.stringify(a)).toBe(JSON.stringify(b));
});
