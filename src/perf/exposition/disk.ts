// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_disk_* from the disk collector's diskstats rows, as node_exporter's diskstats collector.

import { getExtra } from "../collectors/common.ts";
import type { DiskstatsRecord } from "../parsers/diskstats.ts";
import { diskInfoLabels } from "../parsers/udev.ts";
import { type FamilyGroup, type Kind, n } from "./family.ts";

/** node_exporter's default diskstats device exclusion. */
const DISK_EXCLUDE = /^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$/;

export const diskFamilies: FamilyGroup = {
  name: "disk",
  types: ["disk"],
  define(d, fam) {
    const disks = () => (getExtra(d.get("disk"))?.records ?? []).filter((r) => !DISK_EXCLUDE.test(r.device));
    const diskFam = (name: string, type: Kind, help: string, f: (r: DiskstatsRecord) => number) =>
      fam(name, type, help, () => disks().map((r) => ({ labels: { device: r.device }, value: f(r) })));
    diskFam("node_disk_reads_completed_total", "counter", "The total number of reads completed successfully.", (r) => n(r.readsCompleted));
    diskFam("node_disk_reads_merged_total", "counter", "The total number of reads merged.", (r) => n(r.readsMerged));
    diskFam("node_disk_read_bytes_total", "counter", "The total number of bytes read successfully.", (r) => n(r.sectorsRead) * 512);
    diskFam(
      "node_disk_read_time_seconds_total",
      "counter",
      "The total number of seconds spent by all reads.",
      (r) => n(r.readTimeMs) / 1000,
    );
    diskFam("node_disk_writes_completed_total", "counter", "The total number of writes completed successfully.", (r) =>
      n(r.writesCompleted),
    );
    diskFam("node_disk_writes_merged_total", "counter", "The number of writes merged.", (r) => n(r.writesMerged));
    diskFam(
      "node_disk_written_bytes_total",
      "counter",
      "The total number of bytes written successfully.",
      (r) => n(r.sectorsWritten) * 512,
    );
    diskFam(
      "node_disk_write_time_seconds_total",
      "counter",
      "This is the total number of seconds spent by all writes.",
      (r) => n(r.writeTimeMs) / 1000,
    );
    diskFam("node_disk_io_now", "gauge", "The number of I/Os currently in progress.", (r) => n(r.iosInProgress));
    diskFam("node_disk_io_time_seconds_total", "counter", "Total seconds spent doing I/Os.", (r) => n(r.ioTimeMs) / 1000);
    diskFam(
      "node_disk_io_time_weighted_seconds_total",
      "counter",
      "The weighted # of seconds spent doing I/Os.",
      (r) => n(r.weightedIoTimeMs) / 1000,
    );
    diskFam("node_disk_discards_completed_total", "counter", "The total number of discards completed successfully.", (r) =>
      n(r.discardsCompleted),
    );
    diskFam("node_disk_discards_merged_total", "counter", "The total number of discards merged.", (r) => n(r.discardsMerged));
    diskFam("node_disk_discarded_sectors_total", "counter", "The total number of sectors discarded successfully.", (r) =>
      n(r.sectorsDiscarded),
    );
    diskFam(
      "node_disk_discard_time_seconds_total",
      "counter",
      "This is the total number of seconds spent by all discards.",
      (r) => n(r.discardTimeMs) / 1000,
    );
    diskFam("node_disk_flush_requests_total", "counter", "The total number of flush requests completed successfully", (r) =>
      n(r.flushesCompleted),
    );
    diskFam(
      "node_disk_flush_requests_time_seconds_total",
      "counter",
      "This is the total number of seconds spent by all flush requests.",
      (r) => n(r.flushTimeMs) / 1000,
    );
    fam("node_disk_info", "gauge", "Info of /sys/block/<block_device>.", () => {
      const udev = getExtra(d.get("disk"))?.udev;
      return disks().map((r) => ({
        labels: { device: r.device, major: String(r.major), minor: String(r.minor), ...diskInfoLabels(udev?.get(r.device)) },
        value: 1,
      }));
    });
  },
};
