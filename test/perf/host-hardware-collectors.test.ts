// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// thermal_zone, bonding, edac and mdstat collectors against fixture trees (this VM has none of these
// devices), and the exact node_exporter 1.5 text their families render to; without the files nothing is served.

import { afterAll, describe, expect, test } from "bun:test";
import { type MetricType, metricEvent } from "../../src/perf/collector.ts";
import { BondingCollector, EdacCollector, MdstatCollector, ThermalZoneCollector } from "../../src/perf/collectors/host-hardware.ts";
import { PrometheusExposition } from "../../src/perf/exposition.ts";
import { cleanupTrees, makeTree, pathsFor, sig } from "./tree.ts";

afterAll(cleanupTrees);

const HW = {
  "sys/class/thermal/thermal_zone0/type": "acpitz\n",
  "sys/class/thermal/thermal_zone0/temp": "27800\n",
  "sys/class/thermal/thermal_zone1/type": "x86_pkg_temp\n",
  "sys/class/thermal/thermal_zone1/temp": "-1500\n",
  "sys/class/thermal/thermal_zone2/type": "iwlwifi_1\n",
  // thermal_zone2/temp missing: the kernel answers ENODATA for a sensor that is off; the zone is skipped
  "sys/class/thermal/cooling_device0/type": "Processor\n",
  "sys/class/thermal/cooling_device0/cur_state": "0\n",
  "sys/class/thermal/cooling_device0/max_state": "3\n",
  "sys/class/net/bonding_masters": "bond0 int\n",
  "sys/class/net/bond0/bonding/slaves": "eth0 eth1 eth2\n",
  "sys/class/net/bond0/lower_eth0/bonding_slave/mii_status": "up\n",
  "sys/class/net/bond0/lower_eth1/bonding_slave/mii_status": "down\n",
  "sys/class/net/bond0/slave_eth2/bonding_slave/mii_status": "up\n",
  "sys/class/net/int/bonding/slaves": "\n",
  "sys/devices/system/edac/mc/mc0/ce_count": "3\n",
  "sys/devices/system/edac/mc/mc0/ce_noinfo_count": "1\n",
  "sys/devices/system/edac/mc/mc0/ue_count": "0\n",
  "sys/devices/system/edac/mc/mc0/ue_noinfo_count": "0\n",
  "sys/devices/system/edac/mc/mc0/csrow0/ce_count": "2\n",
  "sys/devices/system/edac/mc/mc0/csrow0/ue_count": "0\n",
  "proc/mdstat":
    "Personalities : [raid1]\nmd0 : active raid1 sdb1[1] sda1[0]\n      1048512 blocks super 1.2 [2/2] [UU]\n      \nmd1 : active raid1 sdd1[2] sdc1[0]\n      2096064 blocks [2/1] [U_]\n      [=>...]  recovery = 10.0% (209606/2096064) finish=1.0min speed=10000K/sec\n\nunused devices: <none>\n",
};

async function render(root: string): Promise<string> {
  const paths = pathsFor(root);
  const ex = new PrometheusExposition();
  for (const c of [new ThermalZoneCollector(paths), new BondingCollector(paths), new EdacCollector(paths), new MdstatCollector(paths)])
    ex.accept(metricEvent(c.spec.type as MetricType, (await c.collect(sig())) as never, "gauge", "n"));
  return ex.render();
}
const samplesOf = (text: string, prefix: string) => text.split("\n").filter((l) => l.startsWith(prefix));

describe("a host with thermal zones, a bond, EDAC and md arrays", () => {
  test("collect JSON", async () => {
    const paths = pathsFor(makeTree(HW));
    expect(await new ThermalZoneCollector(paths).collect(sig())).toEqual({
      zones: [
        { zone: "0", type: "acpitz", temp_celsius: 27.8 },
        { zone: "1", type: "x86_pkg_temp", temp_celsius: -1.5 },
      ],
      cooling_devices: [{ name: "0", type: "Processor", cur_state: 0n, max_state: 3n }],
    });
    expect(await new BondingCollector(paths).collect(sig())).toEqual([
      { master: "bond0", slaves: 3, active: 2 },
      { master: "int", slaves: 0, active: 0 },
    ]);
    const [mc] = await new EdacCollector(paths).collect(sig());
    expect(mc).toEqual({
      controller: "0",
      correctable_errors: 3n,
      uncorrectable_errors: 0n,
      noinfo_correctable_errors: 1n,
      noinfo_uncorrectable_errors: 0n,
      csrows: [{ csrow: "0", correctable_errors: 2n, uncorrectable_errors: 0n }],
    });
    expect((await new MdstatCollector(paths).collect(sig())).map((m) => [m.name, m.activity_state, m.blocks_synced])).toEqual([
      ["md0", "active", 1048512],
      ["md1", "recovering", 209606],
    ]);
  });

  test("renders node_exporter's families", async () => {
    const text = await render(makeTree(HW));
    expect(samplesOf(text, "node_thermal_zone_temp")).toEqual([
      'node_thermal_zone_temp{type="acpitz",zone="0"} 27.8',
      'node_thermal_zone_temp{type="x86_pkg_temp",zone="1"} -1.5',
    ]);
    expect(samplesOf(text, "node_cooling_device_")).toEqual([
      'node_cooling_device_cur_state{name="0",type="Processor"} 0',
      'node_cooling_device_max_state{name="0",type="Processor"} 3',
    ]);
    expect(samplesOf(text, "node_bonding_")).toEqual([
      'node_bonding_active{master="bond0"} 2',
      'node_bonding_active{master="int"} 0',
      'node_bonding_slaves{master="bond0"} 3',
      'node_bonding_slaves{master="int"} 0',
    ]);
    expect(samplesOf(text, "node_edac_")).toEqual([
      'node_edac_correctable_errors_total{controller="0"} 3',
      'node_edac_uncorrectable_errors_total{controller="0"} 0',
      'node_edac_csrow_correctable_errors_total{controller="0",csrow="unknown"} 1',
      'node_edac_csrow_correctable_errors_total{controller="0",csrow="0"} 2',
      'node_edac_csrow_uncorrectable_errors_total{controller="0",csrow="unknown"} 0',
      'node_edac_csrow_uncorrectable_errors_total{controller="0",csrow="0"} 0',
    ]);
    expect(samplesOf(text, 'node_md_state{device="md1"')).toEqual([
      'node_md_state{device="md1",state="active"} 0',
      'node_md_state{device="md1",state="inactive"} 0',
      'node_md_state{device="md1",state="recovering"} 1',
      'node_md_state{device="md1",state="resync"} 0',
      'node_md_state{device="md1",state="check"} 0',
    ]);
    expect(samplesOf(text, 'node_md_disks{device="md1"')).toEqual([
      'node_md_disks{device="md1",state="active"} 1',
      'node_md_disks{device="md1",state="failed"} 0',
      'node_md_disks{device="md1",state="spare"} 0',
    ]);
    expect(samplesOf(text, "node_md_blocks")).toEqual([
      'node_md_blocks{device="md0"} 1048512',
      'node_md_blocks{device="md1"} 2096064',
      'node_md_blocks_synced{device="md0"} 1048512',
      'node_md_blocks_synced{device="md1"} 209606',
    ]);
    expect(samplesOf(text, "node_md_disks_required")).toEqual([
      'node_md_disks_required{device="md0"} 2',
      'node_md_disks_required{device="md1"} 2',
    ]);
    expect(text).toContain("# TYPE node_edac_correctable_errors_total counter\n");
    expect(text).toContain("# HELP node_md_state Indicates the state of md-device.\n");
  });
});

describe("a host without these devices (this VM, most cloud VMs)", () => {
  test("empty data and no families at all", async () => {
    const root = makeTree({ "sys/class/thermal": { dir: true }, "sys/class/net/lo/mtu": "65536\n", "proc/stat": "" });
    const paths = pathsFor(root);
    expect(await new ThermalZoneCollector(paths).collect(sig())).toEqual({ zones: [], cooling_devices: [] });
    expect(await new BondingCollector(paths).collect(sig())).toEqual([]);
    expect(await new EdacCollector(paths).collect(sig())).toEqual([]);
    expect(await new MdstatCollector(paths).collect(sig())).toEqual([]);
    const text = await render(root);
    for (const gone of ["node_thermal_zone", "node_cooling_device", "node_bonding", "node_edac", "node_md_"])
      expect(text).not.toContain(gone);
  });
  test("a bond whose slave has no bonding_slave directory fails naming the file", async () => {
    const paths = pathsFor(makeTree({ "sys/class/net/bonding_masters": "bond0\n", "sys/class/net/bond0/bonding/slaves": "eth9\n" }));
    await expect(new BondingCollector(paths).collect(sig())).rejects.toThrow("slave_eth9/bonding_slave/mii_status");
  });
  test("a malformed mdstat fails naming the file and line", async () => {
    const paths = pathsFor(makeTree({ "proc/mdstat": "md0 : active raid1 sda[0]\n      x\n\n\n" }));
    await expect(new MdstatCollector(paths).collect(sig())).rejects.toThrow("/proc/mdstat line 2");
  });
});
