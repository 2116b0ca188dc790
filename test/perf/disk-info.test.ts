// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_disk_info from the disk collector: one series per disk node_exporter keeps, major/minor from
// /proc/diskstats and path, wwn, model, serial, revision from the udev database (empty without an entry).

import { afterAll, expect, test } from "bun:test";
import { metricEvent } from "../../src/perf/collector.ts";
import { DiskCollector } from "../../src/perf/collectors/disk.ts";
import { PrometheusExposition } from "../../src/perf/exposition.ts";
import { cleanupTrees, makeTree, pathsFor, sig } from "./tree.ts";

afterAll(cleanupTrees);

const DISKSTATS = `   8       0 sda 100 0 800 10 50 0 400 20 0 30 30 0 0 0 0
   8       1 sda1 90 0 700 9 40 0 300 18 0 25 27 0 0 0 0
 259       0 nvme0n1 10 0 80 1 5 0 40 2 0 3 3 0 0 0 0
`;

test("node_disk_info: udev labels where an entry exists, empty labels elsewhere, partitions left out", async () => {
  const root = makeTree({
    "proc/diskstats": DISKSTATS,
    "run/udev/data/b8:0":
      "S:disk/by-id/ata-ST4000\nE:ID_MODEL=ST4000DM004\nE:SCSI_IDENT_SERIAL=ZFN0ABCD\nE:ID_PATH=pci-0000:00:17.0-ata-1\nE:ID_WWN=0x5000c500a1b2c3d4\nE:ID_REVISION=0001\n",
  });
  const data = await new DiskCollector(pathsFor(root), { udevDataPath: `${root}/run/udev/data` }).collect(sig());
  const expo = new PrometheusExposition();
  expo.accept(metricEvent("disk", data, "gauge", "n"));
  const text = await expo.render();
  expect(text).toContain("# HELP node_disk_info Info of /sys/block/<block_device>.");
  expect(text).toContain(
    'node_disk_info{device="sda",major="8",minor="0",model="ST4000DM004",path="pci-0000:00:17.0-ata-1",revision="0001",serial="ZFN0ABCD",wwn="0x5000c500a1b2c3d4"} 1',
  );
  expect(text).toContain('node_disk_info{device="nvme0n1",major="259",minor="0",model="",path="",revision="",serial="",wwn=""} 1');
  expect(text).not.toContain('node_disk_info{device="sda1"');
});
