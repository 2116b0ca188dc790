// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// A large host (2 sockets x 64 cores x SMT2, 4 NUMA nodes, 24 NVMe, 40 NICs) through the manager
// and the real store: the graph stays bounded and an unchanged refresh writes nothing.

import { expect, test } from "bun:test";
import { createHostGraphComponent } from "../../src/hostgraph/manager.ts";
import type { CpuCoreInput, DiskInfoInput, MemoryInfoInput, NetworkInfoInput } from "../../src/hostgraph/types.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { openStore } from "../../src/store/index.ts";
import { copyFixture } from "./helpers.ts";

test("a 256-CPU host publishes a bounded graph, and nothing on an unchanged refresh", async () => {
  const fx = copyFixture("numa-server"); // identity and host facts; the collectors below replace the hardware
  const store = openStore({ dataDirectory: "", logger: silentLogger });
  try {
    const cores: CpuCoreInput[] = [];
    let p = 0;
    for (let t = 0; t < 2; t++)
      for (let s = 0; s < 2; s++)
        for (let c = 0; c < 64; c++) cores.push({ processor: p++, core_id: c, physical_id: s, siblings: 128, cpu_mhz: 2000 + p });
    const mem: MemoryInfoInput = {
      total_bytes: 1n << 40n,
      numa_enabled: true,
      numa_balancing_available: true,
      numa_nodes: Array.from({ length: 4 }, (_, i) => ({
        node_id: i,
        total_bytes: 1n << 38n,
        cpus: Array.from({ length: 64 }, (_, j) => i * 64 + j),
        distances: [0, 1, 2, 3].map((k) => (k === i ? 10 : 32)),
      })),
    };
    const disks: DiskInfoInput[] = Array.from({ length: 24 }, (_, i) => ({
      device: `nvme${i}n1`,
      model: "m",
      vendor: "",
      size_bytes: 1n << 42n,
      block_size: 512,
      physical_block_size: 4096,
      rotational: false,
      queue_depth: 1023,
      scheduler: "none",
      partitions: [{ name: `nvme${i}n1p1`, size_bytes: 1n << 41n, start_sector: 2048n }],
    }));
    const nics: NetworkInfoInput[] = Array.from({ length: 40 }, (_, i) => ({
      interface: `ens${i}`,
      driver: "mlx5_core",
      mac_address: "02:00:00:00:00:01",
      speed: 100000,
      duplex: "full",
      mtu: 9000,
      type: "ethernet",
      oper_state: "up",
      carrier: true,
    }));
    const hg = createHostGraphComponent({
      store,
      paths: fx.paths,
      intervalMs: 3_600_000,
      nodeName: "n",
      logger: silentLogger,
      collectors: {
        cpu_info: {
          collect: async () => ({
            physical_cores: 128,
            logical_cores: 256,
            model_name: "x",
            vendor_id: "AuthenticAMD",
            cpu_family: 25,
            model: 1,
            stepping: 1,
            microcode: "",
            cpu_mhz: 2000,
            cpu_max_mhz: 3500,
            cache_size: "",
            cores,
          }),
        },
        memory_info: { collect: async () => mem },
        disk_info: { collect: async () => disks },
        network_info: { collect: async () => nics },
      },
    });
    const first = await hg.refresh();
    // 1 system + 2 packages + 256 cores + memory + 4 NUMA + 24 disks + 24 partitions + 40 NICs
    expect(first.resources).toBe(352);
    // no SocketSharing (128 logical CPUs per package is over the bound); containment both ways,
    // 256 core->NUMA + 4 memory->NUMA + 12 NUMA<->NUMA affinities; and nvme0n1, which the fixture's
    // sysfs shows on PCIe on node 1: ConnectedTo, BusConnection, NUMAAffinity
    expect(first.relationships).toBe(2 * (2 + 256 + 1 + 4 + 24 + 24 + 40) + 256 + 4 + 12 + 3);
    expect(store.outbox.stats("instance").depth).toBe(first.resources + first.relationships);
    const second = await hg.refresh();
    expect([second.upserted, second.deleted, second.relationshipsAdded, second.relationshipsDeleted]).toEqual([0, 0, 0, 0]);
  } finally {
    store.close();
    fx.cleanup();
  }
});
