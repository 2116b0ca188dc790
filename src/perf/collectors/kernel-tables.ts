// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// conntrack, filefd and entropy collectors: sizes of kernel tables and pools (node_nf_conntrack_*,
// node_filefd_*, node_entropy_*).

import type { HostPaths, PointCollector } from "../collector.ts";
import { type ConntrackStat, parseConntrackStat, parseFileNr, parseSingleU64 } from "../parsers/kernel-tables.ts";
import { BaseCollector, type CollectorOptions, spec } from "./common.ts";

/** JSON of the conntrack metric type. */
export interface ConntrackStats {
  entries: bigint;
  entries_limit: bigint;
  /** Per-CPU counters summed; null when /proc/net/stat/nf_conntrack is absent. */
  stat: ConntrackStat | null;
}

/** nf_conntrack table use; null when the module is not loaded (no nf_conntrack_count), as node_exporter serves nothing then. */
export class ConntrackCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("conntrack", "Conntrack Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc"]);
  }
  async collect(signal: AbortSignal): Promise<ConntrackStats | null> {
    const p = this.paths.proc;
    const countFile = `${p}/sys/net/netfilter/nf_conntrack_count`;
    const maxFile = `${p}/sys/net/netfilter/nf_conntrack_max`;
    const statFile = `${p}/net/stat/nf_conntrack`;
    const [count, max, stat] = await Promise.all([
      this.io.readOptional(countFile, signal),
      this.io.readOptional(maxFile, signal),
      this.io.readOptional(statFile, signal),
    ]);
    if (count === undefined) return null;
    if (max === undefined) throw new Error(`${maxFile} is missing while ${countFile} exists`);
    return {
      entries: parseSingleU64(count, countFile),
      entries_limit: parseSingleU64(max, maxFile),
      stat: stat === undefined ? null : parseConntrackStat(stat, statFile),
    };
  }
}

/** JSON of the filefd metric type. */
export interface FilefdStats {
  allocated: bigint;
  maximum: bigint;
}

export class FilefdCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("filefd", "File Descriptor Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc"]);
  }
  async collect(signal: AbortSignal): Promise<FilefdStats> {
    const file = `${this.paths.proc}/sys/fs/file-nr`;
    const nr = parseFileNr(await this.readCritical(file, signal), file);
    return { allocated: nr.allocated, maximum: nr.maximum };
  }
}

/** JSON of the entropy metric type. */
export interface EntropyStats {
  available_bits: bigint;
  pool_size_bits: bigint;
}

export class EntropyCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("entropy", "Entropy Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc"]);
  }
  async collect(signal: AbortSignal): Promise<EntropyStats> {
    const dir = `${this.paths.proc}/sys/kernel/random`;
    const [avail, pool] = await Promise.all([
      this.readCritical(`${dir}/entropy_avail`, signal),
      this.readCritical(`${dir}/poolsize`, signal),
    ]);
    return {
      available_bits: parseSingleU64(avail, `${dir}/entropy_avail`),
      pool_size_bits: parseSingleU64(pool, `${dir}/poolsize`),
    };
  }
}
