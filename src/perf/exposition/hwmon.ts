// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// node_hwmon_* from the hwmon collector (node_exporter's hwmon collector): node_hwmon_chip_names,
// node_hwmon_sensor_label and one family per documented sensor element (temp_celsius, fan_rpm, in_volts, ...).

import type { HwmonChip } from "../collectors/hwmon.ts";
import { hwmonFamilyOf, knownHwmonFamilies } from "../parsers/hwmon.ts";
import { parseF64 } from "../parsers/num.ts";
import type { FamilyGroup, Sample } from "./family.ts";

/** Samples of every family name for one hwmon data object (computed once per data, shared by the families). */
const byData = new WeakMap<HwmonChip[], Map<string, Sample[]>>();

export function hwmonSamples(chips: HwmonChip[]): Map<string, Sample[]> {
  const hit = byData.get(chips);
  if (hit) return hit;
  const out = new Map<string, Sample[]>();
  const add = (name: string, s: Sample) => {
    const list = out.get(name);
    if (list) list.push(s);
    else out.set(name, [s]);
  };
  for (const c of chips) {
    if (c.chip_name !== null) add("node_hwmon_chip_names", { labels: { chip: c.chip, chip_name: c.chip_name }, value: 1 });
    for (const s of c.sensors) {
      const labels = { chip: c.chip, sensor: s.sensor };
      if (s.label !== null) add("node_hwmon_sensor_label", { labels: { chip: c.chip, label: s.label, sensor: s.sensor }, value: 1 });
      const hasBare = "" in s.values;
      if (s.type === "beep_enable") {
        add("node_hwmon_beep_enabled", { labels, value: s.values[""] === "1" ? 1 : 0 });
        continue;
      }
      const elements = s.type === "vrm" || s.type === "update_interval" ? [""] : Object.keys(s.values);
      for (const element of elements) {
        const f = hwmonFamilyOf(s.type, element, hasBare);
        const v = parseF64(s.values[element]);
        if (!f || v === undefined) continue;
        add(f.name, { labels, value: v * f.scale });
      }
    }
  }
  byData.set(chips, out);
  return out;
}

export const hwmonFamilies: FamilyGroup = {
  name: "hwmon",
  types: ["hwmon"],
  define(d, fam) {
    const samples = (name: string) => () => {
      const chips = d.get("hwmon");
      return chips ? (hwmonSamples(chips).get(name) ?? []) : [];
    };
    fam("node_hwmon_chip_names", "gauge", "Annotation metric for human-readable chip names", samples("node_hwmon_chip_names"));
    fam("node_hwmon_sensor_label", "gauge", "Label for given chip and sensor", samples("node_hwmon_sensor_label"));
    for (const f of knownHwmonFamilies()) fam(f.name, f.kind, f.help, samples(f.name));
  },
};
