// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_time_* and node_timex_* from the time and timex collectors (node_exporter's time and timex collectors).

import type { TimexStats } from "../parsers/timex.ts";
import { type FamilyGroup, type Kind, one } from "./family.ts";

/** node_timex_* families: name suffix, TYPE, HELP and the TimexStats field, in node_exporter's order. */
const TIMEX_FAMILIES: [string, Kind, string, keyof TimexStats][] = [
  ["offset_seconds", "gauge", "Time offset in between local system and reference clock.", "offset_seconds"],
  ["frequency_adjustment_ratio", "gauge", "Local clock frequency adjustment.", "frequency_adjustment_ratio"],
  ["maxerror_seconds", "gauge", "Maximum error in seconds.", "maxerror_seconds"],
  ["estimated_error_seconds", "gauge", "Estimated error in seconds.", "estimated_error_seconds"],
  ["status", "gauge", "Value of the status array bits.", "status"],
  ["loop_time_constant", "gauge", "Phase-locked loop time constant.", "loop_time_constant"],
  ["tick_seconds", "gauge", "Seconds between clock ticks.", "tick_seconds"],
  ["pps_frequency_hertz", "gauge", "Pulse per second frequency.", "pps_frequency_hertz"],
  ["pps_jitter_seconds", "gauge", "Pulse per second jitter.", "pps_jitter_seconds"],
  ["pps_shift_seconds", "gauge", "Pulse per second interval duration.", "pps_shift_seconds"],
  ["pps_stability_hertz", "gauge", "Pulse per second stability, average of recent frequency changes.", "pps_stability_hertz"],
  ["pps_jitter_total", "counter", "Pulse per second count of jitter limit exceeded events.", "pps_jitter_total"],
  ["pps_calibration_total", "counter", "Pulse per second count of calibration intervals.", "pps_calibration_total"],
  ["pps_error_total", "counter", "Pulse per second count of calibration errors.", "pps_error_total"],
  ["pps_stability_exceeded_total", "counter", "Pulse per second count of stability limit exceeded events.", "pps_stability_exceeded_total"],
  ["tai_offset_seconds", "gauge", "International Atomic Time (TAI) offset.", "tai_offset_seconds"],
];

export const timeFamilies: FamilyGroup = {
  name: "time",
  types: ["time", "timex"],
  define(d, fam) {
    const time = () => d.get("time");
    fam("node_time_seconds", "gauge", "System time in seconds since epoch (1970).", () => one(time()?.time_seconds));
    fam("node_time_zone_offset_seconds", "gauge", "System time zone offset in seconds.", () => {
      const t = time();
      return t ? [{ labels: { time_zone: t.time_zone }, value: t.time_zone_offset_seconds }] : [];
    });
    fam("node_time_clocksource_available_info", "gauge", "Available clocksources read from '/sys/devices/system/clocksource'.", () =>
      (time()?.clocksources ?? []).flatMap((c) =>
        c.available.map((clocksource) => ({ labels: { clocksource, device: c.device }, value: 1 })),
      ),
    );
    fam("node_time_clocksource_current_info", "gauge", "Current clocksource read from '/sys/devices/system/clocksource'.", () =>
      (time()?.clocksources ?? []).map((c) => ({ labels: { clocksource: c.current, device: c.device }, value: 1 })),
    );
    const timex = () => d.get("timex") ?? undefined;
    fam("node_timex_sync_status", "gauge", "Is clock synchronized to a reliable server (1 = yes, 0 = no).", () =>
      one(timex()?.sync_status),
    );
    for (const [suffix, kind, help, field] of TIMEX_FAMILIES) fam(`node_timex_${suffix}`, kind, help, () => one(timex()?.[field]));
  },
};
