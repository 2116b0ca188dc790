// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of the /proc/diskstats parser: whole disks only, exact u64 counters, malformed lines, and
// the partition rule (md arrays and optical drives count as whole disks).

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { isPartition, parseDiskstats } from "./diskstats.ts";

const SAMPLE = readFileSync(new URL("../../../test/fixtures/perf/samples/diskstats", import.meta.url), "utf8");

describe("parseDiskstats (acceptance 17)", () => {
  test("10-line sample -> whole disks only, sda exact", () => {
    const r = parseDiskstats(SAMPLE);
    expect(r.disks.map((d) => d.device)).toEqual(["sda", "sdb", "nvme0n1", "mmcblk0", "loop0", "dm-0"]);
    const sda = r.disks[0]!;
    expect([sda.major, sda.minor]).toEqual([8, 0]);
    expect([
      sda.readsCompleted,
      sda.readsMerged,
      sda.sectorsRead,
      sda.readTimeMs,
      sda.writesCompleted,
      sda.writesMerged,
      sda.sectorsWritten,
      sda.writeTimeMs,
      sda.iosInProgress,
      sda.ioTimeMs,
      sda.weightedIoTimeMs,
    ]).toEqual([1234n, 567n, 890123n, 4567n, 890n, 123n, 456789n, 1234n, 0n, 5678n, 9012n]);
    expect(r.disks[2]!.discardsCompleted).toBe(12n);
    expect(r.disks[2]!.flushTimeMs).toBe(7n);
  });
  test("empty, only partitions, short line and bad major", () => {
    expect(parseDiskstats("").disks).toEqual([]);
    expect(parseDiskstats("8 1 sda1 1 1 1 1 1 1 1 1 1 1 1\n").disks).toEqual([]);
    const r = parseDiskstats("8 0 sda 1 2\nX 0 sdb 1 1 1 1 1 1 1 1 1 1 1\n");
    expect(r.disks).toEqual([]);
    expect(r.malformed).toBe(2);
  });
  test("bad counters become 0 but the device stays; u64 max is exact", () => {
    const r = parseDiskstats("8 0 sda abc def 1 1 1 1 1 1 1 1 1\n8 16 sdb 18446744073709551615 0 0 0 0 0 0 0 0 0 0\n");
    expect(r.disks[0]!.readsCompleted).toBe(0n);
    expect(r.disks[0]!.sectorsRead).toBe(1n);
    expect(r.disks[1]!.readsCompleted).toBe(18446744073709551615n);
  });
  test("tabs between fields", () => {
    expect(parseDiskstats("8\t0\tsda\t1\t2\t3\t4\t5\t6\t7\t8\t9\t10\t11\n").disks[0]!.weightedIoTimeMs).toBe(11n);
  });
});

test("isPartition table", () => {
  const no = [
    "sda",
    "sdb",
    "vda",
    "hda",
    "xvda",
    "nvme0n1",
    "nvme1n1",
    "nvme10n1",
    "mmcblk0",
    "mmcblk1",
    "mmcblk10",
    "loop0",
    "loop1",
    "loop10",
    "dm-0",
    "dm-1",
    "dm-10",
    "",
    "sd",
    "nvme",
    "mmcblk",
    "loopback",
    "dm-",
  ];
  const yes = [
    "sda1",
    "sda2",
    "sdb10",
    "vda1",
    "hda3",
    "xvda1",
    "nvme0n1p1",
    "nvme0n1p2",
    "nvme1n1p10",
    "mmcblk0p1",
    "mmcblk0p2",
    "mmcblk1p5",
  ];
  for (const n of no) expect([n, isPartition(n)]).toEqual([n, false]);
  for (const n of yes) expect([n, isPartition(n)]).toEqual([n, true]);
});

test("fix: md RAID arrays and optical drives are whole disks", () => {
  expect(isPartition("md0")).toBe(false);
  expect(isPartition("sr0")).toBe(false);
  expect(isPartition("zram0")).toBe(false);
});

test("a counter that is not a number is 0 and counted in badNumbers; absent newer fields are not", () => {
  const r = parseDiskstats("   8       0 sda 1 2 NaN 4 5 6 7 8 9 10 11\n");
  expect(r.disks[0]!.sectorsRead).toBe(0n);
  expect(r.disks[0]!.readsMerged).toBe(2n);
  expect(r.disks[0]!.flushTimeMs).toBe(0n);
  expect(r.badNumbers).toBe(1);
  expect(parseDiskstats(SAMPLE).badNumbers).toBe(0);
});
