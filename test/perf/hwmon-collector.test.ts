// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// hwmon collector against a fixture /sys (this VM has no /sys/class/hwmon): chip names from device links,
// name files and hwmonN, labels, units, and nothing served without the class.

import { afterAll, expect, test } from "bun:test";
import { metricEvent } from "../../src/perf/collector.ts";
import { HwmonCollector } from "../../src/perf/collectors/hwmon.ts";
import { PrometheusExposition } from "../../src/perf/exposition.ts";
import { cleanupTrees, makeTree, pathsFor, sig } from "./tree.ts";

afterAll(cleanupTrees);

const CORETEMP = "sys/devices/platform/coretemp.0";
const TREE = {
  [`${CORETEMP}/hwmon/hwmon0/name`]: "coretemp\n",
  [`${CORETEMP}/hwmon/hwmon0/device`]: { symlink: "../../../coretemp.0" },
  [`${CORETEMP}/temp1_input`]: "45000\n",
  [`${CORETEMP}/temp1_label`]: "Package id 0\n",
  [`${CORETEMP}/temp1_crit`]: "100000\n",
  [`${CORETEMP}/temp1_crit_alarm`]: "0\n",
  [`${CORETEMP}/temp2_input`]: "43000\n",
  [`${CORETEMP}/temp2_label`]: "Core 0\n",
  [`${CORETEMP}/power/control`]: "auto\n",
  "sys/class/hwmon/hwmon0": { symlink: "../../devices/platform/coretemp.0/hwmon/hwmon0" },
  "sys/class/hwmon/hwmon1/name": "nct6775\n",
  "sys/class/hwmon/hwmon1/fan1_input": "1200\n",
  "sys/class/hwmon/hwmon1/pwm1": "128\n",
  "sys/class/hwmon/hwmon1/pwm1_enable": "2\n",
  "sys/class/hwmon/hwmon1/in0_input": "1040\n",
  "sys/class/hwmon/hwmon1/beep_enable": "1\n",
  "sys/class/hwmon/hwmon1/fan2_input": "not a number\n",
  "sys/class/hwmon/hwmon2/temp1_input": "-5500\n",
};

test("chips, sensors and node_exporter's families", async () => {
  const paths = pathsFor(makeTree(TREE));
  const chips = await new HwmonCollector(paths).collect(sig());
  expect(chips.map((c) => [c.chip, c.chip_name])).toEqual([
    ["platform_coretemp_0", "coretemp"],
    ["nct6775", "nct6775"],
    ["hwmon2", null],
  ]);
  expect(chips[0]!.sensors.map((s) => [s.sensor, s.label])).toEqual([
    ["temp1", "package_id_0"],
    ["temp2", "core_0"],
  ]);
  const ex = new PrometheusExposition();
  ex.accept(metricEvent("hwmon", chips, "gauge", "n"));
  const lines = (await ex.render()).split("\n");
  const has = (prefix: string) => lines.filter((l) => l.startsWith(prefix));
  expect(has("node_hwmon_chip_names")).toEqual([
    'node_hwmon_chip_names{chip="platform_coretemp_0",chip_name="coretemp"} 1',
    'node_hwmon_chip_names{chip="nct6775",chip_name="nct6775"} 1',
  ]);
  expect(has("node_hwmon_sensor_label")).toEqual([
    'node_hwmon_sensor_label{chip="platform_coretemp_0",label="package_id_0",sensor="temp1"} 1',
    'node_hwmon_sensor_label{chip="platform_coretemp_0",label="core_0",sensor="temp2"} 1',
  ]);
  expect(has("node_hwmon_temp_celsius")).toEqual([
    'node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp1"} 45',
    'node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp2"} 43',
    'node_hwmon_temp_celsius{chip="hwmon2",sensor="temp1"} -5.5',
  ]);
  expect(has("node_hwmon_temp_crit_celsius")).toEqual(['node_hwmon_temp_crit_celsius{chip="platform_coretemp_0",sensor="temp1"} 100']);
  expect(has("node_hwmon_temp_crit_alarm_celsius")).toEqual([
    'node_hwmon_temp_crit_alarm_celsius{chip="platform_coretemp_0",sensor="temp1"} 0',
  ]);
  expect(has("node_hwmon_fan_rpm")).toEqual(['node_hwmon_fan_rpm{chip="nct6775",sensor="fan1"} 1200']);
  expect(has("node_hwmon_pwm")).toEqual([
    'node_hwmon_pwm{chip="nct6775",sensor="pwm1"} 128',
    'node_hwmon_pwm_enable{chip="nct6775",sensor="pwm1"} 2',
  ]);
  expect(has("node_hwmon_in_volts")).toEqual(['node_hwmon_in_volts{chip="nct6775",sensor="in0"} 1.04']);
  expect(has("node_hwmon_beep_enabled")).toEqual(['node_hwmon_beep_enabled{chip="nct6775",sensor="beep_enable0"} 1']);
  expect(lines).toContain("# HELP node_hwmon_temp_celsius Hardware monitor for temperature (input)");
  expect(lines).toContain("# TYPE node_hwmon_fan_rpm gauge");
  // families without a sensor on this host are not served
  expect(lines.some((l) => l.includes("node_hwmon_power_"))).toBe(false);
});

test("no /sys/class/hwmon: no chips and no families", async () => {
  const root = makeTree({ "sys/class/net/lo/mtu": "65536\n" });
  const chips = await new HwmonCollector(pathsFor(root)).collect(sig());
  expect(chips).toEqual([]);
  const ex = new PrometheusExposition();
  ex.accept(metricEvent("hwmon", chips, "gauge", "n"));
  expect(await ex.render()).not.toContain("node_hwmon");
});
