// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// disk collector: /proc/diskstats for whole disks, with per-device deltas, rates, IOPS and utilization.

import type { HostPaths, PointCollector } from "../collector.ts";
import { type DeltaMetadata, DeltaTracker, rate, recordDeltas } from "../delta.ts";
import { type DiskstatsRecord, parseDiskstats } from "../parsers/diskstats.ts";
import { parseUdevData } from "../parsers/udev.ts";
import { BaseCollector, type CollectorOptions, type HasExtra, spec, withExtra } from "./common.ts";

/** Every diskstats row with node_exporter's field set, for the exposition. */
export interface DiskExtra {
  records: DiskstatsRecord[];
  /** udev properties by device, from <udevDataPath>/b<major>:<minor> (absent when there is no entry). */
  udev: Map<string, Map<string, string>>;
}

/** Where udev keeps its database (node_exporter's --path.udev.data). */
export const DEFAULT_UDEV_DATA_PATH = "/run/udev/data";

export interface DiskDeltaData extends DeltaMetadata {
  reads_completed: bigint;
  writes_completed: bigint;
  reads_merged: bigint;
  writes_merged: bigint;
  sectors_read: bigint;
  sectors_written: bigint;
  read_time: bigint;
  write_time: bigint;
  io_time: bigint;
  weighted_io_time: bigint;
  reads_per_sec?: number;
  writes_per_sec?: number;
  sectors_read_per_sec?: number;
  sectors_written_per_sec?: number;
  iops?: number;
  read_bytes_per_sec?: number;
  write_bytes_per_sec?: number;
  utilization?: number;
  avg_queue_size?: number;
  avg_read_latency?: number;
  avg_write_latency?: number;
}

export interface DiskStats {
  device: string;
  major: number;
  minor: number;
  reads_completed: bigint;
  reads_merged: bigint;
  sectors_read: bigint;
  read_time: bigint;
  writes_completed: bigint;
  writes_merged: bigint;
  sectors_written: bigint;
  write_time: bigint;
  i_os_in_progress: bigint;
  io_time: bigint;
  weighted_io_time: bigint;
  delta?: DiskDeltaData;
}

const KEYS = [
  "readsCompleted",
  "writesCompleted",
  "readsMerged",
  "writesMerged",
  "sectorsRead",
  "sectorsWritten",
  "readTimeMs",
  "writeTimeMs",
  "ioTimeMs",
  "weightedIoTimeMs",
] as const;

/**
 * /proc/diskstats, whole disks only; per-device deltas and rates. Baseline updated on every collection
 * (the original's pattern b).
 */
export class DiskCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("disk", "Disk I/O Statistics Collector", true, true, "2.6.0");
  private readonly tracker: DeltaTracker<Map<string, DiskstatsRecord>>;
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc"]);
    this.tracker = new DeltaTracker(this.deltaConfig);
  }
  async collect(signal: AbortSignal): Promise<DiskStats[] & HasExtra<DiskExtra>> {
    const text = await this.readCritical(`${this.paths.proc}/diskstats`, signal);
    const now = this.now();
    const parsed = parseDiskstats(text);
    this.malformed(parsed.malformed);
    this.badNumbers("diskstats", parsed.badNumbers);
    const should = this.tracker.shouldCalculate(now);
    const prev = this.tracker.last;
    const out = parsed.disks.map((d): DiskStats => {
      const s: DiskStats = {
        device: d.device,
        major: d.major,
        minor: d.minor,
        reads_completed: d.readsCompleted,
        reads_merged: d.readsMerged,
        sectors_read: d.sectorsRead,
        read_time: d.readTimeMs,
        writes_completed: d.writesCompleted,
        writes_merged: d.writesMerged,
        sectors_written: d.sectorsWritten,
        write_time: d.writeTimeMs,
        i_os_in_progress: d.iosInProgress,
        io_time: d.ioTimeMs,
        weighted_io_time: d.weightedIoTimeMs,
      };
      const p = should.ok ? prev?.get(d.device) : undefined;
      if (p) {
        const { deltas: x, reset } = recordDeltas(d as unknown as Record<string, bigint>, p as unknown as Record<string, bigint>, KEYS);
        const dd: DiskDeltaData = {
          ...this.tracker.metadata(now, should.intervalMs, reset),
          reads_completed: x.readsCompleted,
          writes_completed: x.writesCompleted,
          reads_merged: x.readsMerged,
          writes_merged: x.writesMerged,
          sectors_read: x.sectorsRead,
          sectors_written: x.sectorsWritten,
          read_time: x.readTimeMs,
          write_time: x.writeTimeMs,
          io_time: x.ioTimeMs,
          weighted_io_time: x.weightedIoTimeMs,
        };
        if (!reset) {
          const secs = should.intervalMs / 1000;
          dd.reads_per_sec = rate(x.readsCompleted, secs);
          dd.writes_per_sec = rate(x.writesCompleted, secs);
          dd.sectors_read_per_sec = rate(x.sectorsRead, secs);
          dd.sectors_written_per_sec = rate(x.sectorsWritten, secs);
          dd.iops = dd.reads_per_sec + dd.writes_per_sec;
          dd.read_bytes_per_sec = dd.sectors_read_per_sec * 512;
          dd.write_bytes_per_sec = dd.sectors_written_per_sec * 512;
          dd.utilization = Math.min(100, (Number(x.ioTimeMs) / (secs * 1000)) * 100);
          dd.avg_queue_size = Number(x.weightedIoTimeMs) / (secs * 1000);
          dd.avg_read_latency = x.readsCompleted > 0n ? Math.trunc(Number(x.readTimeMs) / Number(x.readsCompleted)) : 0;
          dd.avg_write_latency = x.writesCompleted > 0n ? Math.trunc(Number(x.writeTimeMs) / Number(x.writesCompleted)) : 0;
        }
        s.delta = dd;
      }
      return s;
    });
    if (this.deltaConfig.mode === "enabled") this.tracker.commit(new Map(parsed.disks.map((d) => [d.device, d])), now);
    const udevDir = this.opts.udevDataPath ?? DEFAULT_UDEV_DATA_PATH;
    const udevTexts = await Promise.all(parsed.disks.map((d) => this.io.readOptional(`${udevDir}/b${d.major}:${d.minor}`, signal)));
    const udev = new Map<string, Map<string, string>>();
    for (const [i, d] of parsed.disks.entries()) {
      const t = udevTexts[i];
      if (t !== undefined) udev.set(d.device, parseUdevData(t));
    }
    return withExtra<DiskStats[], DiskExtra>(out, { records: parsed.disks, udev });
  }
}
