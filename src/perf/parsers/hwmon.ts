// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// The rules of node_exporter 1.5's hwmon collector as pure functions: sensor file names (<type><n>_<element>),
// chip and label cleaning, and the family (name, HELP, TYPE, unit scale) of each sensor element; plus the
// table of the kernel's documented hwmon attributes (Documentation/hwmon/sysfs-interface.rst) the exposition declares.

/** Sensor types node_exporter reads; other files of a hwmon directory are ignored. */
export const HWMON_SENSOR_TYPES = [
  "vrm",
  "beep_enable",
  "update_interval",
  "in",
  "cpu",
  "fan",
  "pwm",
  "temp",
  "curr",
  "power",
  "energy",
  "humidity",
  "intrusion",
] as const;
export type HwmonSensorType = (typeof HWMON_SENSOR_TYPES)[number];

/** "temp1_input" -> {type: "temp", num: 1, element: "input"}; "pwm1" -> element ""; undefined for names it does not match. */
export function explodeSensorFilename(name: string): { type: string; num: number; element: string } | undefined {
  const m = /^([^0-9]+)([0-9]*)?(_(.+))?$/.exec(name);
  if (!m) return undefined;
  return { type: m[1]!, num: m[2] ? Number(m[2]) : 0, element: m[4] ?? "" };
}

/** Lowercase, anything outside [a-z0-9:_] to "_", leading/trailing "_" trimmed (chip names and sensor labels). */
export function cleanMetricName(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9:_]/g, "_")
    .replace(/^_+|_+$/g, "");
}

/** The chip label from the realpath of hwmonN/device: "<parent dir>_<device dir>" cleaned ("platform_coretemp_0"). */
export function chipFromDevicePath(devicePath: string): string | undefined {
  const parts = devicePath.replace(/\/+$/, "").split("/");
  const devName = cleanMetricName(parts[parts.length - 1] ?? "");
  const devType = cleanMetricName(parts[parts.length - 2] ?? "");
  if (devType !== "" && devName !== "") return `${devType}_${devName}`;
  return devName !== "" ? devName : undefined;
}

export interface HwmonFamily {
  name: string;
  help: string;
  kind: "gauge" | "counter";
  /** Multiplier from the sysfs value to the served value. */
  scale: number;
}

/**
 * The family node_exporter 1.5 serves a sensor element in, or undefined when it serves none for it (temp type,
 * label). `hasBare` says whether the sensor also has an element-less file (pwm1 beside pwm1_input).
 */
export function hwmonFamilyOf(type: string, element: string, hasBare = false): HwmonFamily | undefined {
  if (type === "beep_enable") return { name: "node_hwmon_beep_enabled", help: "Hardware beep enabled", kind: "gauge", scale: 1 };
  if (type === "vrm") return { name: "node_hwmon_voltage_regulator_version", help: "Hardware voltage regulator", kind: "gauge", scale: 1 };
  if (type === "update_interval")
    return { name: "node_hwmon_update_interval_seconds", help: "Hardware monitor update interval", kind: "gauge", scale: 0.001 };
  if (element === "label") return undefined;
  let name = `node_hwmon_${type}`;
  if (element === "input") {
    if (hasBare) name += "_input";
  } else if (element !== "") name += `_${cleanMetricName(element)}`;
  const g = (n: string, help: string, scale = 1): HwmonFamily => ({ name: n, help, kind: "gauge", scale });
  if (element === "fault" || element === "alarm") return g(name, `Hardware sensor ${element} status (${type})`);
  if (element === "beep") return g(`${name}_enabled`, "Hardware monitor sensor has beeping enabled");
  if (type === "in" || type === "cpu") return g(`${name}_volts`, `Hardware monitor for voltage (${element})`, 0.001);
  if (type === "temp" && element !== "type") return g(`${name}_celsius`, `Hardware monitor for temperature (${element || "input"})`, 0.001);
  if (type === "curr") return g(`${name}_amps`, `Hardware monitor for current (${element})`, 0.001);
  if (type === "energy")
    return { name: `${name}_joule_total`, help: `Hardware monitor for joules used so far (${element})`, kind: "counter", scale: 1e-6 };
  if (type === "power" && element === "accuracy") return g(name, "Hardware monitor power meter accuracy, as a ratio", 1e-6);
  if (type === "power" && (element === "average_interval" || element === "average_interval_min" || element === "average_interval_max"))
    return g(`${name}_seconds`, `Hardware monitor power usage update interval (${element})`, 0.001);
  if (type === "power") return g(`${name}_watt`, `Hardware monitor for power usage in watts (${element})`, 1e-6);
  if (type === "humidity")
    return g(
      name,
      `Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) (${element})`,
      1e-6,
    );
  if (type === "fan" && (element === "input" || element === "min" || element === "max" || element === "target"))
    return g(`${name}_rpm`, `Hardware monitor for fan revolutions per minute (${element})`);
  return g(name, `Hardware monitor ${type} element ${element}`);
}

const ALARMS = ["alarm", "min_alarm", "max_alarm", "lcrit_alarm", "crit_alarm", "beep", "fault", "enable"];

/** Documented attributes per sensor type ("" is the element-less file: pwm1, vrm, beep_enable, update_interval). */
export const HWMON_KNOWN_ELEMENTS: Record<HwmonSensorType, readonly string[]> = {
  vrm: [""],
  beep_enable: [""],
  update_interval: [""],
  in: ["input", "min", "max", "lcrit", "crit", "average", "lowest", "highest", "rated_min", "rated_max", ...ALARMS],
  cpu: ["vid"],
  fan: ["input", "min", "max", "target", "div", "pulses", ...ALARMS],
  pwm: ["", "enable", "mode", "freq", "auto_channels_temp", ...ALARMS],
  temp: [
    "input",
    "type",
    "max",
    "min",
    "max_hyst",
    "min_hyst",
    "crit",
    "crit_hyst",
    "emergency",
    "emergency_hyst",
    "lcrit",
    "lcrit_hyst",
    "offset",
    "lowest",
    "highest",
    "rated_min",
    "rated_max",
    "emergency_alarm",
    ...ALARMS,
  ],
  curr: ["input", "min", "max", "lcrit", "crit", "average", "lowest", "highest", "rated_min", "rated_max", ...ALARMS],
  power: [
    "average",
    "average_interval",
    "average_interval_max",
    "average_interval_min",
    "average_highest",
    "average_lowest",
    "average_max",
    "average_min",
    "input",
    "input_highest",
    "input_lowest",
    "accuracy",
    "cap",
    "cap_hyst",
    "cap_max",
    "cap_min",
    "max",
    "crit",
    "rated_min",
    "rated_max",
    "cap_alarm",
    ...ALARMS,
  ],
  energy: ["input", "enable"],
  humidity: ["input", "enable"],
  intrusion: ["alarm", "beep"],
};

/** Every family the known elements map to, with the first HELP seen for each name (node_exporter's order of types). */
export function knownHwmonFamilies(): HwmonFamily[] {
  const out = new Map<string, HwmonFamily>();
  for (const type of HWMON_SENSOR_TYPES)
    for (const element of HWMON_KNOWN_ELEMENTS[type]) {
      const f = hwmonFamilyOf(type, element);
      if (f && !out.has(f.name)) out.set(f.name, f);
    }
  return [...out.values()];
}
