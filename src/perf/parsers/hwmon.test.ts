// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// Unit tests of node_exporter's hwmon rules: sensor file names, name cleaning, chip names from device paths,
// and the family (name, HELP, unit scale) of each sensor element.

import { describe, expect, test } from "bun:test";
import { chipFromDevicePath, cleanMetricName, explodeSensorFilename, hwmonFamilyOf, knownHwmonFamilies } from "./hwmon.ts";

test("explodeSensorFilename", () => {
  expect(explodeSensorFilename("temp1_input")).toEqual({ type: "temp", num: 1, element: "input" });
  expect(explodeSensorFilename("pwm1")).toEqual({ type: "pwm", num: 1, element: "" });
  expect(explodeSensorFilename("power1_average_interval")).toEqual({ type: "power", num: 1, element: "average_interval" });
  expect(explodeSensorFilename("beep_enable")).toEqual({ type: "beep_enable", num: 0, element: "" });
  expect(explodeSensorFilename("update_interval")).toEqual({ type: "update_interval", num: 0, element: "" });
  expect(explodeSensorFilename("12")).toBeUndefined();
});

test("cleanMetricName and chip names", () => {
  expect(cleanMetricName("Core 0\n")).toBe("core_0");
  expect(cleanMetricName("  Package id 0 ")).toBe("package_id_0");
  expect(cleanMetricName("---")).toBe("");
  expect(chipFromDevicePath("/sys/devices/platform/coretemp.0")).toBe("platform_coretemp_0");
  expect(chipFromDevicePath("/sys/devices/pci0000:00/0000:00:18.3")).toBe("pci0000:00_0000:00:18_3");
});

describe("hwmonFamilyOf (node_exporter 1.5 names, HELP and units)", () => {
  test("units and scales", () => {
    expect(hwmonFamilyOf("temp", "input")).toEqual({
      name: "node_hwmon_temp_celsius",
      help: "Hardware monitor for temperature (input)",
      kind: "gauge",
      scale: 0.001,
    });
    expect(hwmonFamilyOf("temp", "crit")?.name).toBe("node_hwmon_temp_crit_celsius");
    expect(hwmonFamilyOf("in", "input")).toMatchObject({ name: "node_hwmon_in_volts", scale: 0.001 });
    expect(hwmonFamilyOf("cpu", "vid")?.name).toBe("node_hwmon_cpu_vid_volts");
    expect(hwmonFamilyOf("fan", "input")).toMatchObject({
      name: "node_hwmon_fan_rpm",
      scale: 1,
      help: "Hardware monitor for fan revolutions per minute (input)",
    });
    expect(hwmonFamilyOf("fan", "div")).toMatchObject({ name: "node_hwmon_fan_div", help: "Hardware monitor fan element div" });
    expect(hwmonFamilyOf("curr", "input")?.name).toBe("node_hwmon_curr_amps");
    expect(hwmonFamilyOf("power", "average")).toMatchObject({ name: "node_hwmon_power_average_watt", scale: 1e-6 });
    expect(hwmonFamilyOf("power", "accuracy")).toMatchObject({ name: "node_hwmon_power_accuracy", scale: 1e-6 });
    expect(hwmonFamilyOf("power", "average_interval")).toMatchObject({ name: "node_hwmon_power_average_interval_seconds", scale: 0.001 });
    expect(hwmonFamilyOf("energy", "input")).toMatchObject({ name: "node_hwmon_energy_joule_total", kind: "counter", scale: 1e-6 });
    expect(hwmonFamilyOf("humidity", "input")?.name).toBe("node_hwmon_humidity");
    expect(hwmonFamilyOf("update_interval", "")).toMatchObject({ name: "node_hwmon_update_interval_seconds", scale: 0.001 });
  });
  test("alarm, fault, beep, label, bare files", () => {
    expect(hwmonFamilyOf("temp", "alarm")).toMatchObject({ name: "node_hwmon_temp_alarm", help: "Hardware sensor alarm status (temp)" });
    expect(hwmonFamilyOf("fan", "fault")?.name).toBe("node_hwmon_fan_fault");
    expect(hwmonFamilyOf("in", "beep")).toMatchObject({
      name: "node_hwmon_in_beep_enabled",
      help: "Hardware monitor sensor has beeping enabled",
    });
    expect(hwmonFamilyOf("temp", "label")).toBeUndefined();
    expect(hwmonFamilyOf("pwm", "")?.name).toBe("node_hwmon_pwm");
    expect(hwmonFamilyOf("pwm", "input", true)?.name).toBe("node_hwmon_pwm_input");
    expect(hwmonFamilyOf("temp", "")?.help).toBe("Hardware monitor for temperature (input)");
    expect(hwmonFamilyOf("temp", "type")).toMatchObject({ name: "node_hwmon_temp_type", help: "Hardware monitor temp element type" });
  });
  test("the declared families have unique names", () => {
    const names = knownHwmonFamilies().map((f) => f.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain("node_hwmon_temp_crit_alarm_celsius");
  });
});
