// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// hwmon collector: the sensor files of every /sys/class/hwmon/hwmonN (and its device directory), named as
// node_exporter's hwmon collector names chips and sensors. No hwmon class (most VMs): no chips.

import * as path from "node:path";
import type { HostPaths, PointCollector } from "../collector.ts";
import { chipFromDevicePath, cleanMetricName, explodeSensorFilename, HWMON_SENSOR_TYPES } from "../parsers/hwmon.ts";
import { BaseCollector, type CollectorOptions, spec } from "./common.ts";

export interface HwmonSensor {
  /** <type><n> ("temp1", "fan2", "beep_enable0"). */
  sensor: string;
  type: string;
  /** The cleaned <sensor>_label, when the chip has one. */
  label: string | null;
  /** Raw text of each element file ("input", "crit", "" for the element-less file), without the trailing newline. */
  values: Record<string, string>;
}

export interface HwmonChip {
  /** Stable chip label: from the device path ("platform_coretemp_0"), else the name file, else hwmonN. */
  chip: string;
  /** The cleaned name file ("coretemp"), null without one. */
  chip_name: string | null;
  sensors: HwmonSensor[];
}

const SENSOR_TYPES = new Set<string>(HWMON_SENSOR_TYPES);

export class HwmonCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("hwmon", "Hardware Monitor Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["sys"]);
  }
  async collect(signal: AbortSignal): Promise<HwmonChip[]> {
    const dir = `${this.paths.sys}/class/hwmon`;
    const out: HwmonChip[] = [];
    const entries = (await this.io.listOptional(dir, signal)).map((e) => e.name).sort();
    for (const name of entries) {
      const hw = `${dir}/${name}`;
      if (!(await this.io.isDir(hw, signal))) continue;
      out.push(await this.chip(hw, signal));
    }
    return out;
  }

  private async chip(hw: string, signal: AbortSignal): Promise<HwmonChip> {
    const nameText = await this.io.readOptional(`${hw}/name`, signal);
    const chipName = nameText === undefined ? "" : cleanMetricName(nameText);
    const device = await this.io.realpath(`${hw}/device`, signal);
    const real = (await this.io.realpath(hw, signal)) ?? hw;
    const chip = (device && chipFromDevicePath(device)) || chipName || cleanMetricName(path.basename(real));
    if (chip === "") throw new Error(`could not derive a monitoring name for ${hw}`);
    const sensors = new Map<string, HwmonSensor>();
    await this.readSensors(hw, sensors, signal);
    if (device !== undefined) await this.readSensors(`${hw}/device`, sensors, signal);
    const list = [...sensors.values()].sort((a, b) => (a.sensor < b.sensor ? -1 : a.sensor > b.sensor ? 1 : 0));
    for (const s of list) {
      const label = s.values.label;
      if (label !== undefined) {
        const clean = cleanMetricName(label);
        s.label = clean === "" ? null : clean;
      }
    }
    return { chip, chip_name: chipName === "" ? null : chipName, sensors: list };
  }

  /** Adds the readable sensor files of `dir`; an unreadable one (EAGAIN from a broken driver, a directory) is skipped as node_exporter does. */
  private async readSensors(dir: string, sensors: Map<string, HwmonSensor>, signal: AbortSignal): Promise<void> {
    const names = (await this.io.listOptional(dir, signal)).map((e) => e.name);
    for (const file of names) {
      const x = explodeSensorFilename(file);
      if (!x || !SENSOR_TYPES.has(x.type)) continue;
      let text: string | undefined;
      try {
        text = await this.io.readOptional(`${dir}/${file}`, signal);
      } catch (e) {
        if (signal.aborted) throw e;
        this.malformed(1);
        continue;
      }
      if (text === undefined) continue;
      const sensor = `${x.type}${x.num}`;
      let s = sensors.get(sensor);
      if (!s) {
        s = { sensor, type: x.type, label: null, values: {} };
        sensors.set(sensor, s);
      }
      s.values[x.element] = text.replace(/\n+$/, "");
    }
  }
}
