// Copyright Antimetal, Inc. All rights reserved.
//
// Use of this source code is governed by a source available license that can be found in the
// LICENSE file or at:
// https://polyformproject.org/wp-content/uploads/2020/06/PolyForm-Shield-1.0.0.txt

// power_supply collector: batteries, AC adapters and UPSes under /sys/class/power_supply (node_power_supply_*).
// No power_supply class or an empty one (servers, VMs): no supplies, nothing served.

import { errorMessage } from "../../util/errors.ts";
import type { HostPaths, PointCollector } from "../collector.ts";
import { errCode } from "../io.ts";
import { POWER_SUPPLY_INFO, POWER_SUPPLY_VALUES, parsePowerSupplyValue } from "../parsers/power-supply.ts";
import { BaseCollector, type CollectorOptions, spec } from "./common.ts";

/** JSON of one supply: values by family suffix in served units, info labels by name. */
export interface PowerSupply {
  power_supply: string;
  values: Record<string, number>;
  info: Record<string, string>;
}

/** Errors procfs skips an attribute for (the driver has no value now). */
const SKIPPED = new Set(["ENOENT", "ENODATA", "EINVAL", "EOPNOTSUPP", "ENOTSUP", "EISDIR"]);

export class PowerSupplyCollector extends BaseCollector implements PointCollector {
  readonly spec = spec("power_supply", "Power Supply Collector", true, true, "2.6.0");
  constructor(paths: HostPaths, opts: CollectorOptions = {}) {
    super(paths, opts, ["sys"]);
  }
  async collect(signal: AbortSignal): Promise<PowerSupply[]> {
    const dir = `${this.paths.sys}/class/power_supply`;
    const names = (await this.io.listOptional(dir, signal)).map((e) => e.name).sort();
    const out: PowerSupply[] = [];
    for (const name of names) {
      const base = `${dir}/${name}`;
      const present = new Set((await this.io.listOptional(base, signal)).map((e) => e.name));
      const read = async (file: string): Promise<string | undefined> => {
        if (!present.has(file)) return undefined;
        try {
          return await this.io.read(`${base}/${file}`, signal);
        } catch (e) {
          if (signal.aborted) throw e;
          if (SKIPPED.has(errCode(e) ?? "")) return undefined;
          throw new Error(`failed to read ${base}/${file}: ${errorMessage(e)}`);
        }
      };
      const values: Record<string, number> = {};
      for (const [suffix, file, scale] of POWER_SUPPLY_VALUES) {
        const text = await read(file);
        if (text !== undefined) values[suffix] = parsePowerSupplyValue(text, `${base}/${file}`) * scale;
      }
      const info: Record<string, string> = {};
      for (const [label, file] of POWER_SUPPLY_INFO) {
        const text = (await read(file))?.trim();
        if (text) info[label] = text;
      }
      out.push({ power_supply: name, values, info });
    }
    return out;
  }
}
