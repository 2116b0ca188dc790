// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The host graph of the machine the tests run on, published into a real store.

import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { refPath, resourceRefOf } from "../../src/graph/keys.ts";
import { createHardwareCollectors } from "../../src/hostgraph/collect.ts";
import { createHostGraphComponent } from "../../src/hostgraph/manager.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { DEFAULT_HOST_PATHS } from "../../src/perf/collector.ts";
import { SystemNodeSchema } from "../../src/proto/gen/antimetal/hardware/v1/hardware_pb.ts";
import { openStore } from "../../src/store/index.ts";

const dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), "hostgraph-live-"));
const store = openStore({ dataDirectory, logger: silentLogger });
afterAll(() => {
  store.close();
  fs.rmSync(dataDirectory, { recursive: true, force: true });
});

test("this machine: named by its machine-id, one node per CPU, disk and interface, closed under relationships; the next refresh writes nothing", async () => {
  const hg = createHostGraphComponent({
    store,
    paths: DEFAULT_HOST_PATHS,
    intervalMs: 3_600_000,
    nodeName: os.hostname(),
    logger: silentLogger,
  });
  const r = await hg.refresh();
  expect(r.errors).toEqual({});
  const machineId = fs.readFileSync("/etc/machine-id", "utf8").trim();
  expect(machineId).not.toBe("");
  expect(r.systemName).toBe(machineId);

  const resources = store.listResources([{ kind: "", type: "antimetal.hardware.v1" } as never]);
  const of = (t: string) => resources.filter((x) => x.type?.type === `antimetal.hardware.v1.${t}`).map((x) => x.metadata!.name);
  expect(of("SystemNode")).toEqual([machineId]);
  const sys = anyUnpack(resources.find((x) => x.type?.type === "antimetal.hardware.v1.SystemNode")!.spec!, SystemNodeSchema)!;
  expect(sys.kernelVersion).toBe(fs.readFileSync("/proc/sys/kernel/osrelease", "utf8").trim());
  expect(Number(sys.bootTime!.seconds)).toBe(Number(/^btime (\d+)$/m.exec(fs.readFileSync("/proc/stat", "utf8"))![1]));

  const c = createHardwareCollectors(DEFAULT_HOST_PATHS);
  const signal = new AbortController().signal;
  const [cpu, disks, nets] = await Promise.all([c.cpu_info.collect(signal), c.disk_info.collect(signal), c.network_info.collect(signal)]);
  expect(of("CPUCoreNode").length).toBe(cpu.logical_cores);
  expect(of("CPUCoreNode").length).toBe(os.cpus().length);
  expect(of("DiskDeviceNode").sort()).toEqual(disks.map((d) => `${machineId}-disk-${d.device}`).sort());
  expect(of("NetworkInterfaceNode").sort()).toEqual(
    fs
      .readdirSync("/sys/class/net")
      .map((n) => `${machineId}-net-${n}`)
      .sort(),
  );
  expect(of("NetworkInterfaceNode").length).toBe(nets.length);

  // every relationship this host wrote joins two of its resources
  const keys = new Set(resources.map((r) => refPath(resourceRefOf(r))));
  const rels = ["Contains", "ContainedBy", "SocketSharing", "ConnectedTo", "BusConnection", "NUMAAffinity"].flatMap((p) => {
    try {
      return store.getRelationships(undefined, undefined, `antimetal.hardware.v1.${p}`);
    } catch {
      return [];
    }
  });
  expect(rels.length).toBe(r.relationships);
  for (const rel of rels) {
    expect(keys.has(refPath(rel.subject))).toBe(true);
    expect(keys.has(refPath(rel.object))).toBe(true);
  }

  const depth = store.outbox.stats("instance").depth;
  const again = await hg.refresh();
  expect([again.upserted, again.deleted, again.relationshipsAdded, again.relationshipsDeleted]).toEqual([0, 0, 0, 0]);
  expect(store.outbox.stats("instance").depth).toBe(depth);
});
