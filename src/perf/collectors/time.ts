// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// time and timex collectors: the wall clock, time zone and clocksources (node_time_*), and the kernel's
// clock discipline from adjtimex(2) (node_timex_*).

import { AdjtimexError, readTimex } from "../adjtimex.ts";
import type { HostPaths, PointCollector } from "../collector.ts";
import { clocksourceDevice, parseAvailableClocksources, parseCurrentClocksource } from "../parsers/clocksource.ts";
import type { TimexStats } from "../parsers/timex.ts";
import { BaseCollector, type CollectorOptions, spec } from "./common.ts";

export interface Clocksource {
  /** N of /sys/devices/system/clocksource/clocksourceN. */
  device: string;
  available: string[];
  current: string;
}

/** JSON of the time metric type. */
export interface TimeStats {
  /** Wall clock at collection, seconds since the epoch. */
  time_seconds: number;
  /** Zone abbreviation (UTC, CET) of this process's local time, as Go's time.Now().Zone() names it. */
  time_zone: string;
  time_zone_offset_seconds: number;
  clocksources: Clocksource[];
}

/** Abbreviation and offset east of UTC of `at` in this process's local zone (TZ, else /etc/localtime). */
export function localZone(at: Date): { name: string; offsetSeconds: number } {
  const offsetSeconds = -at.getTimezoneOffset() * 60;
  const part = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(at).find((p) => p.type === "timeZoneName");
  let name = part?.value ?? "";
  if (name === "" || name === "GMT" || /^GMT[+-]/.test(name)) {
    // ICU has no abbreviation for the zone: Go's zoneinfo names UTC "UTC" and others by their offset ("+03").
    if (offsetSeconds === 0) name = "UTC";
    else {
      const a = Math.abs(offsetSeconds);
      const hh = String(Math.floor(a / 3600)).padStart(2, "0");
      const mm = Math.floor((a % 3600) / 60);
      name = `${offsetSeconds < 0 ? "-" : "+"}${hh}${mm ? String(mm).padStart(2, "0") : ""}`;
    }
  }
  return { name, offsetSeconds };
}

/** Wall clock, zone and /sys/devices/system/clocksource (absent: no clocksources). */
export class TimeCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("time", "Time Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["sys"]);
  }
  async collect(signal: AbortSignal): Promise<TimeStats> {
    const nowMs = this.now();
    const zone = localZone(new Date(nowMs));
    const dir = `${this.paths.sys}/devices/system/clocksource`;
    const clocksources: Clocksource[] = [];
    const entries = await this.io.listOptional(dir, signal);
    const devices = entries
      .map((e) => clocksourceDevice(e.name))
      .filter((d): d is string => d !== undefined)
      .sort((a, b) => Number(a) - Number(b));
    for (const device of devices) {
      const base = `${dir}/clocksource${device}`;
      const [avail, current] = await Promise.all([
        this.readCritical(`${base}/available_clocksource`, signal),
        this.readCritical(`${base}/current_clocksource`, signal),
      ]);
      clocksources.push({
        device,
        available: parseAvailableClocksources(avail),
        current: parseCurrentClocksource(current, `${base}/current_clocksource`),
      });
    }
    return { time_seconds: nowMs / 1000, time_zone: zone.name, time_zone_offset_seconds: zone.offsetSeconds, clocksources };
  }
}

/** adjtimex(2) read-only; a refused call (EPERM under a seccomp profile) yields null, as node_exporter serves nothing then. */
export class TimexCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("timex", "Timex Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, []);
  }
  async collect(_signal: AbortSignal): Promise<TimexStats | null> {
    try {
      return readTimex();
    } catch (e) {
      if (e instanceof AdjtimexError && e.code === "EPERM") return null;
      throw e;
    }
  }
}
