// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Parser for /proc/diskstats: whole-disk records (times in ms, 512-byte sectors, discard/flush fields
// when present) and the partition rule, fixed for md, sr, nbd, zram and rbd devices.

import { CountingU64, fields, lines } from "./num.ts";

/** One whole-disk line of /proc/diskstats; times in milliseconds, sectors of 512 bytes. */
export interface DiskstatsRecord {
  device: string;
  major: number;
  minor: number;
  readsCompleted: bigint;
  readsMerged: bigint;
  sectorsRead: bigint;
  readTimeMs: bigint;
  writesCompleted: bigint;
  writesMerged: bigint;
  sectorsWritten: bigint;
  writeTimeMs: bigint;
  iosInProgress: bigint;
  ioTimeMs: bigint;
  weightedIoTimeMs: bigint;
  /** Kernel 4.18+ discard fields and 5.5+ flush fields; 0 when absent. */
  discardsCompleted: bigint;
  discardsMerged: bigint;
  sectorsDiscarded: bigint;
  discardTimeMs: bigint;
  flushesCompleted: bigint;
  flushTimeMs: bigint;
}

/**
 * The original's partition rule (TestIsPartition), with one fix: md, sr, nbd, zram and rbd devices
 * are whole disks even though their names end in a digit (the original dropped md0 RAID arrays and
 * sr0 drives as "partitions").
 */
export function isPartition(name: string): boolean {
  if (name === "") return false;
  if (name.startsWith("loop") || name.startsWith("dm-")) return false;
  if (name.includes("nvme") || name.includes("mmcblk")) {
    const p = name.lastIndexOf("p");
    if (p <= 0 || p === name.length - 1) return false;
    return /^\d+$/.test(name.slice(p + 1));
  }
  if (/^(md|sr|nbd|zram|rbd)\d+$/.test(name)) return false;
  const last = name.charCodeAt(name.length - 1);
  return last >= 48 && last <= 57;
}

/**
 * Parses /proc/diskstats. Lines with fewer than 14 fields or a bad major/minor are skipped and counted;
 * partitions are left out unless `includePartitions`. Bad counters become 0 (the device is kept) and are
 * counted in `badNumbers`.
 */
export function parseDiskstats(
  text: string,
  opts: { includePartitions?: boolean } = {},
): { disks: DiskstatsRecord[]; malformed: number; badNumbers: number } {
  const disks: DiskstatsRecord[] = [];
  let malformed = 0;
  const num = new CountingU64();
  const u64 = (s: string | undefined) => num.read(s);
  for (const line of lines(text)) {
    const f = fields(line);
    if (f.length === 0) continue;
    if (f.length < 14) {
      malformed++;
      continue;
    }
    if (!/^\d+$/.test(f[0]!) || !/^\d+$/.test(f[1]!)) {
      malformed++;
      continue;
    }
    const device = f[2]!;
    if (!opts.includePartitions && isPartition(device)) continue;
    disks.push({
      device,
      major: Number(f[0]),
      minor: Number(f[1]),
      readsCompleted: u64(f[3]),
      readsMerged: u64(f[4]),
      sectorsRead: u64(f[5]),
      readTimeMs: u64(f[6]),
      writesCompleted: u64(f[7]),
      writesMerged: u64(f[8]),
      sectorsWritten: u64(f[9]),
      writeTimeMs: u64(f[10]),
      iosInProgress: u64(f[11]),
      ioTimeMs: u64(f[12]),
      weightedIoTimeMs: u64(f[13]),
      discardsCompleted: u64(f[14]),
      discardsMerged: u64(f[15]),
      sectorsDiscarded: u64(f[16]),
      discardTimeMs: u64(f[17]),
      flushesCompleted: u64(f[18]),
      flushTimeMs: u64(f[19]),
    });
  }
  return { disks, malformed, badNumbers: num.bad };
}
