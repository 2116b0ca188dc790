// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// power_supply collector against a fixture /sys (this VM's /sys/class/power_supply is empty): a battery and an
// AC adapter with node_exporter's families and units, and nothing served without supplies.

import { afterAll, expect, test } from "bun:test";
import { metricEvent } from "../../src/perf/collector.ts";
import { PowerSupplyCollector } from "../../src/perf/collectors/power-supply.ts";
import { PrometheusExposition } from "../../src/perf/exposition.ts";
import { parsePowerSupplyValue } from "../../src/perf/parsers/power-supply.ts";
import { cleanupTrees, makeTree, type Node, pathsFor, sig } from "./tree.ts";

afterAll(cleanupTrees);

const PS = "sys/class/power_supply";
const TREE = {
  [`${PS}/BAT0/type`]: "Battery\n",
  [`${PS}/BAT0/status`]: "Discharging\n",
  [`${PS}/BAT0/present`]: "1\n",
  [`${PS}/BAT0/technology`]: "Li-ion\n",
  [`${PS}/BAT0/cycle_count`]: "42\n",
  [`${PS}/BAT0/voltage_now`]: "12123000\n",
  [`${PS}/BAT0/current_now`]: "-1500000\n",
  [`${PS}/BAT0/energy_now`]: "41120000\n",
  [`${PS}/BAT0/capacity`]: "77\n",
  [`${PS}/BAT0/temp`]: "295\n",
  [`${PS}/BAT0/model_name`]: "\n",
  [`${PS}/BAT0/uevent`]: "POWER_SUPPLY_NAME=BAT0\n",
  [`${PS}/AC/type`]: "Mains\n",
  [`${PS}/AC/online`]: "1\n",
};

test("supplies, units and node_exporter's families", async () => {
  const supplies = await new PowerSupplyCollector(pathsFor(makeTree(TREE))).collect(sig());
  expect(supplies.map((s) => s.power_supply)).toEqual(["AC", "BAT0"]);
  expect(supplies[1]!.values).toEqual({
    capacity: 77,
    cyclecount: 42,
    present: 1,
    current_ampere: -1.5,
    energy_watthour: 41.12,
    voltage_volt: 12.123,
    temp_celsius: 29.5,
  });
  expect(supplies[1]!.info).toEqual({ status: "Discharging", technology: "Li-ion", type: "Battery" });
  const ex = new PrometheusExposition();
  ex.accept(metricEvent("power_supply", supplies, "gauge", "n"));
  const lines = (await ex.render()).split("\n");
  expect(lines).toContain('node_power_supply_online{power_supply="AC"} 1');
  expect(lines).toContain('node_power_supply_voltage_volt{power_supply="BAT0"} 12.123');
  expect(lines).toContain('node_power_supply_info{power_supply="AC",type="Mains"} 1');
  expect(lines).toContain('node_power_supply_info{power_supply="BAT0",status="Discharging",technology="Li-ion",type="Battery"} 1');
  expect(lines).toContain("# HELP node_power_supply_capacity capacity value of /sys/class/power_supply/<power_supply>.");
  expect(lines.some((l) => l.startsWith("node_power_supply_charge_"))).toBe(false);
});

test("an empty or missing class serves nothing; a bad value names the file", async () => {
  const trees: Record<string, Node>[] = [{ [PS]: { dir: true } }, { "sys/class/net/lo/mtu": "1\n" }];
  for (const tree of trees) {
    const supplies = await new PowerSupplyCollector(pathsFor(makeTree(tree))).collect(sig());
    expect(supplies).toEqual([]);
    const ex = new PrometheusExposition();
    ex.accept(metricEvent("power_supply", supplies, "gauge", "n"));
    expect(await ex.render()).not.toContain("node_power_supply");
  }
  expect(() => parsePowerSupplyValue("n/a\n", "/sys/class/power_supply/BAT0/capacity")).toThrow("BAT0/capacity: expected an integer");
  await expect(new PowerSupplyCollector(pathsFor(makeTree({ [`${PS}/BAT0/capacity`]: "x\n" }))).collect(sig())).rejects.toThrow(
    "BAT0/capacity: expected an integer",
  );
});
