// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// load collector: load averages and process counts from /proc/loadavg, uptime and blocked procs from
// /proc/stat.

import type { HostPaths, PointCollector } from "../collector.ts";
import { parseLoadavg } from "../parsers/loadavg.ts";
import { fields } from "../parsers/num.ts";
import { parseStat } from "../parsers/stat.ts";
import { BaseCollector, type CollectorOptions, decimalSecondsToNanos, spec } from "./common.ts";

/** JSON of LoadStats (uptime is nanoseconds, as Go marshals a time.Duration). */
export interface LoadStats {
  load_1min: number;
  load_5min: number;
  load_15min: number;
  running_procs: number;
  total_procs: number;
  blocked_procs: number;
  last_pid: number;
  uptime: bigint;
}

/** loadavg (critical), uptime and procs_blocked from stat (optional). */
export class LoadCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("load", "System Load Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["proc"]);
  }
  async collect(signal: AbortSignal): Promise<LoadStats> {
    const p = this.paths.proc;
    const [loadTxt, upTxt, statTxt] = await Promise.all([
      this.io.read(`${p}/loadavg`, signal).catch((e: Error) => {
        throw signal.aborted ? e : new Error(`failed to read ${p}/loadavg: ${e.message}`);
      }),
      this.io.readOptional(`${p}/uptime`, signal),
      this.io.readOptional(`${p}/stat`, signal),
    ]);
    const l = parseLoadavg(loadTxt);
    let uptime = 0n;
    if (upTxt !== undefined) {
      const f = fields(upTxt);
      if (f.length === 2) uptime = decimalSecondsToNanos(f[0]!);
      else if (upTxt.trim() !== "") this.malformed(1);
    }
    const blocked = statTxt !== undefined ? parseStat(statTxt).procsBlocked : 0;
    return {
      load_1min: l.load1,
      load_5min: l.load5,
      load_15min: l.load15,
      running_procs: l.running,
      total_procs: l.total,
      blocked_procs: blocked,
      last_pid: l.lastPid,
      uptime,
    };
  }
}
