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

type DiskCounter = Exclude<keyof DiskstatsRecord, "device" | "major" | "minor">;

/**
 * node_disk_<name>: its type, the diskstats field and the unit to convert it from (milliseconds to
 * seconds, 512-byte sectors to bytes, or none), and its help text.
 */
const DISK_FAMILIES: [name: string, type: Kind, field: DiskCounter, from: "ms" | "sectors" | "", help: string][] = [
  ["reads_completed_total", "counter", "readsCompleted", "", "The total number of reads completed successfully."],
  ["reads_merged_total", "counter", "readsMerged", "", "The total number of reads merged."],
  ["read_bytes_total", "counter", "sectorsRead", "sectors", "The total number of bytes read successfully."],
  ["read_time_seconds_total", "counter", "readTimeMs", "ms", "The total number of seconds spent by all reads."],
  ["writes_completed_total", "counter", "writesCompleted", "", "The total number of writes completed successfully."],
  ["writes_merged_total", "counter", "writesMerged", "", "The number of writes merged."],
  ["written_bytes_total", "counter", "sectorsWritten", "sectors", "The total number of bytes written successfully."],
  ["write_time_seconds_total", "counter", "writeTimeMs", "ms", "This is the total number of seconds spent by all writes."],
  ["io_now", "gauge", "iosInProgress", "", "The number of I/Os currently in progress."],
  ["io_time_seconds_total", "counter", "ioTimeMs", "ms", "Total seconds spent doing I/Os."],
  ["io_time_weighted_seconds_total", "counter", "weightedIoTimeMs", "ms", "The weighted # of seconds spent doing I/Os."],
  ["discards_completed_total", "counter", "discardsCompleted", "", "The total number of discards completed successfully."],
  ["discards_merged_total", "counter", "discardsMerged", "", "The total number of discards merged."],
  ["discarded_sectors_total", "counter", "sectorsDiscarded", "", "The total number of sectors discarded successfully."],
  ["discard_time_seconds_total", "counter", "discardTimeMs", "ms", "This is the total number of seconds spent by all discards."],
  ["flush_requests_total", "counter", "flushesCompleted", "", "The total number of flush requests completed successfully"],
  ["flush_requests_time_seconds_total", "counter", "flushTimeMs", "ms", "This is the total number of seconds spent by all flush requests."],
];

/** A diskstats counter in node_exporter's unit. */
function converted(v: bigint, from: "ms" | "sectors" | ""): number {
  if (from === "ms") return n(v) / 1000;
  if (from === "sectors") return n(v) * 512;
  return n(v);
}

export const diskFamilies: FamilyGroup = {
  name: "disk",
  types: ["disk"],
  define(d, fam) {
    const disks = () => (getExtra(d.get("disk"))?.records ?? []).filter((r) => !DISK_EXCLUDE.test(r.device));
    for (const [name, type, field, from, help] of DISK_FAMILIES)
      fam(`node_disk_${name}`, type, help, () => disks().map((r) => ({ labels: { device: r.device }, value: converted(r[field], from) })));
    fam("node_disk_info", "gauge", "Info of /sys/block/<block_device>.", () => {
      const udev = getExtra(d.get("disk"))?.udev;
      return disks().map((r) => ({
        labels: { device: r.device, major: String(r.major), minor: String(r.minor), ...diskInfoLabels(udev?.get(r.device)) },
        value: 1,
      }));
    });
  },
};
