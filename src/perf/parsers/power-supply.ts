// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The attribute files of /sys/class/power_supply/<supply> that node_exporter 1.5's powersupplyclass collector
// serves, the family each one feeds and its unit scale, and the parser of one numeric attribute.

import { parseI64 } from "./num.ts";

/** [family suffix (node_power_supply_<suffix>), sysfs file, scale] in node_exporter's order. */
export const POWER_SUPPLY_VALUES: readonly (readonly [string, string, number])[] = [
  ["authentic", "authentic", 1],
  ["calibrate", "calibrate", 1],
  ["capacity", "capacity", 1],
  ["capacity_alert_max", "capacity_alert_max", 1],
  ["capacity_alert_min", "capacity_alert_min", 1],
  ["cyclecount", "cycle_count", 1],
  ["online", "online", 1],
  ["present", "present", 1],
  ["time_to_empty_seconds", "time_to_empty_now", 1],
  ["time_to_full_seconds", "time_to_full_now", 1],
  // micro-units (µA, µV, µWh, µAh, µW) to A, V, Wh, Ah, W
  ["current_boot", "current_boot", 1e-6],
  ["current_max", "current_max", 1e-6],
  ["current_ampere", "current_now", 1e-6],
  ["energy_empty", "energy_empty", 1e-6],
  ["energy_empty_design", "energy_empty_design", 1e-6],
  ["energy_full", "energy_full", 1e-6],
  ["energy_full_design", "energy_full_design", 1e-6],
  ["energy_watthour", "energy_now", 1e-6],
  ["voltage_boot", "voltage_boot", 1e-6],
  ["voltage_max", "voltage_max", 1e-6],
  ["voltage_max_design", "voltage_max_design", 1e-6],
  ["voltage_min", "voltage_min", 1e-6],
  ["voltage_min_design", "voltage_min_design", 1e-6],
  ["voltage_volt", "voltage_now", 1e-6],
  ["voltage_ocv", "voltage_ocv", 1e-6],
  ["charge_control_limit", "charge_control_limit", 1e-6],
  ["charge_control_limit_max", "charge_control_limit_max", 1e-6],
  ["charge_counter", "charge_counter", 1e-6],
  ["charge_empty", "charge_empty", 1e-6],
  ["charge_empty_design", "charge_empty_design", 1e-6],
  ["charge_full", "charge_full", 1e-6],
  ["charge_full_design", "charge_full_design", 1e-6],
  ["charge_ampere", "charge_now", 1e-6],
  ["charge_term_current", "charge_term_current", 1e-6],
  ["constant_charge_current", "constant_charge_current", 1e-6],
  ["constant_charge_current_max", "constant_charge_current_max", 1e-6],
  ["constant_charge_voltage", "constant_charge_voltage", 1e-6],
  ["constant_charge_voltage_max", "constant_charge_voltage_max", 1e-6],
  ["precharge_current", "precharge_current", 1e-6],
  ["input_current_limit", "input_current_limit", 1e-6],
  ["power_watt", "power_now", 1e-6],
  // tenths of a degree Celsius
  ["temp_celsius", "temp", 0.1],
  ["temp_alert_max_celsius", "temp_alert_max", 0.1],
  ["temp_alert_min_celsius", "temp_alert_min", 0.1],
  ["temp_ambient_celsius", "temp_ambient", 0.1],
  ["temp_ambient_max_celsius", "temp_ambient_max", 0.1],
  ["temp_ambient_min_celsius", "temp_ambient_min", 0.1],
  ["temp_max_celsius", "temp_max", 0.1],
  ["temp_min_celsius", "temp_min", 0.1],
];

/** node_power_supply_info's labels besides power_supply: [label, sysfs file]. Empty values are left out. */
export const POWER_SUPPLY_INFO: readonly (readonly [string, string])[] = [
  ["capacity_level", "capacity_level"],
  ["charge_type", "charge_type"],
  ["health", "health"],
  ["manufacturer", "manufacturer"],
  ["model_name", "model_name"],
  ["serial_number", "serial_number"],
  ["status", "status"],
  ["technology", "technology"],
  ["type", "type"],
  ["usb_type", "usb_type"],
  ["scope", "scope"],
];

/** One numeric power_supply attribute (signed: current_now is negative while discharging); throws naming the file. */
export function parsePowerSupplyValue(text: string, file: string): number {
  const v = parseI64(text.trim());
  if (v === undefined) throw new Error(`${file}: expected an integer, got ${JSON.stringify(text.trim())}`);
  return Number(v);
}
